"""The worker's heartbeat: its member of the live-worker set, the model facts it serves, and the
hand-back of jobs whose worker died.

`/healthz` and job submission count the live members of one sorted set (worker id → expiry);
`/attributes` reads the published `ModelInfo`. A thread refreshes both, since a solo worker's
main thread is busy for the whole of a job.

A worker that dies mid-job (SIGKILL, out of memory, a lost machine) acknowledges nothing, and
Redis would hand its message to another worker only after the visibility timeout (hours, since
it must exceed the longest job). Instead every worker's heartbeat looks for running jobs whose
worker's heartbeat expired (`JobStore.reap`) and queues each again at once, or fails it with
`worker_lost` once it has cost MAX_REDELIVERIES + 1 workers (a job that kills every worker that
takes it). So a job is back in the queue within one heartbeat TTL plus one period (~20 s by
default) of its worker's death, whichever worker is left, including the dead one restarted.
"""

from __future__ import annotations

import contextlib
import logging
import threading

import redis
from celery import Celery

from models.errors import StudioError
from worker.celery_app import make_producer
from worker.contracts import QUEUE, JobError, ModelInfo
from worker.settings import WorkerSettings
from worker.storage import JobStore, LostJob, Storage

log = logging.getLogger(__name__)


class Heartbeat:
    """Refresh this worker's heartbeat every `heartbeat_seconds` (it expires after 3 periods),
    and hand back the jobs of dead workers.

    Args:
        settings: the worker's settings.
        worker_id: this worker process's member of the live set ("{node name}/{instance}").
    """

    def __init__(self, settings: WorkerSettings, worker_id: str) -> None:
        self.settings = settings
        self.worker_id = worker_id
        client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
        self.storage = Storage(client, settings.ttl_seconds)
        self.jobs = JobStore(client, settings.ttl_seconds)
        self._producer: Celery | None = None
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
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        with contextlib.suppress(redis.RedisError):
            self.storage.clear_heartbeat(self.worker_id)
        if self._producer is not None:
            self._producer.close()

    def beat(self) -> None:
        ttl = max(int(3 * self.settings.heartbeat_seconds), 2)
        self.storage.heartbeat(self.worker_id, ttl)
        if self.model is not None:
            self.storage.publish_model(self.model, ttl)
        for lost in self.jobs.reap():
            self.hand_back(lost)

    def hand_back(self, lost: LostJob) -> None:
        """Queue a job whose worker died again ("queued", progress 0, its task sent anew under the
        same id: the job and its image names stay the same), or fail it with `worker_lost` when it
        has already cost more than MAX_REDELIVERIES workers."""
        job_id, dead = lost.job_id, lost.running.worker
        try:
            state = self.jobs.get(job_id)
        except StudioError:  # deleted or expired meanwhile: nothing to hand back
            return
        if lost.losses > self.settings.max_redeliveries:
            message = (f"the worker running this job died ({dead}), the {lost.losses}th to die on it; "
                       "it was given up: try a smaller photo or fewer steps, or tell the operator")
            error = JobError(code="worker_lost", message=message)
            self.jobs.save(state.model_copy(update={"status": "failed", "error": error}))
            log.error("job %s failed: %s", job_id, message)
            return
        self.jobs.save(state.model_copy(update={"status": "queued", "progress": 0.0}))
        if self._producer is None:
            self._producer = make_producer(self.settings.redis_url)
        self._producer.send_task(lost.running.task, kwargs=lost.running.payload, task_id=job_id, queue=QUEUE)
        log.warning("job %s: its worker %s died mid-job; queued again (loss %d)", job_id, dead, lost.losses)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.beat()
            except redis.RedisError as exc:  # Redis restarting: keep trying, healthz says 503 meanwhile
                log.warning("heartbeat failed: %s", exc)
            except Exception:  # never let the heartbeat thread die: the worker would look dead
                log.exception("heartbeat failed")
            self._stop.wait(self.settings.heartbeat_seconds)
