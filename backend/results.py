"""Jobs as the API shows them: the worker's results name images by id; here each id becomes the
URL the image is served at, so that `GET /jobs/{id}` and every server-sent event carry `*_url`
fields and nothing below the web tier knows the API's paths."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from backend.schemas import SERVED, JobOut, url_name
from worker.contracts import IMAGE, RESULTS, JobState


def image_url(image_id: str) -> str:
    """The API path of a stored image (`GET /images/{id}`)."""
    return f"/images/{image_id}"


def present_result(kind: str, raw: dict[str, Any]) -> BaseModel:
    """A stored result of a `kind` job with each image id replaced by its URL."""
    model = RESULTS[kind]
    result = model.model_validate(raw)
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        value = getattr(result, name)
        if IMAGE in info.metadata:
            urls = (None if value is None else image_url(value) if isinstance(value, str)
                    else [image_url(i) for i in value])
            fields[url_name(name)] = urls
        else:
            fields[name] = value
    return SERVED[kind](**fields)


def present(state: JobState, queue_position: int | None = None) -> JobOut:
    """The job as `GET /jobs/{id}` and its events show it."""
    result = present_result(state.kind, state.result) if state.result is not None else None
    return JobOut(job_id=state.job_id, kind=state.kind, status=state.status, progress=state.progress,
                  queue_position=queue_position,
                  result=result, error=state.error)
