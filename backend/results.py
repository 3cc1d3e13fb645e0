"""Jobs as the API shows them: the worker's results name images by id; here each id becomes the
URL the image is served at, so that `GET /jobs/{id}` and every server-sent event carry `*_url`
fields and nothing below the web tier knows the API's paths."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backend.schemas import EncodeOut, InterpolateOut, JobOut, ManipulateOut, SampleOut
from worker.contracts import EncodeResult, InterpolateResult, JobState, ManipulateResult, SampleResult

Out = EncodeOut | ManipulateOut | InterpolateOut | SampleOut


def image_url(image_id: str) -> str:
    """The API path of a stored image (`GET /images/{id}`)."""
    return f"/images/{image_id}"


def _encode(raw: dict[str, Any]) -> EncodeOut:
    r = EncodeResult.model_validate(raw)
    return EncodeOut(
        latent_id=r.latent_id,
        aligned_url=image_url(r.aligned_id),
        reconstruction_url=image_url(r.reconstruction_id),
        photo_url=image_url(r.photo_id),
        faces=r.faces,
        face=r.face,
        preset=r.preset,
        image_size=r.image_size,
        steps=r.steps,
        render_steps=r.render_steps,
    )


def _manipulate(raw: dict[str, Any]) -> ManipulateOut:
    r = ManipulateResult.model_validate(raw)
    return ManipulateOut(
        latent_id=r.latent_id,
        edits=r.edits,
        steps=r.steps,
        image_url=image_url(r.image_id),
        photo_url=image_url(r.photo_id),
        photo_replaced_url=image_url(r.photo_replaced_id),
    )


def _interpolate(raw: dict[str, Any]) -> InterpolateOut:
    r = InterpolateResult.model_validate(raw)
    return InterpolateOut(
        latent_ids=r.latent_ids,
        alphas=r.alphas,
        steps=r.steps,
        image_urls=[image_url(i) for i in r.image_ids],
        gif_url=image_url(r.gif_id),
    )


def _sample(raw: dict[str, Any]) -> SampleOut:
    r = SampleResult.model_validate(raw)
    return SampleOut(seed=r.seed, steps=r.steps, image_urls=[image_url(i) for i in r.image_ids])


_PRESENT: dict[str, Callable[[dict[str, Any]], Out]] = {
    "encode": _encode,
    "manipulate": _manipulate,
    "interpolate": _interpolate,
    "sample": _sample,
}


def present(state: JobState) -> JobOut:
    """The job as `GET /jobs/{id}` and its events show it."""
    result = _PRESENT[state.kind](state.result) if state.result is not None else None
    return JobOut(job_id=state.job_id, kind=state.kind, status=state.status, progress=state.progress,
                  result=result, error=state.error)
