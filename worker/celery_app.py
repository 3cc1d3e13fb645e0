"""The Celery application: Redis as broker (no result backend), settings for long jobs.

``celery -A worker.celery_app worker --pool=solo`` runs a worker (one per GPU: CUDA does not
survive a fork). Configuration is a promise evaluated when Celery first reads it, so importing
this module reads no environment and touches no model. The backend builds its own producer
with `make_producer` and sends tasks by name.

Results are not Celery's business: a task's outcome is its job hash (`worker.storage`), which
the web tier reads, so tasks ignore their return value and no result backend is configured
(nothing is written twice, and sending a task subscribes to no result channel).
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from worker.contracts import QUEUE
from worker.settings import WorkerSettings, get_settings


def _common(redis_url: str) -> dict[str, Any]:
    return {
        "broker_url": redis_url,
        "task_ignore_result": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_default_queue": QUEUE,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {"socket_connect_timeout": 2},
    }


def celery_config(settings: WorkerSettings) -> dict[str, Any]:
    """Worker configuration: late acks, prefetch 1, time limits, redelivery after a lost worker."""
    visibility = settings.visibility_timeout_seconds
    transport = {
        "visibility_timeout": visibility,
        "socket_connect_timeout": 2,
        # Sweep for messages of dead workers often enough to honour a short visibility timeout.
        "unacked_restore_interval": max(1, min(60, visibility // 2)),
        "unacked_restore_throttle": 1,
    }
    return {
        **_common(settings.redis_url),
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": settings.soft_time_limit_seconds,
        "task_time_limit": settings.time_limit_seconds,
        "broker_transport_options": transport,
        "worker_hijack_root_logger": False,
        "worker_cancel_long_running_tasks_on_connection_loss": False,
    }


def worker_command(python: str, name: str) -> list[str]:
    """The command line of one worker process (scripts/up.py, the tests; docker-compose.yml
    spells the same): solo pool, our queue, no mingle/gossip chatter, node name `name`."""
    return [python, "-m", "celery", "-A", "worker.celery_app", "worker", "--pool=solo",
            "--loglevel=info", "--without-mingle", "--without-gossip", "-Q", QUEUE, "-n", name]


def make_producer(redis_url: str) -> Celery:
    """A Celery app for sending tasks by name only (the backend's side: no tasks, no worker)."""
    app = Celery("diffae-producer", set_as_current=False)
    app.conf.update(
        **_common(redis_url),
        # Fail fast when Redis is down (the request answers 503), but survive one reconnect.
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0.1,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        broker_connection_timeout=2,
    )
    return app


app = Celery("diffae", include=["worker.tasks"])
app.add_defaults(lambda: celery_config(get_settings()))
