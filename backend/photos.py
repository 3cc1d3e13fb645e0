"""Photos as the API serves them: stored images, whole photos composed on fetch (a result crop
pasted into the upload's photo) with the last ones kept in memory, and deleting an upload.

Composing is CPU work (decode, paste-back, PNG): `Photos.image` runs in the threadpool (its
route is a plain `def`), never on the event loop.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict

import numpy as np
from PIL import Image

from backend.alignment import paste_back, paste_change
from backend.intake import load_photo
from models.errors import UnknownImageError, UnknownLatentError
from worker.storage import Composite, Storage


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


class Photos:
    """`GET /images/{id}` and `DELETE /latents/{id}`: stored images, composed photos, deletion."""

    def __init__(self, storage: Storage, cache_bytes: int) -> None:
        self.storage = storage
        self.composed = ComposedCache(cache_bytes)

    def image(self, image_id: str) -> tuple[bytes, str]:
        """(bytes, content type); whole photos with a result pasted back are composed here."""
        found = self.storage.image(image_id)  # first: a deleted result is 404 even if cached
        if isinstance(found, Composite):
            data = self.composed.get(image_id)
            if data is None:
                data = compose_photo(self.storage, image_id, found)
                self.composed.put(image_id, found.latent_id, data)
            return data, "image/png"
        return found

    def delete_upload(self, lid: str) -> None:
        """Delete upload `lid` and everything made from it (also its photos kept here)."""
        self.composed.drop(lid)
        if not self.storage.delete(lid):
            error = UnknownLatentError(f"no latent {lid!r}: it never existed, expired or was already deleted")
            raise self.storage.epoch.missing("latent", lid, error)
