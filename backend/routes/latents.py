"""Latents: delete one upload and everything made from it."""

from __future__ import annotations

from fastapi import APIRouter, Response

from backend.routes.deps import ServicesDep, errors

router = APIRouter(tags=["latents"])


@router.get("/latents/{latent_id}", status_code=204, response_class=Response, responses=errors(404, 410, 503))
@router.head("/latents/{latent_id}", status_code=204, response_class=Response, include_in_schema=False)
def exists(latent_id: str, services: ServicesDep) -> Response:
    """204 while the upload exists (a page checks that what it keeps is still there: one Redis
    read, no image); 404 `unknown_latent` once it expired or was deleted, 410 `store_reset` when
    Redis lost it."""
    services.storage.meta(latent_id)
    return Response(status_code=204)


@router.delete("/latents/{latent_id}", status_code=204, response_class=Response,
               responses=errors(403, 404, 410, 503))
def delete_latent(latent_id: str, services: ServicesDep) -> Response:
    """Delete the photo, aligned crop, latent, jobs and result images of one upload."""
    services.photos.delete_upload(latent_id)
    return Response(status_code=204)
