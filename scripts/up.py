"""`make up`: run DiffAE Studio locally — Redis, one Celery worker and uvicorn — with no downloads.

Redis is the one at ``REDIS_URL`` when it answers, else a private ``redis-server`` started on
that URL's port and stopped with the app. The model is ``MODEL_DIR`` (default: the bundled
``models/weights/faces64``). The app listens on ``HOST:PORT`` (default 127.0.0.1:8000).
Ctrl-C (SIGINT) or SIGTERM stops everything: the API first, then the worker (its running job
goes back to the queue at its next DDIM step), then the private Redis. A worker that dies is
started again.

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

    def start(self) -> Child:
        self.proc = subprocess.Popen(self.args, cwd=REPO, env=self.env, start_new_session=True)
        return self

    def exited(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

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


def main() -> int:
    settings = Settings()
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
            "redis-server",
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

    worker_args = worker_command(python, "studio@%h")
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
    worker = Child("worker", worker_args, env)
    api = Child("api", api_args, env)
    url = f"http://{settings.host}:{settings.port}"

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    status = 0
    try:
        worker.start()
        api.start()
        children += [worker, api]
        say(f"starting: model {model_dir}, worker, API on port {settings.port} ...")
        if not wait_healthy(url, [worker, api], timeout_s=180):
            say("the app did not become healthy; stopping")
            return 1
        say(f"DiffAE Studio is up: {url}  (API docs: {url}/docs). Ctrl-C stops it.")
        restarts: list[float] = []
        while True:
            time.sleep(0.5)
            if api.exited() is not None or (private_redis and private_redis.exited() is not None):
                dead = "the API" if api.exited() is not None else "the private redis-server"
                say(f"{dead} exited; stopping everything")
                status = 1
                break
            if worker.exited() is not None:
                restarts = [t for t in restarts if time.monotonic() - t < 600] + [time.monotonic()]
                if len(restarts) > 5:
                    say("the worker keeps dying (6 times in 10 minutes); stopping everything")
                    status = 1
                    break
                say(f"the worker exited with status {worker.exited()}; starting it again")
                worker.start()
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
        worker.stop(10, then=signal.SIGKILL)
        if private_redis is not None:
            private_redis.stop(5)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        say("stopped")
    return status


if __name__ == "__main__":
    sys.exit(main())
