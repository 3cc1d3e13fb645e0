"""Upload preparation: an uploaded photo → the aligned face to encode, with what paste-back
needs later (the quad, the faces found, the photo's size).

CPU work (decode, detection, FFHQ warp, PNG): call it from a threadpool, never on the event loop.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from backend.alignment import TRANSFORM_SIZE, fast_transform_size
from backend.faces import align_detected
from backend.intake import load_photo
from backend.landmarks import DetectorUnavailableError, get_detector
from backend.settings import Settings
from models.errors import AlignmentUnavailableError
from models.regions import crop_units


@dataclass(frozen=True)
class PreparedUpload:
    aligned_png: bytes
    quad: np.ndarray  # (4, 2) float64, photo coordinates of the crop's corners
    faces: list[tuple[int, int, int, int]]  # detector boxes, largest first
    face: int
    photo_size: tuple[int, int]
    landmarks: list[tuple[float, float]]  # the face's 68 landmarks in crop units (`models.regions`)


def detect_pixels(settings: Settings) -> int | None:
    """How large a copy the face detector scans: None (the whole photo) when alignment is to be
    faithful or DETECT_MAX_PIXELS is 0."""
    if settings.align_faithful or settings.detect_max_pixels == 0:
        return None
    return settings.detect_max_pixels


def prepare_upload(data: bytes, face: int, image_size: int, settings: Settings) -> PreparedUpload:
    """Decode, detect every face, FFHQ-align face number `face` (0 = largest) at `image_size`.

    Raises:
        StudioError: unsupported_image, too_large, no_face, invalid_request (face index), or
            alignment_unavailable when the landmark backend cannot start.
    """
    photo = load_photo(data, max_bytes=settings.max_upload_bytes, max_pixels=settings.max_pixels)
    try:
        faces = get_detector(settings.align_backend, max_detect_pixels=detect_pixels(settings)).detect(photo)
    except DetectorUnavailableError as exc:
        raise AlignmentUnavailableError(str(exc)) from exc
    transform = TRANSFORM_SIZE if settings.align_faithful else fast_transform_size(image_size)
    aligned = align_detected(photo, faces, face, image_size, transform_size=transform)
    buffer = io.BytesIO()
    aligned.image.save(buffer, format="PNG")
    return PreparedUpload(
        aligned_png=buffer.getvalue(),
        quad=aligned.quad,
        faces=[f.box for f in faces],
        face=face,
        photo_size=photo.size,
        landmarks=[(float(x), float(y)) for x, y in crop_units(aligned.landmarks, aligned.quad)],
    )
