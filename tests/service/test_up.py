"""`make up` (scripts/up.py) keeps the app up when one part dies (#16 items 3 and 12): its private
Redis killed, the API answers 503 `queue_unavailable` at once and the app comes back by itself
(the loss said as `store_reset`); the API killed, it is started again; two workers with WORKERS=2;
SIGTERM stops everything it started."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.service.conftest import encode
from tests.service.stack import Process, free_port, stack_env, wait_until

pytestmark = pytest.mark.integration


def children(pid: int) -> dict[int, str]:
    """pid → command name of the direct children of process `pid`."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found[int(child)] = Path(f"/proc/{child}/comm").read_text().strip()
    return found


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_up_restarts_what_dies_and_runs_two_workers(
    model_dir: Path, logs: Path, astronaut_jpeg: bytes
) -> None:
    port, redis_port = free_port(), free_port()
    env = stack_env(f"redis://127.0.0.1:{redis_port}/0", model_dir, engine="eager", port=port, workers=2)
    up = Process([sys.executable, "-m", "scripts.up"], env, logs / "up.log").start()
    assert up.proc is not None
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            def healthy() -> bool:
                if not up.alive:
                    pytest.fail(f"make up exited:\n{up.tail()}")
                health = client.get("/healthz")
                return health.status_code == 200 and len(health.json()["workers"]) == 2

            wait_until(healthy, 180, "make up with two workers")
            assert "starting a private redis-server" in up.tail(10_000)
            before = encode(client, astronaut_jpeg, steps=5)
            time.sleep(1.5)  # what was made within a second of a reset is not blamed on it (clock slack)

            redis_pid = next(p for p, name in children(up.proc.pid).items() if name == "redis-server")
            up.signal(signal.SIGSTOP)  # hold make up's restart back, to see the meanwhile
            os.kill(redis_pid, signal.SIGKILL)
            start = time.monotonic()
            refused = client.post("/manipulate", json={"latent_id": before["latent_id"], "edits": {}})
            assert refused.status_code == 503 and refused.json()["error"]["code"] == "queue_unavailable"
            assert time.monotonic() - start < 3, "a request waited long on a dead Redis"
            assert client.get("/healthz").status_code == 503
            up.signal(signal.SIGCONT)
            wait_until(healthy, 60, "the app to come back after its Redis died")
            assert "started it again" in up.tail(10_000)
            lost = client.post("/manipulate", json={"latent_id": before["latent_id"], "edits": {}})
            assert lost.status_code == 410 and lost.json()["error"]["code"] == "store_reset", lost.text
            assert encode(client, astronaut_jpeg, steps=5)["latent_id"]  # the workers consume again

            api_pid = next(p for p in children(up.proc.pid) if "uvicorn" in cmdline(p))
            os.kill(api_pid, signal.SIGKILL)
            wait_until(healthy, 60, "the API to be started again")
            assert encode(client, astronaut_jpeg, steps=5)["latent_id"]
            parts = set(children(up.proc.pid))

        up.signal(signal.SIGTERM)
        wait_until(lambda: not up.alive, 60, "make up to stop")
        assert up.proc is not None and up.proc.returncode == 0, up.tail()
        assert not [p for p in parts if Path(f"/proc/{p}").exists()], "a part outlived make up"
    finally:
        up.stop()
