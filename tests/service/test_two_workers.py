"""Two worker processes on one Redis (#16 item 12): scale-out is the reason for the queue. Jobs
spread over both, a job whose worker is killed finishes on the other within about a minute, and
the model facts and heartbeats stay right with two, and with one left."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.service.conftest import jpeg
from tests.service.stack import Api, RedisServer, Worker, stack_env, stop_all, wait_job, wait_until
from worker.storage import Keys, RunningJob

pytestmark = pytest.mark.integration


@dataclass
class Pair:
    redis: RedisServer
    api: Api
    workers: list[Worker]


@pytest.fixture(scope="module")
def pair(model_dir: Path, logs: Path) -> Iterator[Pair]:
    server = RedisServer(logs).start()
    env = stack_env(server.url(), model_dir, engine="eager")
    workers = [Worker(env, logs, name).start() for name in ("left", "right")]
    stack = Pair(server, Api(env, logs, "api-pair").start(), workers)
    try:
        stack.api.wait_ready()
        for worker in workers:
            worker.wait_ready(server.client())
        yield stack
    finally:
        stop_all(stack.api, *workers)
        server.stop()


def upload(client: httpx.Client, photo: bytes, steps: int) -> str:
    files = {"image": ("a.jpg", photo, "image/jpeg")}
    answer = client.post("/encode", files=files, data={"steps": str(steps)})
    assert answer.status_code == 202, answer.text
    return str(answer.json()["job_id"])


def ran(worker: Worker, job_id: str) -> bool:
    return f"[{job_id}] received" in worker.tail(100_000)


def test_jobs_spread_over_both_workers_and_both_are_reported(pair: Pair, astronaut: Image.Image) -> None:
    with pair.api.client() as client:
        health = client.get("/healthz").json()
        assert len(health["workers"]) == 2 and all(w.id_in(health["workers"]) for w in pair.workers)
        model = client.get("/attributes").json()
        assert model["preset"] == "demo64"
        photos = [jpeg(astronaut.rotate(angle)) for angle in (-6, -3, 0, 3, 6, 9)]
        with ThreadPoolExecutor(6) as pool:
            job_ids = list(pool.map(lambda photo: upload(client, photo, steps=10), photos))
        for job_id in job_ids:
            assert wait_job(client, job_id)["status"] == "succeeded"
        shares = [sum(ran(worker, job_id) for job_id in job_ids) for worker in pair.workers]
        assert sum(shares) == len(job_ids) and min(shares) >= 1, shares  # each ran some, none twice


def test_a_killed_workers_job_finishes_on_the_other(pair: Pair, astronaut: Image.Image) -> None:
    r = pair.redis.client()
    with pair.api.client() as client:
        job_id = upload(client, jpeg(astronaut.rotate(12)), steps=40)  # 80 network calls: time to kill it
        record = wait_until(lambda: r.hget(Keys.RUNNING, job_id), 60, "the job to start", interval=0.02)
        doomed_id = RunningJob.model_validate_json(record).worker
        doomed = next(w for w in pair.workers if w.id_in([doomed_id]))
        survivor = next(w for w in pair.workers if w is not doomed)
        wait_until(lambda: client.get(f"/jobs/{job_id}").json()["progress"] > 0.05, 60, "progress",
                   interval=0.02)
        doomed.kill()
        assert client.get(f"/jobs/{job_id}").json()["status"] == "running"

        # its heartbeat expires (3 s), the survivor's next beat hands the job back
        job = wait_job(client, job_id, timeout=60)
        assert job["status"] == "succeeded", (job, survivor.tail())
        assert ran(survivor, job_id) and "died mid-job; queued again" in survivor.tail(400)
        health = client.get("/healthz").json()
        assert health["status"] == "ok" and len(health["workers"]) == 1 and survivor.id_in(health["workers"])
        assert client.get("/attributes").json()["preset"] == "demo64"
        assert r.hlen(Keys.RUNNING) == 0
