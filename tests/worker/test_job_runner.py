"""`service.run_job`: the job life cycle on a real Redis, with stand-in work (no model needed)."""

from __future__ import annotations

import threading
import time

import pytest
import redis
from pydantic import BaseModel

from models.errors import UnknownJobError, UnknownLatentError
from tests.service.stack import RedisServer
from worker import service
from worker.contracts import ENCODE, EncodeJob, JobState
from worker.runtime import Runtime
from worker.settings import WorkerSettings
from worker.storage import Keys, RunningJob

pytestmark = pytest.mark.integration

JOB = EncodeJob(job_id="f" * 32, image_key="d" * 32, latent_id="e" * 32, steps=4)


class Done(BaseModel):
    value: int


@pytest.fixture
def rt(redis_server: RedisServer, r: redis.Redis) -> Runtime:
    settings = WorkerSettings(redis_url=redis_server.url(), soft_time_limit_seconds=1, time_limit_seconds=60)
    runtime = Runtime(settings)
    queued = JobState(job_id=JOB.job_id, kind="encode", status="queued", progress=0.0)
    assert runtime.storage.claim(queued, require_worker=False) is not None
    return runtime


def gone(rt: Runtime) -> bool:
    try:
        rt.jobs.get(JOB.job_id)
    except UnknownJobError:
        return True
    return False


def test_success_records_progress_and_result(rt: Runtime) -> None:
    seen: list[float] = []

    def work(rt: Runtime, job: EncodeJob, progress: service.Progress) -> Done:
        for i in range(1, job.steps + 1):
            progress(i, job.steps)
            seen.append(rt.jobs.get(job.job_id).progress)
        return Done(value=42)

    assert service.run_job(rt, JOB, work) == {"value": 42}
    assert seen == sorted(seen) and seen[0] == 0.25 and seen[-1] < 1.0
    state = rt.jobs.get(JOB.job_id)
    assert (state.status, state.progress, state.result, state.error) == (
        "succeeded",
        1.0,
        {"value": 42},
        None,
    )


def test_a_redelivered_job_is_answered_from_its_stored_result(rt: Runtime) -> None:
    calls = []

    def work(rt: Runtime, job: EncodeJob, progress: service.Progress) -> Done:
        calls.append(job.job_id)
        return Done(value=len(calls))

    assert service.run_job(rt, JOB, work) == {"value": 1}
    assert service.run_job(rt, JOB, work) == {"value": 1}
    assert len(calls) == 1


def test_domain_errors_become_the_jobs_error(rt: Runtime) -> None:
    def work(rt: Runtime, job: EncodeJob, progress: service.Progress) -> Done:
        raise UnknownLatentError("latent gone")

    assert service.run_job(rt, JOB, work) is None
    state = rt.jobs.get(JOB.job_id)
    assert state.status == "failed" and state.error is not None
    assert (state.error.code, state.error.message) == ("unknown_latent", "latent gone")


def test_a_bug_fails_the_job_with_a_message(rt: Runtime) -> None:
    def work(rt: Runtime, job: EncodeJob, progress: service.Progress) -> Done:
        raise ZeroDivisionError("oops")

    assert service.run_job(rt, JOB, work) is None
    error = rt.jobs.get(JOB.job_id).error
    assert error is not None and error.code == "job_failed" and "ZeroDivisionError" in error.message


def test_the_soft_time_limit_stops_the_job_between_steps(rt: Runtime) -> None:
    steps = []

    def work(rt: Runtime, job: EncodeJob, progress: service.Progress) -> Done:
        for i in range(1, 100):
            time.sleep(0.05)
            progress(i, 100)
            steps.append(i)
        return Done(value=0)

    start = time.monotonic()
    assert service.run_job(rt, JOB, work) is None
    assert time.monotonic() - start < 3
    error = rt.jobs.get(JOB.job_id).error
    assert error is not None and error.code == "timeout" and 5 < len(steps) < 99


