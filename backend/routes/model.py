"""The model: its attribute directions and slider ranges."""

from __future__ import annotations

from fastapi import APIRouter

from backend.routes.deps import StudioDep, errors
from backend.schemas import AttributesOut

router = APIRouter(tags=["model"])


@router.get("/attributes", response_model=AttributesOut, responses=errors(503))
def attributes(studio: StudioDep) -> AttributesOut:
    """The edit directions: name (the key in `edits`), label, slider range, AUROC when known."""
    return studio.attributes()
