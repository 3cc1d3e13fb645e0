"""Blobs and job states in Redis, every key with a TTL. Torch-free: backend and worker share it.

The only module that talks to Redis for the service's own data (Celery's broker keys are
Celery's). Several steps that belong together are one Lua script, so that each is one round
trip and atomic: submitting a job (`Storage.claim`), storing an image and indexing it
(`Storage.put_image`), saving a job state and publishing it (`JobStore.save`), a heartbeat.

Key layout (prefix ``diffae:``)::

    latent:{lid}:meta      JSON UploadMeta (quad, faces, preset, ...)  ← the upload exists
    latent:{lid}:photo     the original upload bytes (decoded again for paste-back)
    latent:{lid}:code      hash {z_sem, z_shape, x_T, x_T_shape, preset, steps}  ← encoded
    latent:{lid}:keys      set of every other key that belongs to this upload (index)
    latent:{lid}:bases     set of the upload's unedited renders (image keys "{lid}-base{steps}[-...]")
    latent:{lid}:edit:{h}  job id of a manipulate request (h = digest of edits, steps, solver, grid,
                           strip)
    image:{iid}            hash {data, type}; iid = "{lid}-aligned", "{lid}-base{steps}[-{solver}-{grid}]"
                           or "{job_id}-{name}"; or, for a whole photo with a crop pasted back, hash
                           {type: composite, latent, crop[, base]}: composed when fetched
    job:{jid}              hash {job_id, kind, status, progress, result, error}
    job:{jid}:events       pub/sub channel: one JSON JobState per change, and JobPreview messages
                           (`"type": "preview"`, published only, never stored)
    workers                sorted set: worker hostname → expiry of its heartbeat (ms, Redis clock)
    model                  ModelInfo JSON published by the workers

An upload's expiry is set once, by the web tier, at upload time, and pushed back to a full TTL
whenever the upload is used (`claim`): its own keys (meta, photo, code, index, aligned crop and
the unedited renders of `bases`). Keys written later for it (its code, job results) take the
remaining TTL of the key they belong to, so everything of one upload goes at about the same
time. `delete` removes the index and every key in it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import redis
import redis.asyncio as aioredis
from pydantic import BaseModel

from models.errors import UnknownImageError, UnknownJobError, UnknownLatentError
from worker.contracts import JobPreview, JobState, ModelInfo, Strip

PREFIX = "diffae:"

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
    def bases(lid: str) -> str:
        return f"{PREFIX}latent:{lid}:bases"

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

    JOB_PREFIX = f"{PREFIX}job:"
    MODEL = f"{PREFIX}model"
    WORKERS = f"{PREFIX}workers"


def aligned_id(lid: str) -> str:
    """The image id of an upload's aligned crop."""
    return f"{lid}-aligned"


def base_id(lid: str, steps: int, solver: str = "ddim", grid: str = "uniform") -> str:
    """The image id of an upload's unedited render at `steps` with `solver` on `grid` (the encode's
    reconstruction at its render steps; what an edit rendered so changed is measured from it):
    "{lid}-base{steps}" for the official DDIM, else "{lid}-base{steps}-{solver}-{grid}" with
    "dpm++2m" written "dpmpp2m"."""
    if (solver, grid) == ("ddim", "uniform"):
        return f"{lid}-base{steps}"
    return f"{lid}-base{steps}-{solver.replace('+', 'p')}-{grid}"


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


@dataclass(frozen=True)
class Claim:
    """What `Storage.claim` did: created job `job_id` (to be queued now), or found an identical
    earlier edit job that exists and has not failed (`created` False: nothing to queue)."""

    job_id: str
    created: bool


def edit_digest(
    edits: dict[str, float],
    steps: int,
    solver: str = "ddim",
    grid: str = "uniform",
    strip: Strip | None = None,
) -> str:
    """A key for "the same manipulate request": edits (order-free, zero amounts dropped), steps,
    solver, grid and the strip (its amounts in order: they are the frames' order)."""
    active = sorted((k, float(v)) for k, v in edits.items() if v != 0)
    frames = None if strip is None else [strip.attribute, [float(a) for a in strip.amounts]]
    canonical = json.dumps({"edits": active, "steps": steps, "solver": solver, "grid": grid, "strip": frames})
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def parse_message(data: bytes | str) -> JobState | JobPreview:
    """A message of a job's channel: a preview (`"type": "preview"`) or a job state."""
    raw = json.loads(data)
    if raw.get("type") == "preview":
        return JobPreview.model_validate(raw)
    return JobState.model_validate(raw)


