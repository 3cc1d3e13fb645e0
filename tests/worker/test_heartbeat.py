"""`worker.heartbeat.Heartbeat` on a real Redis: a job whose worker died is queued again (a real
Celery message on the broker's queue) or, once it has cost too many workers, failed."""

from __future__ import annotations

import json

import pytest
import redis

from tests.service.stack import RedisServer
from worker.contracts import QUEUE, JobState, SampleJob
from worker.heartbeat import Heartbeat
from worker.settings import WorkerSettings
from worker.storage import JobStore, Keys, RunningJob, Storage

pytestmark = pytest.mark.integration

JOB = SampleJob(job_id="f" * 32, image_key="d" * 32, n=1, steps=2, latent_steps=2, seed=3)


def started(r: redis.Redis, worker: str) -> None:
    """JOB running on `worker`, whose heartbeat has already expired."""
    queued = JobState(job_id=JOB.job_id, kind="sample", status="queued", progress=0.0)
    assert Storage(r, 60).claim(queued, require_worker=False) is not None
    running = RunningJob(worker=worker, task="diffae.sample", payload=JOB.model_dump(mode="json"))
    assert JobStore(r).save(queued.model_copy(update={"status": "running", "progress": 0.4}), running)


def queued_messages(r: redis.Redis) -> list[dict]:
    return [json.loads(m) for m in r.lrange(QUEUE, 0, -1)]  # type: ignore[union-attr]


def test_a_beat_queues_the_job_of_a_dead_worker_again(redis_server: RedisServer, r: redis.Redis) -> None:
    started(r, "dead@test/1")
    beat = Heartbeat(WorkerSettings(redis_url=redis_server.url(), heartbeat_seconds=1), "alive@test/2")
    try:
        beat.beat()
        state = JobStore(r).get(JOB.job_id)
        assert (state.status, state.progress, state.error) == ("queued", 0.0, None)
        messages = queued_messages(r)
        sent = [(m["headers"]["task"], m["headers"]["id"]) for m in messages]
        assert sent == [("diffae.sample", JOB.job_id)]
        assert Storage(r, 60).workers() == ["alive@test/2"] and r.hlen(Keys.RUNNING) == 0
        beat.beat()
        assert len(queued_messages(r)) == 1  # handed back once
    finally:
        beat.stop()


def test_a_job_that_keeps_killing_workers_fails_with_worker_lost(
    redis_server: RedisServer, r: redis.Redis
) -> None:
    started(r, "dead@test/1")
    r.hset(Keys.job(JOB.job_id), "attempts", 2)  # two workers died on it before
    beat = Heartbeat(WorkerSettings(redis_url=redis_server.url(), max_redeliveries=2), "alive@test/2")
    try:
        beat.beat()
        state = JobStore(r).get(JOB.job_id)
        assert state.status == "failed" and state.error is not None and state.error.code == "worker_lost"
        assert "dead@test/1" in state.error.message and queued_messages(r) == []
    finally:
        beat.stop()
