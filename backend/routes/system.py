"""Liveness: Redis answers and a worker's heartbeat is fresh."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from backend.health import health
from backend.routes.deps import ServicesDep
from backend.schemas import HealthOut

router = APIRouter(tags=["system"])


@router.get("/healthz", response_model=HealthOut, responses={503: {"model": HealthOut}})
def healthz(services: ServicesDep) -> JSONResponse:
    """200 when Redis answers and at least one worker is alive, else 503."""
    answer = health(services.storage)
    status = 200 if answer.status == "ok" else 503
    headers = None if status == 200 else {"Retry-After": str(services.settings.retry_after_seconds)}
    return JSONResponse(answer.model_dump(mode="json"), status_code=status, headers=headers)
