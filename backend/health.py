"""Liveness: Redis answers and at least one worker's heartbeat is fresh."""

from __future__ import annotations

import redis

from backend.schemas import HealthOut
from worker.contracts import JobError
from worker.storage import Storage


def health(storage: Storage) -> HealthOut:
    """`ok` with the live workers and the model they published, else `unavailable` and why."""
    try:
        workers = storage.workers()
        model = storage.published_model()
    except redis.RedisError as exc:
        error = JobError(code="queue_unavailable", message=f"Redis does not answer ({exc})")
        return HealthOut(status="unavailable", redis=False, workers=[], error=error)
    if not workers:
        error = JobError(code="queue_unavailable", message="no worker is running (no heartbeat in Redis)")
        return HealthOut(status="unavailable", redis=True, workers=[], error=error)
    return HealthOut(status="ok", redis=True, workers=workers, model=model.preset if model else None)
