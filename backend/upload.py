"""An uploaded photo → the aligned face to encode, with what paste-back needs later; and back:
a result crop pasted into the whole photo (`compose_photo`).

CPU work (decode, detection, FFHQ warp, paste-back, PNG): call it from a threadpool, never on
the event loop.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from PIL import Image

from backend.alignment import TRANSFORM_SIZE, align_face, fast_transform_size, paste_back, paste_change
from backend.errors import StudioError, UnknownLatentError
from backend.intake import load_photo
from backend.landmarks import DetectorUnavailableError, Face, get_detector
from backend.settings import Settings
from worker.storage import Composite, Storage, UnknownImageError


@dataclass(frozen=True)
class PreparedUpload:
    aligned_png: bytes
    quad: np.ndarray  # (4, 2) float64, photo coordinates of the crop's corners
    faces: list[tuple[int, int, int, int]]  # detector boxes, largest first
    face: int
    photo_size: tuple[int, int]


class _Found:
    """A detector that answers with faces already detected (so alignment does not detect twice)."""

    name = "found"

    def __init__(self, faces: list[Face]) -> None:
        self.faces = faces

    def detect(self, image: Image.Image) -> list[Face]:
        return self.faces


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
            alignment_unavailable (503) when the landmark backend cannot start.
    """
    photo = load_photo(data, max_bytes=settings.max_upload_bytes, max_pixels=settings.max_pixels)
    try:
        faces = get_detector(settings.align_backend, max_detect_pixels=detect_pixels(settings)).detect(photo)
    except DetectorUnavailableError as exc:
        raise StudioError("alignment_unavailable", str(exc), 503) from exc
    transform = TRANSFORM_SIZE if settings.align_faithful else fast_transform_size(image_size)
    aligned = align_face(photo, image_size, face, detector=_Found(faces), transform_size=transform)
    buffer = io.BytesIO()
    aligned.image.save(buffer, format="PNG")
    return PreparedUpload(
        aligned_png=buffer.getvalue(),
        quad=aligned.quad,
        faces=[f.box for f in faces],
        face=face,
        photo_size=photo.size,
    )


def compose_photo(storage: Storage, image_id: str, composite: Composite) -> bytes:
    """PNG of the upload's whole photo with the composite's crop pasted back: replacing the face,
    or, when the composite names a base crop, adding only what changed from it (`paste_change`).

    Made on every fetch rather than stored: a 12-Mpx photo is a 10-20 MB PNG, and every edit
    of a face would otherwise keep another copy of it in Redis. Pixels outside the crop's quad
    are the upload's own (see `paste_back`).

    Raises:
        UnknownImageError: the upload or the crop has expired or was deleted.
    """
    def crop(iid: str) -> Image.Image:
        return Image.open(io.BytesIO(storage.stored_bytes(iid)))

    try:
        meta = storage.meta(composite.latent_id)
        data = storage.photo(composite.latent_id)
        edited = crop(composite.crop_id)
        base = crop(composite.base_id) if composite.base_id is not None else None
    except (UnknownLatentError, UnknownImageError) as exc:
        raise UnknownImageError(image_id) from exc
    photo = load_photo(data, max_bytes=len(data), max_pixels=2**40)  # checked at upload already
    quad = np.asarray(meta.quad)
    out = paste_back(photo, edited, quad) if base is None else paste_change(photo, edited, base, quad)
    buffer = io.BytesIO()
    out.save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()


class ComposedCache:
    """The last composed photos, by image id, up to `max_bytes` in all (least recently used out).

    A photo is composed on every fetch (`compose_photo`, ~1.5 s for 12 Mpx); a page or a client
    that fetches the same result again gets these bytes instead. Only consulted after the image
    record was found in Redis, so a deleted or expired result is never served from here, and
    `drop(latent_id)` forgets an upload's photos at once when it is deleted. Thread-safe (the
    routes run in a threadpool)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, tuple[str, bytes]] = OrderedDict()  # id → (latent id, PNG)
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key: str, latent_id: str, data: bytes) -> None:
        if len(data) > self.max_bytes:
            return
        with self._lock:
            self._remove(key)
            self._items[key] = (latent_id, data)
            self._size += len(data)
            while self._size > self.max_bytes:
                self._remove(next(iter(self._items)))

    def drop(self, latent_id: str) -> None:
        with self._lock:
            for key in [k for k, (lid, _) in self._items.items() if lid == latent_id]:
                self._remove(key)

    def _remove(self, key: str) -> None:
        item = self._items.pop(key, None)
        if item is not None:
            self._size -= len(item[1])

    def __len__(self) -> int:
        return len(self._items)
