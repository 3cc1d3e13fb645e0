"""Latents: delete one upload and everything made from it."""

from __future__ import annotations

from fastapi import APIRouter, Response

from backend.routes.deps import StudioDep, errors

router = APIRouter(tags=["latents"])


@router.delete("/latents/{latent_id}", status_code=204, response_class=Response, responses=errors(404, 503))
def delete_latent(latent_id: str, studio: StudioDep) -> Response:
    """Delete the photo, aligned crop, latent, jobs and result images of one upload."""
    studio.delete_latent(latent_id)
    return Response(status_code=204)
