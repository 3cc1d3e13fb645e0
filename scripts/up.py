"""`make up`: run DiffAE Studio locally — Redis, Celery workers and uvicorn — with no downloads.

Redis is the one at ``REDIS_URL`` when it answers, else a private ``redis-server`` started on
that URL's port and stopped with the app. ``WORKERS`` solo workers (default 1) serve the model
``MODEL_DIR`` (default: the bundled ``models/weights/faces64``). The app listens on
``HOST:PORT`` (default 127.0.0.1:8000). Ctrl-C (SIGINT) or SIGTERM stops everything: the API
first, then the workers (a running job goes back to the queue at its next DDIM step), then the
private Redis.

Each part that dies is started again — a worker, the API, the private Redis (empty: nothing is
persisted, and what was stored is reported lost as `store_reset`) — while the others keep going:
meanwhile the API answers 503 `queue_unavailable`, and workers reconnect to the new Redis by
themselves. Only a part that dies RESTART_LIMIT times within RESTART_WINDOW_S stops the app.

    python -m scripts.up
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType
from urllib.parse import urlparse

import redis

from backend.settings import Settings
from worker.celery_app import worker_command

REPO = Path(__file__).resolve().parents[1]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
#: A part that dies this many times within the window stops the app (it would only die again).
RESTART_LIMIT, RESTART_WINDOW_S = 6, 600.0


def say(message: str) -> None:
    print(f"[up] {message}", file=sys.stderr, flush=True)


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except (redis.RedisError, OSError, ValueError):
        return False


class Child:
    """A child process in its own session (so a terminal's Ctrl-C reaches only this script)."""

    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.name, self.args, self.env = name, args, env
        self.proc: subprocess.Popen[bytes] | None = None
        self._restarts: list[float] = []

    def start(self) -> Child:
        self.proc = subprocess.Popen(self.args, cwd=REPO, env=self.env, start_new_session=True)
        return self

    def exited(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def restart(self) -> bool:
        """Start it again; False (not started) when it has died RESTART_LIMIT times lately."""
        now = time.monotonic()
        self._restarts = [t for t in self._restarts if now - t < RESTART_WINDOW_S] + [now]
        if len(self._restarts) >= RESTART_LIMIT:
            return False
        self.start()
        return True

    def stop(self, grace_s: float, then: signal.Signals = signal.SIGKILL) -> None:
        """SIGTERM, then `then` after `grace_s`, then SIGKILL."""
        if self.proc is None or self.proc.poll() is not None:
            return
        for sig, wait_s in ((signal.SIGTERM, grace_s), (then, 5.0), (signal.SIGKILL, 5.0)):
            self.proc.send_signal(sig)
            try:
                self.proc.wait(wait_s)
                return
            except subprocess.TimeoutExpired:
                continue


class StopRequestedError(Exception):
    """SIGINT or SIGTERM arrived."""


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    raise StopRequestedError(signal.Signals(signum).name)


def wait_healthy(url: str, children: list[Child], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for child in children:
            if child.exited() is not None:
                say(f"{child.name} exited with status {child.exited()} while starting")
                return False
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    return False


def supervise(children: list[Child]) -> int:
    """Start again every child that exits, until one dies too often (1) or a signal arrives."""
    while True:
        time.sleep(0.5)
        for child in children:
            code = child.exited()
            if code is None:
                continue
            if not child.restart():
                say(f"{child.name} keeps dying ({RESTART_LIMIT} times in {RESTART_WINDOW_S:.0f} s); "
                    "stopping everything")
                return 1
            say(f"{child.name} exited with status {code}; started it again")


def main() -> int:
    settings = Settings()
    workers_wanted = int(os.environ.get("WORKERS", "1"))
    if workers_wanted < 1:
        say(f"WORKERS={workers_wanted}: at least one worker is needed")
        return 2
    model_dir = settings.model_dir
    if not (model_dir / "config.json").is_file():
        say(
            f"no model at MODEL_DIR={model_dir} (no config.json). The bundled models belong in "
            "models/weights/faces64 and models/weights/demo64; or convert the official weights and "
            "set MODEL_DIR (see README)."
        )
        return 2
    env = {**os.environ, "MODEL_DIR": str(model_dir), "PYTHONPATH": str(REPO)}
    python = sys.executable
    children: list[Child] = []

    redis_url = settings.redis_url
    private_redis: Child | None = None
    if redis_answers(redis_url):
        say(f"using Redis at {redis_url}")
    else:
        parsed = urlparse(redis_url)
        host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
        if host not in LOCAL_HOSTS or shutil.which("redis-server") is None:
            why = "redis-server is not installed" if host in LOCAL_HOSTS else f"{host} is not this machine"
            say(f"no Redis answers at {redis_url}, and a private one cannot be started here ({why})")
            return 2
        say(f"no Redis at {redis_url}; starting a private redis-server on port {port}")
        private_redis = Child(
            "the private redis-server",
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            env,
        ).start()
        children.append(private_redis)
        deadline = time.monotonic() + 10
        while not redis_answers(redis_url):
            if private_redis.exited() is not None or time.monotonic() > deadline:
                say("the private redis-server did not start (is the port taken?)")
                private_redis.stop(2)
                return 1
            time.sleep(0.1)
    env["REDIS_URL"] = redis_url

    names = ["studio@%h"] if workers_wanted == 1 else [f"studio{i}@%h" for i in range(1, workers_wanted + 1)]
    workers = [Child(f"worker {name.split('@')[0]}", worker_command(python, name), env) for name in names]
    api_args = [
        python,
        "-m",
        "uvicorn",
        "backend.app:create_app",
        "--factory",
        "--host",
        settings.host,
        "--port",
        str(settings.port),
    ]
    api = Child("the API", api_args, env)
    url = f"http://{settings.host}:{settings.port}"

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    status = 0
    try:
        for child in (*workers, api):
            child.start()
        children += [*workers, api]
        say(f"starting: model {model_dir}, {len(workers)} worker(s), API on port {settings.port} ...")
        if not wait_healthy(url, [*workers, api], timeout_s=180):
            say("the app did not become healthy; stopping")
            return 1
        say(f"DiffAE Studio is up: {url}  (API docs: {url}/docs). Ctrl-C stops it.")
        status = supervise(children)
    except StopRequestedError as stop:
        say(f"{stop}: stopping")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        api.stop(10)
        # Warm shutdown finishes a short job; past 10 s, SIGKILL. Not Celery's cold shutdown
        # (SIGQUIT): with the solo pool it raises NotImplementedError inside the running job,
        # which would record the job as failed. Killed, the job's message stays unacknowledged
        # and the next worker runs it again (acks_late + reject_on_worker_lost).
        for worker in workers:
            worker.stop(10, then=signal.SIGKILL)
        if private_redis is not None:
            private_redis.stop(5)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        say("stopped")
    return status


if __name__ == "__main__":
    sys.exit(main())
