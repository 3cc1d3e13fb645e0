"""The worker's heartbeat: its member of the live-worker set, and the model facts it serves.

`/healthz` and job submission count the live members of one sorted set (hostname → expiry);
`/attributes` reads the published `ModelInfo`. A thread refreshes both, since a solo worker's
main thread is busy for the whole of a job.
"""

from __future__ import annotations

import contextlib
import logging
import threading

import redis

from worker.contracts import ModelInfo
from worker.settings import WorkerSettings
from worker.storage import Storage

log = logging.getLogger(__name__)


class Heartbeat:
    """Refresh this worker's heartbeat every `heartbeat_seconds` (it expires after 3 periods)."""

    def __init__(self, settings: WorkerSettings, hostname: str) -> None:
        self.settings = settings
        self.hostname = hostname
        client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
        self.storage = Storage(client, settings.ttl_seconds)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="diffae-heartbeat", daemon=True)
        try:
            self.model: ModelInfo | None = ModelInfo.from_dir(settings.model_dir)
        except (OSError, ValueError) as exc:
            self.model = None
            log.error("MODEL_DIR is not usable: %s", exc)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        with contextlib.suppress(redis.RedisError):
            self.storage.clear_heartbeat(self.hostname)

    def beat(self) -> None:
        ttl = max(int(3 * self.settings.heartbeat_seconds), 2)
        self.storage.heartbeat(self.hostname, ttl)
        if self.model is not None:
            self.storage.publish_model(self.model, ttl)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.beat()
            except redis.RedisError as exc:  # Redis restarting: keep trying, healthz says 503 meanwhile
                log.warning("heartbeat failed: %s", exc)
            self._stop.wait(self.settings.heartbeat_seconds)
