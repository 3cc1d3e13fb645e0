"""Real processes for the integration tests: a private redis-server, Celery workers, uvicorn.

Each runs as a child process with its output in a log file; `tail()` shows the end of it when
a test needs to explain a failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from worker.celery_app import worker_command
from worker.storage import Storage

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll `check` until it returns something truthy (returned); fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
            if value:
                return value
        except (OSError, httpx.HTTPError, redis.RedisError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def model_dir_for_tests() -> Path:
    """`DIFFAE_TEST_MODEL_DIR`, else the bundled demo64; skip the test when neither exists."""
    env = os.environ.get("DIFFAE_TEST_MODEL_DIR")
    if env:
        if not (Path(env) / "config.json").is_file():
            pytest.fail(f"DIFFAE_TEST_MODEL_DIR={env} has no config.json")
        return Path(env)
    bundled = REPO / "models" / "weights" / "demo64"
    if (bundled / "config.json").is_file():
        return bundled
    pytest.skip("no model: models/weights/demo64 is not there yet; set DIFFAE_TEST_MODEL_DIR to a model dir")


class Process:
    """A child process with its output in `log`."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                self.args,
                cwd=REPO,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(sig)

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no acks — as when a machine dies."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None

    def tail(self, n: int = 40) -> str:
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return "\n".join(lines[-n:])


def stop_all(*processes: Process) -> None:
    """Signal every process first, then wait for each: shutdowns overlap."""
    for process in processes:
        if isinstance(process, Worker):
            process.signal(signal.SIGQUIT)  # cold shutdown: tests do not wait for the warm one
        else:
            process.signal(signal.SIGTERM)
    for process in processes:
        process.stop()


class RedisServer(Process):
    """A private, non-persistent redis-server on `port` (restartable on the same port)."""

    def __init__(self, log_dir: Path, port: int | None = None) -> None:
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed (make setup installs it)")
        self.port = port or free_port()
        args = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        super().__init__(args, dict(os.environ), log_dir / f"redis-{self.port}.log")

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis.from_url(self.url(db), socket_connect_timeout=1)

    def start(self) -> RedisServer:
        super().start()
        wait_until(lambda: self.client().ping(), 10, f"redis-server on port {self.port}")
        return self


def stack_env(redis_url: str, model_dir: Path, **settings: object) -> dict[str, str]:
    """Environment of a worker or API child: settings as upper-case variables."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "MODEL_DIR")}
    env.update(
        PYTHONPATH=str(REPO),
        REDIS_URL=redis_url,
        MODEL_DIR=str(model_dir),
        TORCH_THREADS="1",
        OMP_NUM_THREADS="1",
        HEARTBEAT_SECONDS="1",
    )
    env.update({k.upper(): str(v) for k, v in settings.items()})
    return env


class Worker(Process):
    """``celery -A worker.celery_app worker --pool=solo`` named `name`."""

    def __init__(self, env: dict[str, str], log_dir: Path, name: str) -> None:
        self.name = name
        args = worker_command(PY, f"{name}@test")
        super().__init__(args, env, log_dir / f"worker-{name}.log")

    def stop(self, timeout: float = 15.0) -> None:
        """Cold shutdown (SIGQUIT): tests do not wait for Celery's warm shutdown."""
        self.signal(signal.SIGQUIT)
        super().stop(timeout)

    @property
    def hostname(self) -> str:
        return f"{self.name}@test"

    def id_in(self, worker_ids: list[str]) -> bool:
        """Whether this worker's node name is among live worker ids ("{node name}/{instance}")."""
        return any(w.rsplit("/", 1)[0] == self.hostname for w in worker_ids)

    def wait_ready(self, client: redis.Redis, timeout: float = 120) -> Worker:
        """Wait for this worker's heartbeat."""
        storage = Storage(client, 60)

        def ready() -> bool:
            if not self.alive:
                pytest.fail(f"worker {self.name} exited:\n{self.tail()}")
            return self.id_in(storage.workers())

        wait_until(ready, timeout, f"worker {self.name}'s heartbeat", interval=0.25)
        return self


class Api(Process):
    """uvicorn serving `backend.app:create_app` on a free port."""

    def __init__(self, env: dict[str, str], log_dir: Path, name: str = "api") -> None:
        self.port = free_port()
        args = [
            PY,
            "-m",
            "uvicorn",
            "backend.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
        ]
        super().__init__(args, env, log_dir / f"{name}-{self.port}.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60) -> Api:
        def ready() -> bool:
            if not self.alive:
                pytest.fail(f"uvicorn exited:\n{self.tail()}")
            return httpx.get(f"{self.url}/openapi.json", timeout=2).status_code == 200

        wait_until(ready, timeout, "uvicorn", interval=0.2)
        return self

    def client(self, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout)


def mentions(r: redis.Redis, needle: str) -> list[str]:
    """Every key of the database whose name or value holds `needle` (strings, hashes, sets,
    sorted sets, lists): what a deletion must leave none of."""
    found = []
    data = needle.encode()
    for key in r.scan_iter(count=1000):
        kind = r.type(key)
        if kind == b"string":
            values = [r.get(key)]
        elif kind == b"hash":
            values = [*r.hkeys(key), *r.hvals(key)]
        elif kind == b"set":
            values = list(r.smembers(key))
        elif kind == b"zset":
            values = list(r.zrange(key, 0, -1))
        elif kind == b"list":
            values = list(r.lrange(key, 0, -1))
        else:
            values = []
        if data in key or any(v is not None and data in v for v in values):
            found.append(key.decode(errors="replace"))
    return found


def wait_job(client: httpx.Client, job_id: str, timeout: float = 120) -> dict[str, Any]:
    """Poll GET /jobs/{id} until a final status; return the job."""

    def final() -> dict[str, Any] | None:
        job: dict[str, Any] = client.get(f"/jobs/{job_id}").json()
        return job if job.get("status") in ("succeeded", "failed") else None

    job: dict[str, Any] = wait_until(final, timeout, f"job {job_id}", interval=0.1)
    return job
