"""Images: the aligned crops, reconstructions, edits, frames and GIFs that jobs produced."""

from __future__ import annotations

from fastapi import APIRouter, Response

from backend.routes.deps import ServicesDep, errors

router = APIRouter(tags=["images"])


@router.get(
    "/images/{image_id}",
    response_class=Response,
    responses={**errors(404, 410, 503), 200: {"content": {"image/png": {}, "image/gif": {}}}},
)
def image(image_id: str, services: ServicesDep) -> Response:
    """A result image: PNG (the interpolation's `gif_url` is a GIF). A `photo_url` (the whole
    photo with a result pasted back) is composed now, from the upload and the result's crop."""
    data, content_type = services.photos.image(image_id)
    headers = {"Cache-Control": "private, max-age=3600, immutable"}
    return Response(data, media_type=content_type, headers=headers)
