"""Directions taught from examples: teach one (async job), export it, import it, delete it. An edit
names one as `custom:{id}` in POST /manipulate's `edits`, like a built-in attribute."""

from __future__ import annotations

from fastapi import APIRouter, Response

from backend.routes.deps import ServicesDep, errors
from backend.routes.jobs import accepted
from backend.schemas import DirectionIn, DirectionOut, JobAccepted, TeachRequest
from worker.contracts import CUSTOM

router = APIRouter(tags=["directions"])


@router.post("/directions", status_code=202, response_model=JobAccepted,
             responses=errors(403, 404, 410, 422, 503))
def teach(body: TeachRequest, services: ServicesDep) -> JobAccepted:
    """Teach a slider from examples: faces that have a property and faces that do not (uploads or
    drawn faces), at least 10 of each; or positives only, against faces drawn from the latent DPM.
    The job's result has the direction's id, the name to edit with (`custom:{id}`) and its
    held-out accuracy. It lives as long as the faces it was taught from."""
    return accepted(services.studio.teach(body))


@router.get("/directions/{direction_id}", response_model=DirectionOut, responses=errors(404, 410, 503))
def export(direction_id: str, services: ServicesDep) -> DirectionOut:
    """A taught direction as a small JSON file, to keep and import again later (POST
    /directions/import): its name, the model it was taught on, and the vector."""
    record = services.storage.direction(direction_id)
    return DirectionOut(**record.model_dump(), direction_id=direction_id, edit_name=CUSTOM + direction_id)


@router.head("/directions/{direction_id}", response_class=Response, responses=errors(404, 410, 503))
def exists(direction_id: str, services: ServicesDep) -> Response:
    """200 (no body) while the taught direction exists: a page checks the sliders it keeps (one
    Redis read); 404 `unknown_direction` once it expired or was deleted, or a face it was taught
    from was (the status only: a HEAD answer has no body)."""
    services.storage.direction(direction_id)
    return Response(status_code=200)


@router.post("/directions/import", status_code=201, response_model=DirectionOut,
             responses=errors(403, 422, 503))
def import_direction(body: DirectionIn, services: ServicesDep) -> DirectionOut:
    """Import an exported direction (for the model this server serves) under a new id; it lives
    TTL_SECONDS."""
    return services.studio.import_direction(body)


@router.delete("/directions/{direction_id}", status_code=204, response_class=Response,
               responses=errors(403, 404, 410, 503))
def delete(direction_id: str, services: ServicesDep) -> Response:
    """Forget a taught direction."""
    services.storage.delete_direction(direction_id)
    return Response(status_code=204)