def _job_fields(state: JobState) -> dict[str, str]:
    return {
        "job_id": state.job_id,
        "kind": state.kind,
        "status": state.status,
        "progress": repr(float(state.progress)),
        "result": json.dumps(state.result) if state.result is not None else "",
        "error": state.error.model_dump_json() if state.error is not None else "",
    }


def _flat(fields: dict[str, Any]) -> list[Any]:
    return [item for pair in fields.items() for item in pair]


def parse_job(raw: dict[bytes, bytes]) -> JobState:
    """A job hash as Redis returns it → `JobState`."""
    f = {k.decode(): v.decode() for k, v in raw.items()}
    return JobState(
        job_id=f["job_id"],
        kind=f["kind"],  # type: ignore[arg-type]
        status=f["status"],  # type: ignore[arg-type]
        progress=float(f["progress"]),
        result=json.loads(f["result"]) if f.get("result") else None,
        error=json.loads(f["error"]) if f.get("error") else None,
    )


# ----------------------------------------------------------------------------- scripts
# The Redis clock, in ms, so that heartbeats of workers on other machines compare correctly.
_NOW_MS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# Extend a set's TTL to at least ARGV ms (a set lives as long as its longest-lived member).
_EXTEND = """
local function extend(key, ms)
  redis.call('PEXPIRE', key, ms, 'NX')
  redis.call('PEXPIRE', key, ms, 'GT')
end
"""

# A heartbeat: KEYS workers; ARGV hostname, TTL ms. Drops expired members, keeps the set
# itself alive as long as its longest-lived member.
_HEARTBEAT = _NOW_MS + _EXTEND + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
extend(KEYS[1], tonumber(ARGV[2]))
return 1
"""

# Hostnames whose heartbeat has not expired: KEYS workers.
_LIVE_WORKERS = _NOW_MS + "return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')\n"

# An image record, expiring with its owner, added to index sets: KEYS record, owner, sets...;
# ARGV fallback TTL ms (owner gone or without TTL), fields...
_PUT_RECORD = _EXTEND + """
local ttl = redis.call('PTTL', KEYS[2])
if ttl <= 0 then ttl = tonumber(ARGV[1]) end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ttl)
for i = 3, #KEYS do
  redis.call('SADD', KEYS[i], KEYS[1])
  extend(KEYS[i], ttl)
