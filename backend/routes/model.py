"""The model: its attribute directions and slider ranges."""

from __future__ import annotations

from fastapi import APIRouter

from backend.facts import attributes as describe_attributes
from backend.routes.deps import ServicesDep, errors
from backend.schemas import AttributesOut

router = APIRouter(tags=["model"])


@router.get("/attributes", response_model=AttributesOut, responses=errors(503))
def attributes(services: ServicesDep) -> AttributesOut:
    """The edit directions: name (the key in `edits`), label, slider range, AUROC when known."""
    return describe_attributes(services.settings, services.facts.get())
