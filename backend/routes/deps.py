"""Dependencies shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from backend.jobs import Studio


def _studio(request: Request) -> Studio:
    studio: Studio = request.app.state.studio
    return studio


StudioDep = Annotated[Studio, Depends(_studio)]


#: Documented error answers (the body is always `ErrorOut`).
def errors(*statuses: int) -> dict[int | str, dict[str, object]]:
    from backend.schemas import ErrorOut

    return {status: {"model": ErrorOut} for status in statuses}