def test_a_deleted_job_is_skipped(rt: Runtime) -> None:
    rt.jobs.delete(JOB.job_id)

    def work(rt: Runtime, job: EncodeJob, progress: service.Progress) -> Done:
        raise AssertionError("must not run")

    assert service.run_job(rt, JOB, work) is None
    assert gone(rt)


def test_deleting_a_running_job_stops_it_at_the_next_step(rt: Runtime) -> None:
    steps = []

    def work(rt: Runtime, job: EncodeJob, progress: service.Progress) -> Done:
        for i in range(1, 11):
            if i == 3:
                rt.jobs.delete(job.job_id)  # DELETE /latents/{id} while the job runs
            progress(i, 10)
            steps.append(i)
        return Done(value=0)

    assert service.run_job(rt, JOB, work) is None
    assert steps == [1, 2] and gone(rt)


def test_a_stopping_worker_hands_the_job_back_at_the_next_step(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "_STOPPING", threading.Event())  # this process keeps running
    steps = []

    def work(rt: Runtime, job: EncodeJob, progress: service.Progress) -> Done:
        for i in range(1, 11):
            if i == 3:
                service.request_stop()  # the worker_shutting_down signal, mid-job
            progress(i, 10)
            steps.append(i)
        return Done(value=0)

    with pytest.raises(service.WorkerStoppingError):
        service.run_job(rt, JOB, work)
    assert steps == [1, 2]
    state = rt.jobs.get(JOB.job_id)
    assert (state.status, state.progress, state.error, state.result) == ("queued", 0.0, None, None)


def test_a_running_job_is_recorded_with_its_worker_until_it_ends(rt: Runtime, r: redis.Redis) -> None:
    """What a heartbeat needs to hand the job back should this worker die (#16 item 2)."""
    seen: list[RunningJob] = []

    def work(rt: Runtime, job: EncodeJob, progress: service.Progress) -> Done:
        progress(1, 2)
        seen.append(RunningJob.model_validate_json(r.hget(Keys.RUNNING, job.job_id)))  # type: ignore[arg-type]
        raise UnknownLatentError("latent gone")

    rt.worker_id = "w@test/abc"
    assert service.run_job(rt, JOB, work) is None
    assert seen == [RunningJob(worker="w@test/abc", task=ENCODE, payload=JOB.model_dump(mode="json"))]
    assert r.hlen(Keys.RUNNING) == 0  # failed: no longer running anywhere


def test_a_message_this_worker_cannot_read_fails_its_job(rt: Runtime) -> None:
    """A message queued by another version of the server (e.g. without the image key) must not
    leave its job "queued" until it expires."""
    service.fail_unreadable(rt, JOB.job_id, "diffae.encode", ValueError("image_key: field required"))
    state = rt.jobs.get(JOB.job_id)
    assert state.status == "failed" and state.error is not None and state.error.code == "job_failed"
    service.fail_unreadable(rt, None, "diffae.encode", ValueError("no job id at all"))  # nothing to fail


def test_a_cancelled_job_is_skipped_or_stopped_at_its_next_step(rt: Runtime) -> None:
    """#17 item 6: cancelling a superseded edit frees the worker for the one that replaced it."""
    calls: list[int] = []

    def work(rt: Runtime, job: EncodeJob, progress: service.Progress) -> Done:
        for i in range(1, 5):
            calls.append(i)
            if i == 2:
                rt.jobs.cancel(job.job_id, "replaced")  # while it runs
            progress(i, 4)
        return Done(value=1)

    assert service.run_job(rt, JOB, work) is None
    assert calls == [1, 2]  # stopped at the step after the cancellation
    state = rt.jobs.get(JOB.job_id)
    assert state.status == "failed" and state.error is not None and state.error.code == "cancelled"
    assert service.run_job(rt, JOB, work) is None and calls == [1, 2]  # a queued copy never runs
