"""Jobs: start one (encode, manipulate, interpolate, sample), read it, follow it (SSE)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from backend.events import job_events
from backend.results import present
from backend.routes.deps import ServicesDep, errors
from backend.schemas import (
    GRID_DESCRIPTION,
    SOLVER_DESCRIPTION,
    EncodeAccepted,
    InterpolateRequest,
    JobAccepted,
    JobOut,
    ManipulateRequest,
    SampleAccepted,
    SampleRequest,
)
from models.schedule import Grid, Solver

router = APIRouter(tags=["jobs"])


def accepted(job_id: str) -> JobAccepted:
    """The 202 answer of a queued job."""
    return JobAccepted(job_id=job_id, job_url=f"/jobs/{job_id}", events_url=f"/jobs/{job_id}/events")


@router.post("/encode", status_code=202, response_model=EncodeAccepted,
             responses=errors(403, 413, 415, 422, 503))
async def encode(
    services: ServicesDep,
    image: Annotated[UploadFile, File(description="a JPEG, PNG or WebP photo with a face")],
    face: Annotated[int, Form(description="which face, 0 = the largest")] = 0,
    steps: Annotated[int | None, Form(description="inversion steps (a legal count); default: the "
                                  "solver's encode steps (`limits` of GET /attributes)")] = None,
    render_steps: Annotated[int | None, Form(description="steps of the reconstruction, i.e. the T "
                                         "the edits will use; default: the solver's steps")] = None,
    solver: Annotated[Solver | None, Form(description=SOLVER_DESCRIPTION)] = None,
    grid: Annotated[Grid | None, Form(description=GRID_DESCRIPTION)] = None,
) -> EncodeAccepted:
    """Upload a photo: detect and FFHQ-align a face, then encode it into a latent (async job).

    Answers with the job and the upload's `latent_id`. The job's result holds the aligned crop,
    its reconstruction (also pasted back into the photo) and every face found.
    """
    data = await image.read(services.settings.max_upload_bytes + 1)  # one byte more says "too large"
    job = await run_in_threadpool(services.studio.encode, data, face, steps, image.size, render_steps,
                                  solver, grid)
    return EncodeAccepted(**accepted(job.job_id).model_dump(), latent_id=job.latent_id)


@router.post("/manipulate", status_code=202, response_model=JobAccepted,
             responses=errors(403, 404, 410, 422, 503))
def manipulate(body: ManipulateRequest, services: ServicesDep) -> JobAccepted:
    """Edit a latent along attribute directions; the result has the crop and the pasted-back photo
    (and, with a `strip`, one crop per amount of it, rendered in the same batch).

    An identical request (same latent, edits, steps, solver, grid and strip) answers with the
    earlier job. While the job renders, its event stream sends `event: preview` events (module
    docs of GET /jobs/{id}/events).
    """
    return accepted(services.studio.manipulate(body))


@router.post("/interpolate", status_code=202, response_model=JobAccepted,
             responses=errors(403, 404, 410, 422, 503))
def interpolate(body: InterpolateRequest, services: ServicesDep) -> JobAccepted:
    """Morph between two latents; the result has one image per alpha and an animated GIF."""
    return accepted(services.studio.interpolate(body))


@router.post("/sample", status_code=202, response_model=SampleAccepted, responses=errors(403, 409, 422, 503))
def sample(body: SampleRequest, services: ServicesDep) -> SampleAccepted:
    """Draw new faces with the latent DPM (models that have one; `can_sample` in /attributes); the
    answer names the faces' latent ids at once."""
    job_id, latent_ids = services.studio.sample(body)
    return SampleAccepted(**accepted(job_id).model_dump(), latent_ids=latent_ids)


@router.get("/jobs/{job_id}", response_model=JobOut, responses=errors(404, 410, 503))
def job(job_id: str, services: ServicesDep) -> JobOut:
    """A job's status, progress (0..1), and its result or error; while it waits, how many jobs
    queued before it still wait."""
    state = services.jobs.get(job_id)
    return present(state, services.jobs.queue_position(job_id) if state.status == "queued" else None)


@router.delete("/jobs/{job_id}", status_code=204, response_class=Response,
               responses=errors(403, 404, 410, 503))
def cancel(job_id: str, services: ServicesDep) -> Response:
    """Cancel a job that has not ended (e.g. an edit a newer slider move replaced): a queued job
    never runs, a running one stops at its next step; it reads "failed" with code `cancelled`.
    A job that has ended is left as it is (204 all the same)."""
    services.jobs.cancel(job_id, "cancelled by its client (DELETE /jobs/{id}), e.g. replaced by a newer edit")
    return Response(status_code=204)


_SSE: dict[int | str, dict[str, Any]] = {200: {"content": {"text/event-stream": {}}}}


@router.get("/jobs/{job_id}/events", responses={**errors(404, 410, 503), **_SSE})
def events(job_id: str, services: ServicesDep) -> StreamingResponse:
    """Server-sent events: one `data:` line with the job (as GET /jobs/{id}) per change, from
    its current state until "succeeded" or "failed"; then the stream ends. While an edit or an
    encode renders, named events `event: preview` carry `data: {"step", "total", "image"}`: the
    step's predicted final image, a small data URL (WebP or PNG), never stored."""
    services.jobs.get(job_id)  # 404 before the stream starts
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    stream = job_events(services.events, job_id)
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)
