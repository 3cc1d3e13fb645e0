"""Ids of uploads, jobs and images: capabilities nobody can guess, that say when they were made.

Whoever holds an id can use what it names (README, "Access model"): a latent id edits and deletes
its upload, a job id reads that job, an image id fetches that one image. So an id must never be
derivable from another: uploads and jobs get fresh random ids, and an image id is a keyed hash of
its name under its owner's secret `image_key` (random, kept in the upload's meta or the job's
payload), so that a job redelivered to another worker names its images the same way while a
client who knows one image id learns nothing of its siblings or of the upload.

Every id is 32 hex digits: 11 of the Unix time it was made, in ms, then 21 random (84 bits). The
time is what tells "expired or never existed" from "lost when the store was reset"
(`worker.storage.StoreEpoch`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time

_ID = re.compile(r"^[0-9a-f]{32}$")
#: Hex digits of the time (ms) at the head of an id: 11 last until the year 2527.
TIME_DIGITS = 11


def new_id(now_s: float | None = None) -> str:
    """A fresh id: 11 hex digits of the Unix time in ms, 21 random ones."""
    born_ms = int((time.time() if now_s is None else now_s) * 1000)
    return f"{born_ms:0{TIME_DIGITS}x}{secrets.token_hex(11)[:32 - TIME_DIGITS]}"


def made_at(id_: str) -> float | None:
    """The Unix time (s) id `id_` was made, or None when it is not one of ours."""
    return int(id_[:TIME_DIGITS], 16) / 1000 if _ID.match(id_) else None


def image_id(image_key: str, name: str) -> str:
    """The id of image `name` ("crop", "aligned", "base5-dpm++2m-quadratic", ...) of the owner
    whose secret is `image_key` (an id from `new_id`): made at the key's time, then 21 hex digits
    of a keyed BLAKE2b of the name."""
    digest = hashlib.blake2b(name.encode(), key=bytes.fromhex(image_key), digest_size=11).hexdigest()
    return image_key[:TIME_DIGITS] + digest[:32 - TIME_DIGITS]
