"""Celery tasks: parse the payload, hand it to `worker.service`; the outcome is the job hash.

Registered by name (`worker.contracts`); the backend sends them by name. Loaded by the worker
only (``include=["worker.tasks"]``), never by the web tier.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from typing import Any

from celery.exceptions import Reject
from celery.signals import worker_ready, worker_shutdown, worker_shutting_down
from pydantic import BaseModel, ValidationError

from worker import service
from worker.celery_app import app
from worker.contracts import PAYLOADS, Payload
from worker.heartbeat import Heartbeat
from worker.runtime import get_runtime
from worker.settings import get_settings


def _run(job: Payload, work: Callable[[Any, Any, service.Progress], BaseModel]) -> None:
    try:
        service.run_job(get_runtime(), job, work)
    except service.WorkerStoppingError:
        # acks_late: the message was not acknowledged yet; put it back for the next worker.
        raise Reject("the worker is shutting down", requeue=True) from None


def _register(name: str, payload_type: type[Payload]) -> None:
    """Task `name`: parse its payload, run its verb (`service.VERBS`)."""
    work = service.VERBS[name]

    def task(**payload: Any) -> None:
        try:
            job = payload_type.model_validate(payload)
        except ValidationError as exc:  # queued by another version of the server
            service.fail_unreadable(get_runtime(), payload.get("job_id"), name, exc)
            return
        _run(job, work)

    task.__name__ = task.__qualname__ = name.rsplit(".", 1)[-1]
    app.task(name=name)(task)


for _name, _payload_type in PAYLOADS.items():
    _register(_name, _payload_type)


@worker_shutting_down.connect
def _stop_running_job(**_: Any) -> None:
    service.request_stop()


_heartbeat: list[Heartbeat] = []


@worker_ready.connect
def _start_heartbeat(sender: Any = None, **_: Any) -> None:
    runtime = get_runtime()
    # One id per process start: a worker restarted under the same node name is another worker.
    runtime.worker_id = f"{getattr(sender, 'hostname', None) or 'worker'}/{secrets.token_hex(3)}"
    beat = Heartbeat(get_settings(), runtime.worker_id)
    beat.start()
    _heartbeat.append(beat)
    # The model and its engine load in the background: the first job never waits for a compile.
    threading.Thread(target=runtime.warm, name="diffae-warm", daemon=True).start()


@worker_shutdown.connect
def _stop_heartbeat(**_: Any) -> None:
    while _heartbeat:
        _heartbeat.pop().stop()
