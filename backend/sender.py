"""Queueing a task by name: the one thing the web tier asks of Celery.

`create_app` takes any `TaskSender`; the service uses `CelerySender`, in-process route tests a
recording one (tests/backend/test_routes.py), so that routes can be tested without a broker.
"""

from __future__ import annotations

from typing import Any, Protocol

from celery import Celery

from worker.celery_app import make_producer
from worker.contracts import QUEUE


class TaskSender(Protocol):
    """Queues task `name` with keyword arguments `kwargs` under id `task_id` (the job id)."""

    def send(self, name: str, kwargs: dict[str, Any], task_id: str) -> None: ...

    def close(self) -> None: ...


class CelerySender:
    """Sends tasks by name through a Celery producer (`worker.celery_app.make_producer`): one
    LPUSH on the broker per task; no result backend, so nothing is subscribed or stored."""

    def __init__(self, redis_url: str) -> None:
        self.producer: Celery = make_producer(redis_url)

    def send(self, name: str, kwargs: dict[str, Any], task_id: str) -> None:
        self.producer.send_task(name, kwargs=kwargs, task_id=task_id, queue=QUEUE)

    def close(self) -> None:
        self.producer.close()
