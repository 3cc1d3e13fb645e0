"""Latents: delete one upload and everything made from it."""

from __future__ import annotations

from fastapi import APIRouter, Response

from backend.routes.deps import ServicesDep, errors

router = APIRouter(tags=["latents"])


@router.delete("/latents/{latent_id}", status_code=204, response_class=Response,
               responses=errors(403, 404, 410, 503))
def delete_latent(latent_id: str, services: ServicesDep) -> Response:
    """Delete the photo, aligned crop, latent, jobs and result images of one upload."""
    services.photos.delete_upload(latent_id)
    return Response(status_code=204)
