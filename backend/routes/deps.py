"""What the routes share: the services of one app (`Services`, built by `backend.app.create_app`)
as a FastAPI dependency, and the documented error answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from backend.facts import ModelFacts
from backend.photos import Photos
from backend.schemas import ErrorOut
from backend.settings import Settings
from backend.studio import Studio
from worker.storage import AsyncJobStore, JobStore, Storage


@dataclass(frozen=True)
class Services:
    """One app's services (each holds its share of the app's Redis clients)."""

    settings: Settings
    storage: Storage
    jobs: JobStore
    events: AsyncJobStore
    facts: ModelFacts
    studio: Studio
    photos: Photos


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]


def errors(*statuses: int) -> dict[int | str, dict[str, object]]:
    """Documented error answers (the body is always `ErrorOut`)."""
    return {status: {"model": ErrorOut} for status in statuses}
