"""Blobs and job states in Redis, every key with a TTL. Torch-free: backend and worker share it.

Key layout (prefix ``diffae:``)::

    latent:{lid}:meta      JSON UploadMeta (quad, faces, preset, ...)  ← the upload exists
    latent:{lid}:photo     the original upload bytes (decoded again for paste-back)
    latent:{lid}:code      hash {z_sem, z_shape, x_T, x_T_shape, preset, steps}  ← encoded
    latent:{lid}:keys      set of every other key that belongs to this upload (index)
    latent:{lid}:edit:{h}  job id of a manipulate request (h = digest of edits + steps)
    image:{iid}            hash {data, type}; iid = "{lid}-aligned" or "{job_id}-{name}"; or, for
                           a whole photo with a crop pasted back, hash {type: composite, latent,
                           crop[, base]}: the photo is composed when fetched (`put_composite`)
    job:{jid}              hash {job_id, kind, status, progress, result, error}
    job:{jid}:events       pub/sub channel: one JSON JobState per change
    worker:{hostname}      heartbeat (short TTL)
    model                  ModelInfo JSON published by the workers

An upload's expiry is set once, by the backend, at upload time (and pushed back by `touch`
when it is used); keys written later for it (its code, job results) take the remaining TTL
of the key they belong to, so everything of one upload goes at about the same time. `delete`
removes the index and every key in it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import redis
from pydantic import BaseModel

from backend.errors import StudioError, UnknownJobError, UnknownLatentError
from worker.contracts import JobKind, JobState, ModelInfo

PREFIX = "diffae:"


class UnknownImageError(StudioError):
    """The image id is unknown or has expired."""

    def __init__(self, image_id: str) -> None:
        message = f"no image {image_id!r}: it never existed, expired or was deleted"
        super().__init__("unknown_image", message, 404)


#: The `type` of an image record that is composed on demand.
COMPOSITE = "composite"


@dataclass(frozen=True)
class Composite:
    """An image made when fetched: upload `latent_id`'s photo with image `crop_id` pasted back,
    replacing the face (`base_id` None) or adding only what changed from image `base_id`
    (`backend.alignment.paste_change`)."""

    latent_id: str
    crop_id: str
    base_id: str | None = None


class Keys:
    """Key names (one place, so that index, TTL and delete cannot disagree)."""

    @staticmethod
    def meta(lid: str) -> str:
        return f"{PREFIX}latent:{lid}:meta"

    @staticmethod
    def photo(lid: str) -> str:
        return f"{PREFIX}latent:{lid}:photo"

    @staticmethod
    def code(lid: str) -> str:
        return f"{PREFIX}latent:{lid}:code"

    @staticmethod
    def index(lid: str) -> str:
        return f"{PREFIX}latent:{lid}:keys"

    @staticmethod
    def edit(lid: str, digest: str) -> str:
        return f"{PREFIX}latent:{lid}:edit:{digest}"

    @staticmethod
    def image(iid: str) -> str:
        return f"{PREFIX}image:{iid}"

    @staticmethod
    def job(jid: str) -> str:
        return f"{PREFIX}job:{jid}"

    @staticmethod
    def events(jid: str) -> str:
        return f"{PREFIX}job:{jid}:events"

    @staticmethod
    def worker(hostname: str) -> str:
        return f"{PREFIX}worker:{hostname}"

    MODEL = f"{PREFIX}model"
    WORKER_PATTERN = f"{PREFIX}worker:*"


class UploadMeta(BaseModel):
    """What the backend learnt while aligning an upload."""

    latent_id: str
    quad: list[list[float]]  # (4, 2) photo coordinates of the crop's corners
    faces: list[tuple[int, int, int, int]]
    face: int
    preset: str
    image_size: int
    photo_size: tuple[int, int]


@dataclass(frozen=True)
class Latent:
    """A stored encoding: z_sem (D,) and x_T (3, H, W), float32."""

    z_sem: np.ndarray
    x_T: np.ndarray  # noqa: N815 (paper notation)
    preset: str
    steps: int


def edit_digest(edits: dict[str, float], steps: int) -> str:
    """A key for "the same manipulate request": edits (order-free, zero amounts dropped) + steps."""
    active = sorted((k, float(v)) for k, v in edits.items() if v != 0)
    canonical = json.dumps({"edits": active, "steps": steps})
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _ttl_ms(client: redis.Redis, key: str, default_s: int) -> int:
    """Remaining TTL of `key` in ms, or `default_s` when it has none (or is gone)."""
    pttl = cast(int, client.pttl(key))
    return pttl if pttl > 0 else default_s * 1000


class Storage:
    """Uploads, latents and images.

    Args:
        client: a Redis client with ``decode_responses=False``.
        ttl_s: lifetime of a new upload, and the fallback for keys whose owner has no TTL.
    """

    def __init__(self, client: redis.Redis, ttl_s: int) -> None:
        self.r = client
        self.ttl_s = ttl_s

    # ------------------------------------------------------------------ uploads
    def create_upload(self, meta: UploadMeta, photo: bytes, aligned_png: bytes) -> None:
        """Store a new upload: original photo, aligned crop (as image "{lid}-aligned"), meta."""
        lid = meta.latent_id
        aligned = Keys.image(f"{lid}-aligned")
        with self.r.pipeline() as p:
            p.set(Keys.photo(lid), photo, ex=self.ttl_s)
            p.hset(aligned, mapping={"data": aligned_png, "type": "image/png"})
            p.expire(aligned, self.ttl_s)
            p.sadd(Keys.index(lid), aligned)
            p.expire(Keys.index(lid), self.ttl_s)
            p.set(Keys.meta(lid), meta.model_dump_json(), ex=self.ttl_s)
            p.execute()

    def meta(self, lid: str) -> UploadMeta:
        raw = self.r.get(Keys.meta(lid))
        if raw is None:
            raise UnknownLatentError(f"no latent {lid!r}: it never existed, expired or was deleted")
        return UploadMeta.model_validate_json(cast(bytes, raw))

    def photo(self, lid: str) -> bytes:
        raw = self.r.get(Keys.photo(lid))
        if raw is None:
            raise UnknownLatentError(f"the photo of latent {lid!r} expired or was deleted")
        return cast(bytes, raw)

    def aligned(self, lid: str) -> bytes:
        return self.stored_bytes(f"{lid}-aligned")

    def stored_bytes(self, iid: str) -> bytes:
        """The bytes of a stored (not composed) image."""
        found = self.image(iid)
        if isinstance(found, Composite):
            raise UnknownImageError(iid)
        return found[0]

    @staticmethod
    def _upload_keys(lid: str) -> list[str]:
        return [Keys.meta(lid), Keys.photo(lid), Keys.code(lid), Keys.index(lid)]

    def touch(self, lid: str) -> bool:
        """Push the upload's expiry back to a full TTL (it is in use). False if it is gone."""
        keys = [*self._upload_keys(lid), Keys.image(f"{lid}-aligned")]
        with self.r.pipeline() as p:
            for key in keys:
                p.expire(key, self.ttl_s)
            return bool(p.execute()[0])

    def delete(self, lid: str) -> bool:
        """Remove every stored artefact of upload `lid`. False when nothing was there."""
        members = cast(set[bytes], self.r.smembers(Keys.index(lid)))
        keys = [*self._upload_keys(lid), *(m.decode() for m in members)]
        return bool(self.r.delete(*keys))

    def register(self, lids: list[str], *keys: str) -> None:
        """Add `keys` (already written, with their TTL) to the index of every upload in `lids`, so
        that `delete` finds them; the index lives as long as its longest-lived member."""
        if not keys:
            return
        with self.r.pipeline() as p:
            for key in keys:
                p.pttl(key)
            longest = max((t for t in p.execute() if t > 0), default=self.ttl_s * 1000)
        with self.r.pipeline() as p:
            for lid in lids:
                p.sadd(Keys.index(lid), *keys)
                p.pexpire(Keys.index(lid), longest, gt=True)
                p.pexpire(Keys.index(lid), longest, nx=True)
            p.execute()

    # ------------------------------------------------------------------ latents
    def put_latent(self, lid: str, latent: Latent) -> None:
        """Store an encoding under `lid`, expiring with the upload."""
        key = Keys.code(lid)
        z = np.ascontiguousarray(latent.z_sem, dtype=np.float32)
        x = np.ascontiguousarray(latent.x_T, dtype=np.float32)
        ttl = _ttl_ms(self.r, Keys.meta(lid), self.ttl_s)
        with self.r.pipeline() as p:
            p.hset(
                key,
                mapping={
                    "z_sem": z.tobytes(),
                    "z_shape": json.dumps(z.shape),
                    "x_T": x.tobytes(),
                    "x_T_shape": json.dumps(x.shape),
                    "preset": latent.preset,
                    "steps": str(latent.steps),
                },
            )
            p.pexpire(key, ttl)
            p.execute()

    def has_latent(self, lid: str) -> bool:
        return bool(self.r.exists(Keys.code(lid)))

    def latent(self, lid: str) -> Latent:
        raw = cast(dict[bytes, bytes], self.r.hgetall(Keys.code(lid)))
        if not raw:
            if self.r.exists(Keys.meta(lid)):
                message = f"latent {lid!r} is not encoded yet: wait for its encode job to succeed"
                raise UnknownLatentError(message)
            raise UnknownLatentError(f"no latent {lid!r}: it never existed, expired or was deleted")
        z = np.frombuffer(raw[b"z_sem"], dtype=np.float32).reshape(json.loads(raw[b"z_shape"]))
        x = np.frombuffer(raw[b"x_T"], dtype=np.float32).reshape(json.loads(raw[b"x_T_shape"]))
        return Latent(z_sem=z, x_T=x, preset=raw[b"preset"].decode(), steps=int(raw[b"steps"]))

    # ------------------------------------------------------------------ images
    def put_image(self, iid: str, data: bytes, content_type: str, *, owner_key: str, lids: list[str]) -> str:
        """Store an image that expires with `owner_key` (its job), indexed under `lids`."""
        return self._put_record(iid, {"data": data, "type": content_type}, owner_key, lids)

    def _put_record(self, iid: str, fields: dict[str, bytes | str], owner_key: str, lids: list[str]) -> str:
        """Image record `iid` (a hash of `fields`), expiring with `owner_key`, indexed under `lids`."""
        key = Keys.image(iid)
        ttl = _ttl_ms(self.r, owner_key, self.ttl_s)
        with self.r.pipeline() as p:
            p.hset(key, mapping=cast(dict[Any, Any], fields))
            p.pexpire(key, ttl)
            p.execute()
        self.register(lids, key)
        return iid

    def put_composite(
        self,
        iid: str,
        lid: str,
        crop_iid: str,
        *,
        base_iid: str | None = None,
        owner_key: str,
        lids: list[str],
    ) -> str:
        """Record image `iid` as "upload `lid`'s photo with image `crop_iid` pasted back" (or only
        its change from image `base_iid`), to be composed when fetched (`Composite`). A 12-Mpx
        photo is a ~10-20 MB PNG: stored once per edit it would fill Redis with copies of the same
        photo; this record is ~200 bytes. The crops must live at least as long as `owner_key`."""
        fields: dict[str, bytes | str] = {"type": COMPOSITE, "latent": lid, "crop": crop_iid}
        if base_iid is not None:
            fields["base"] = base_iid
        return self._put_record(iid, fields, owner_key, lids)

    def image(self, iid: str) -> tuple[bytes, str] | Composite:
        """(bytes, content type) of a stored image, or the `Composite` to make it from."""
        raw = cast(dict[bytes, bytes], self.r.hgetall(Keys.image(iid)))
        if not raw:
            raise UnknownImageError(iid)
        if raw[b"type"] == COMPOSITE.encode():
            base = raw.get(b"base")
            return Composite(latent_id=raw[b"latent"].decode(), crop_id=raw[b"crop"].decode(),
                             base_id=base.decode() if base is not None else None)
        return raw[b"data"], raw[b"type"].decode()

    # ------------------------------------------------------------------ identical edits
    def claim_edit(self, lid: str, digest: str, job_id: str) -> str | None:
        """Record `job_id` as the job for this edit; return the earlier job's id if one exists."""
        key = Keys.edit(lid, digest)
        if self.r.set(key, job_id, nx=True, px=_ttl_ms(self.r, Keys.meta(lid), self.ttl_s)):
            self.register([lid], key)
            return None
        earlier = self.r.get(key)
        return earlier.decode() if isinstance(earlier, bytes) else None

    def replace_edit(self, lid: str, digest: str, job_id: str) -> None:
        self.r.set(Keys.edit(lid, digest), job_id, px=_ttl_ms(self.r, Keys.meta(lid), self.ttl_s))

    # ------------------------------------------------------------------ model and workers
    def publish_model(self, info: ModelInfo, ttl_s: int) -> None:
        self.r.set(Keys.MODEL, info.model_dump_json(), ex=ttl_s)

    def published_model(self) -> ModelInfo | None:
        raw = self.r.get(Keys.MODEL)
        return ModelInfo.model_validate_json(cast(bytes, raw)) if raw else None

    def heartbeat(self, hostname: str, info: dict[str, Any], ttl_s: int) -> None:
        self.r.set(Keys.worker(hostname), json.dumps(info), ex=ttl_s)

    def clear_heartbeat(self, hostname: str) -> None:
        self.r.delete(Keys.worker(hostname))

    def workers(self) -> list[str]:
        """Hostnames of the workers whose heartbeat has not expired."""
        prefix = len(Keys.worker(""))
        return sorted(k.decode()[prefix:] for k in self.r.scan_iter(match=Keys.WORKER_PATTERN, count=100))


