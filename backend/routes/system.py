"""Liveness: Redis answers and a worker's heartbeat is fresh."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from backend.routes.deps import StudioDep
from backend.schemas import HealthOut

router = APIRouter(tags=["system"])


@router.get("/healthz", response_model=HealthOut, responses={503: {"model": HealthOut}})
def healthz(studio: StudioDep) -> JSONResponse:
    """200 when Redis answers and at least one worker is alive, else 503."""
    health = studio.health()
    status = 200 if health.status == "ok" else 503
    headers = None if status == 200 else {"Retry-After": str(studio.settings.retry_after_seconds)}
    return JSONResponse(health.model_dump(mode="json"), status_code=status, headers=headers)
