"""Celery tasks: parse the payload, hand it to `worker.service`, return the stored result.

Registered by name (`worker.contracts`); the backend sends them by name. Loaded by the worker
only (``include=["worker.tasks"]``), never by the web tier.
"""

from __future__ import annotations

from typing import Any

from celery.signals import worker_ready, worker_shutdown

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


@app.task(name=ENCODE)
def encode(**payload: Any) -> dict | None:
    return service.run_job(get_runtime(), EncodeJob.model_validate(payload), service.encode)


@app.task(name=MANIPULATE)
def manipulate(**payload: Any) -> dict | None:
    return service.run_job(get_runtime(), ManipulateJob.model_validate(payload), service.manipulate)


@app.task(name=INTERPOLATE)
def interpolate(**payload: Any) -> dict | None:
    return service.run_job(get_runtime(), InterpolateJob.model_validate(payload), service.interpolate)


@app.task(name=SAMPLE)
def sample(**payload: Any) -> dict | None:
    return service.run_job(get_runtime(), SampleJob.model_validate(payload), service.sample)


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
