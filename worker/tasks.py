"""Celery tasks: parse the payload, hand it to `worker.service`; the outcome is the job hash.

Registered by name (`worker.contracts`); the backend sends them by name. Loaded by the worker
only (``include=["worker.tasks"]``), never by the web tier.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from celery.exceptions import Reject
from celery.signals import worker_ready, worker_shutdown, worker_shutting_down
from pydantic import BaseModel

from worker import service
from worker.celery_app import app
from worker.contracts import (
    ENCODE,
    INTERPOLATE,
    MANIPULATE,
    SAMPLE,
    EncodeJob,
    InterpolateJob,
    ManipulateJob,
    SampleJob,
)
from worker.heartbeat import Heartbeat
from worker.runtime import get_runtime
from worker.settings import get_settings

J = TypeVar("J", EncodeJob, ManipulateJob, InterpolateJob, SampleJob)


def _run(job: J, work: Callable[[Any, J, service.Progress], BaseModel]) -> None:
    try:
        service.run_job(get_runtime(), job, work)
    except service.WorkerStoppingError:
        # acks_late: the message was not acknowledged yet; put it back for the next worker.
        raise Reject("the worker is shutting down", requeue=True) from None


@app.task(name=ENCODE)
def encode(**payload: Any) -> None:
    _run(EncodeJob.model_validate(payload), service.encode)


@app.task(name=MANIPULATE)
def manipulate(**payload: Any) -> None:
    _run(ManipulateJob.model_validate(payload), service.manipulate)


@app.task(name=INTERPOLATE)
def interpolate(**payload: Any) -> None:
    _run(InterpolateJob.model_validate(payload), service.interpolate)


@app.task(name=SAMPLE)
def sample(**payload: Any) -> None:
    _run(SampleJob.model_validate(payload), service.sample)


@worker_shutting_down.connect
def _stop_running_job(**_: Any) -> None:
    service.request_stop()


_heartbeat: list[Heartbeat] = []


@worker_ready.connect
def _start_heartbeat(sender: Any = None, **_: Any) -> None:
    beat = Heartbeat(get_settings(), getattr(sender, "hostname", None) or "worker")
    beat.start()
    _heartbeat.append(beat)


@worker_shutdown.connect
def _stop_heartbeat(**_: Any) -> None:
    while _heartbeat:
        _heartbeat.pop().stop()