end
return ttl
"""

# Submit a job. KEYS: workers, job, edit (or the job key again when there is none), then per
# upload: code, meta, photo, index, aligned image, bases. ARGV: TTL s, require a worker (1/0),
# job id, job key prefix, has an edit key (1/0), job fields...
# Every upload must be encoded (else {'unknown_latent', i, meta exists}); their keys get a full
# TTL; an identical earlier edit that exists and has not failed answers ({'earlier', id});
# without a live worker nothing is written ({'no_worker'}); else the job hash is created, the
# edit key set, both indexed under every upload ({'created', id}).
_CLAIM = _NOW_MS + _EXTEND + """
local ttl = tonumber(ARGV[1])
local uploads = (#KEYS - 3) / 6
for i = 0, uploads - 1 do
  local base = 4 + i * 6
  if redis.call('EXISTS', KEYS[base]) == 0 then
    return {'unknown_latent', i, redis.call('EXISTS', KEYS[base + 1])}
  end
end
for i = 0, uploads - 1 do
  local base = 4 + i * 6
  for k = base, base + 4 do
    if k == base + 3 then extend(KEYS[k], ttl * 1000) else redis.call('EXPIRE', KEYS[k], ttl) end
  end
  local bases = KEYS[base + 5]
  if redis.call('EXPIRE', bases, ttl) == 1 then
    for _, key in ipairs(redis.call('SMEMBERS', bases)) do redis.call('EXPIRE', key, ttl) end
  end
end
local has_edit = ARGV[5] == '1'
if has_edit then
  local earlier = redis.call('GET', KEYS[3])
  if earlier then
    local status = redis.call('HGET', ARGV[4] .. earlier, 'status')
    if status and status ~= 'failed' then return {'earlier', earlier} end
  end
end
if ARGV[2] == '1' and redis.call('ZCOUNT', KEYS[1], now, '+inf') == 0 then return {'no_worker'} end
redis.call('HSET', KEYS[2], unpack(ARGV, 6))
redis.call('EXPIRE', KEYS[2], ttl)
if has_edit then redis.call('SET', KEYS[3], ARGV[3], 'EX', ttl) end
for i = 0, uploads - 1 do
  local index = KEYS[4 + i * 6 + 3]
  redis.call('SADD', index, KEYS[2])
  if has_edit then redis.call('SADD', index, KEYS[3]) end
  extend(index, ttl * 1000)
end
return {'created', ARGV[3]}
"""

# Undo a claim whose task could not be queued: KEYS job, edit (or the job again); ARGV job id.
_ABANDON = """
redis.call('DEL', KEYS[1])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1
"""

# Write a job hash only while it exists (a deleted job is not resurrected by a late worker),
# and publish the new state in the same step. KEYS: job, channel; ARGV: state JSON, fields...
_SAVE_IF_EXISTS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PUBLISH', KEYS[2], ARGV[1])
return 1
"""


def _upload_keys(lid: str) -> list[str]:
    """The keys `claim` needs of one upload, in its order."""
    return [Keys.code(lid), Keys.meta(lid), Keys.photo(lid), Keys.index(lid),
            Keys.image(aligned_id(lid)), Keys.bases(lid)]


class Storage:
    """Uploads, latents, images, job submission, heartbeats and the published model facts.

    Args:
        client: a Redis client with ``decode_responses=False``.
        ttl_s: lifetime of a new upload, and the fallback for keys whose owner has no TTL.
    """

    def __init__(self, client: redis.Redis, ttl_s: int) -> None:
        self._r = client
        self.ttl_s = ttl_s
        self._claim = client.register_script(_CLAIM)
        self._abandon = client.register_script(_ABANDON)
        self._put = client.register_script(_PUT_RECORD)
        self._beat = client.register_script(_HEARTBEAT)
        self._live = client.register_script(_LIVE_WORKERS)

    def close(self) -> None:
        self._r.close()

    # ------------------------------------------------------------------ uploads
    def create_upload(
        self, meta: UploadMeta, photo: bytes, aligned_png: bytes, job: JobState | None = None
    ) -> None:
        """Store a new upload (original photo, aligned crop as image "{lid}-aligned", meta) and
        its encode job, queued, indexed under it: one round trip."""
        lid, ttl = meta.latent_id, self.ttl_s
        aligned = Keys.image(aligned_id(lid))
        with self._r.pipeline() as p:
            p.set(Keys.photo(lid), photo, ex=ttl)
            p.hset(aligned, mapping={"data": aligned_png, "type": "image/png"})
            p.expire(aligned, ttl)
            p.sadd(Keys.index(lid), aligned)
            if job is not None:
                job_key = Keys.job(job.job_id)
                p.hset(job_key, mapping=cast(dict[Any, Any], _job_fields(job)))
                p.expire(job_key, ttl)
                p.sadd(Keys.index(lid), job_key)
            p.expire(Keys.index(lid), ttl)
            p.set(Keys.meta(lid), meta.model_dump_json(), ex=ttl)
            p.execute()

    def meta(self, lid: str) -> UploadMeta:
        raw = self._r.get(Keys.meta(lid))
        if raw is None:
            raise UnknownLatentError(f"no latent {lid!r}: it never existed, expired or was deleted")
        return UploadMeta.model_validate_json(cast(bytes, raw))

    def photo(self, lid: str) -> bytes:
        raw = self._r.get(Keys.photo(lid))
        if raw is None:
            raise UnknownLatentError(f"the photo of latent {lid!r} expired or was deleted")
        return cast(bytes, raw)

    def aligned(self, lid: str) -> bytes:
        return self.stored_bytes(aligned_id(lid))

    def stored_bytes(self, iid: str) -> bytes:
        """The bytes of a stored (not composed) image."""
        found = self.image(iid)
        if isinstance(found, Composite):
            raise UnknownImageError(iid)
        return found[0]

    def delete(self, lid: str) -> bool:
        """Remove every stored artefact of upload `lid`. False when nothing was there."""
        members = cast(set[bytes], self._r.smembers(Keys.index(lid)))
        keys = [*_upload_keys(lid), *(m.decode() for m in members)]
        return bool(self._r.delete(*keys))

    # ------------------------------------------------------------------ submitting jobs
    def claim(
        self,
        job: JobState,
        lids: Sequence[str] = (),
        *,
        edit_digest: str | None = None,
        require_worker: bool = True,
    ) -> Claim | None:
        """Submit `job` (queued) reading the encoded uploads `lids`, in one atomic round trip.

        Every upload must be encoded, and gets a full TTL again (it is in use). With
        `edit_digest` (a manipulate request, one upload), an identical earlier job that exists
        and has not failed is the answer (`Claim.created` False). Otherwise, when a worker is
        alive (or not `require_worker`), the job hash is created, indexed under every upload,
        and becomes this edit's job. None: no live worker, nothing written.

        Raises:
            UnknownLatentError: an upload never existed, expired, was deleted or is not encoded yet.
        """
        if edit_digest is not None and len(lids) != 1:
            raise ValueError("an edit reads exactly one upload")
        job_key = Keys.job(job.job_id)
        edit_key = Keys.edit(lids[0], edit_digest) if edit_digest is not None else job_key
        keys = [Keys.WORKERS, job_key, edit_key, *(k for lid in lids for k in _upload_keys(lid))]
        args = [self.ttl_s, int(require_worker), job.job_id, Keys.JOB_PREFIX, int(edit_digest is not None),
                *_flat(_job_fields(job))]
        answer = cast(list[Any], self._claim(keys=keys, args=args))
        outcome = answer[0].decode()
        if outcome == "unknown_latent":
            lid = lids[int(answer[1])]
            if answer[2]:
                message = f"latent {lid!r} is not encoded yet: wait for its encode job to succeed"
                raise UnknownLatentError(message)
            raise UnknownLatentError(f"no latent {lid!r}: it never existed, expired or was deleted")
        if outcome == "no_worker":
            return None
        return Claim(job_id=answer[1].decode(), created=outcome == "created")

    def abandon(self, job_id: str, lid: str | None = None, edit_digest: str | None = None) -> None:
        """Undo a claim whose task could not be queued: the job, and the edit key if it is its."""
        job_key = Keys.job(job_id)
        edit_key = Keys.edit(lid, edit_digest) if lid is not None and edit_digest is not None else job_key
        self._abandon(keys=[job_key, edit_key], args=[job_id])

    # ------------------------------------------------------------------ latents
    def put_latent(self, lid: str, latent: Latent) -> None:
        """Store an encoding under `lid`, expiring with the upload."""
        key = Keys.code(lid)
        z = np.ascontiguousarray(latent.z_sem, dtype=np.float32)
        x = np.ascontiguousarray(latent.x_T, dtype=np.float32)
        pttl = cast(int, self._r.pttl(Keys.meta(lid)))
        with self._r.pipeline() as p:
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
            p.pexpire(key, pttl if pttl > 0 else self.ttl_s * 1000)
            p.execute()

    def latent(self, lid: str) -> Latent:
        raw = cast(dict[bytes, bytes], self._r.hgetall(Keys.code(lid)))
        if not raw:
            if self._r.exists(Keys.meta(lid)):
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

    def put_base(self, lid: str, steps: int, png: bytes, solver: str = "ddim", grid: str = "uniform") -> str:
        """Store upload `lid`'s unedited render at `steps` with `solver` on `grid` (`base_id`),
        living as long as the upload: its TTL is pushed back with the upload's own keys whenever
        the upload is used."""
        iid = base_id(lid, steps, solver, grid)
        fields: dict[str, bytes | str] = {"data": png, "type": "image/png"}
        return self._put_record(iid, fields, Keys.meta(lid), [lid], extra_sets=[Keys.bases(lid)])

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

    def _put_record(
        self,
        iid: str,
        fields: dict[str, bytes | str],
        owner_key: str,
        lids: list[str],
        extra_sets: Sequence[str] = (),
    ) -> str:
        """Image record `iid` (a hash of `fields`), expiring with `owner_key`, indexed under `lids`
        (and added to `extra_sets`), in one round trip."""
        keys = [Keys.image(iid), owner_key, *(Keys.index(lid) for lid in lids), *extra_sets]
        self._put(keys=keys, args=[self.ttl_s * 1000, *_flat(fields)])
        return iid

    def has_image(self, iid: str) -> bool:
        return bool(self._r.exists(Keys.image(iid)))

    def image(self, iid: str) -> tuple[bytes, str] | Composite:
        """(bytes, content type) of a stored image, or the `Composite` to make it from."""
        raw = cast(dict[bytes, bytes], self._r.hgetall(Keys.image(iid)))
        if not raw:
            raise UnknownImageError(iid)
        if raw[b"type"] == COMPOSITE.encode():
            base = raw.get(b"base")
            return Composite(latent_id=raw[b"latent"].decode(), crop_id=raw[b"crop"].decode(),
                             base_id=base.decode() if base is not None else None)
        return raw[b"data"], raw[b"type"].decode()

    # ------------------------------------------------------------------ model and workers
    def publish_model(self, info: ModelInfo, ttl_s: int) -> None:
        self._r.set(Keys.MODEL, info.model_dump_json(), ex=ttl_s)

    def published_model(self) -> ModelInfo | None:
        raw = self._r.get(Keys.MODEL)
        return ModelInfo.model_validate_json(cast(bytes, raw)) if raw else None

    def heartbeat(self, hostname: str, ttl_s: float) -> None:
        """Worker `hostname` is alive for the next `ttl_s` seconds (one member of one sorted set,
        so that finding the live workers never scans the keyspace)."""
        self._beat(keys=[Keys.WORKERS], args=[hostname, max(int(ttl_s * 1000), 1)])

    def clear_heartbeat(self, hostname: str) -> None:
        self._r.zrem(Keys.WORKERS, hostname)

    def workers(self) -> list[str]:
        """Hostnames of the workers whose heartbeat has not expired."""
        return sorted(h.decode() for h in cast(list[bytes], self._live(keys=[Keys.WORKERS])))


class JobStore:
    """Job states: a hash per job plus a pub/sub channel with every change (for SSE). Jobs are
    created by `Storage.claim` (or with their upload, `Storage.create_upload`)."""

    def __init__(self, client: redis.Redis) -> None:
        self._r = client
        self._save = client.register_script(_SAVE_IF_EXISTS)

    def save(self, state: JobState) -> bool:
        """Write and publish `state`; False (nothing written) when the job no longer exists."""
        args = [state.model_dump_json(), *_flat(_job_fields(state))]
        return bool(self._save(keys=[Keys.job(state.job_id), Keys.events(state.job_id)], args=args))

    def publish_preview(self, preview: JobPreview) -> None:
        """Publish a preview on the job's channel (one PUBLISH; nothing is stored: a stream that
        subscribes later never sees it, and the job hash stays small)."""
        self._r.publish(Keys.events(preview.job_id), preview.model_dump_json())

    def get(self, job_id: str) -> JobState:
        raw = cast(dict[bytes, bytes], self._r.hgetall(Keys.job(job_id)))
        if not raw:
            raise UnknownJobError(f"no job {job_id!r}: it never existed, expired or was deleted")
        return parse_job(raw)

    def delete(self, job_id: str) -> None:
        self._r.delete(Keys.job(job_id))


class JobSubscription:
    """The changes of one job as they are published (see `AsyncJobStore.subscribe`)."""

    def __init__(self, pubsub: Any) -> None:
        self._pubsub = pubsub

    async def next(self, timeout_s: float) -> JobState | JobPreview | None:
        """The next published state or preview, or None when none came within `timeout_s`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while (left := deadline - loop.time()) > 0:
            message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
            if message is not None:
                return parse_message(message["data"])
            # None also answers a (un)subscribe confirmation before the timeout: wait on
        return None


class AsyncJobStore:
    """Reading jobs from the event loop (the server-sent event streams): asyncio Redis client."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._r = client

    async def get(self, job_id: str) -> JobState | None:
        raw = cast(dict[bytes, bytes], await self._r.hgetall(Keys.job(job_id)))
        return parse_job(raw) if raw else None

    @asynccontextmanager
    async def subscribe(self, job_id: str) -> AsyncIterator[JobSubscription]:
        """Subscribe to the job's channel (read the job after this, so no change is lost)."""
        pubsub = self._r.pubsub()
        await pubsub.subscribe(Keys.events(job_id))
        try:
            yield JobSubscription(pubsub)
        finally:
            await pubsub.aclose()

    async def aclose(self) -> None:
        await self._r.aclose()