# Write a job hash only while it exists (a deleted job is not resurrected by a late worker),
# and publish the new state in the same step. KEYS: job, channel; ARGV: state JSON, fields...
_SAVE_IF_EXISTS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PUBLISH', KEYS[2], ARGV[1])
return 1
"""


class JobStore:
    """Job states: a hash per job plus a pub/sub channel with every change (for SSE)."""

    def __init__(self, client: redis.Redis, ttl_s: int) -> None:
        self.r = client
        self.ttl_s = ttl_s
        self._save = client.register_script(_SAVE_IF_EXISTS)

    @staticmethod
    def _fields(state: JobState) -> dict[str, str]:
        return {
            "job_id": state.job_id,
            "kind": state.kind,
            "status": state.status,
            "progress": repr(float(state.progress)),
            "result": json.dumps(state.result) if state.result is not None else "",
            "error": state.error.model_dump_json() if state.error is not None else "",
        }

    def create(self, job_id: str, kind: JobKind, lids: list[str], storage: Storage) -> JobState:
        """A new queued job, expiring after the TTL and indexed under the uploads it reads."""
        state = JobState(job_id=job_id, kind=kind, status="queued", progress=0.0)
        key = Keys.job(job_id)
        with self.r.pipeline() as p:
            p.hset(key, mapping=cast(dict[Any, Any], self._fields(state)))
            p.expire(key, self.ttl_s)
            p.execute()
        storage.register(lids, key)
        return state

    def save(self, state: JobState) -> bool:
        """Write and publish `state`; False (nothing written) when the job no longer exists."""
        fields = self._fields(state)
        args: list[str] = [state.model_dump_json()]
        for name, value in fields.items():
            args += [name, value]
        return bool(self._save(keys=[Keys.job(state.job_id), Keys.events(state.job_id)], args=args))

    def get(self, job_id: str) -> JobState:
        raw = cast(dict[bytes, bytes], self.r.hgetall(Keys.job(job_id)))
        if not raw:
            raise UnknownJobError(f"no job {job_id!r}: it never existed, expired or was deleted")
        return self.parse(raw)

    @staticmethod
    def parse(raw: dict[bytes, bytes]) -> JobState:
        f = {k.decode(): v.decode() for k, v in raw.items()}
        return JobState(
            job_id=f["job_id"],
            kind=f["kind"],  # type: ignore[arg-type]
            status=f["status"],  # type: ignore[arg-type]
            progress=float(f["progress"]),
            result=json.loads(f["result"]) if f.get("result") else None,
            error=json.loads(f["error"]) if f.get("error") else None,
        )

    def delete(self, job_id: str) -> None:
        self.r.delete(Keys.job(job_id))
