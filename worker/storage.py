"""Blobs and job states in Redis, every key with a TTL. Torch-free: backend and worker share it.

The only module that talks to Redis for the service's own data (Celery's broker keys are
Celery's). Several steps that belong together are one Lua script, so that each is one round
trip and atomic: submitting a job (`Storage.claim`), storing an image and indexing it
(`Storage.put_image`), saving a job state and publishing it (`JobStore.save`), a heartbeat.

Key layout (prefix ``diffae:``); every id is `worker.ids`' (32 hex digits, unguessable)::

    latent:{lid}:meta      JSON UploadMeta (quad, faces, preset, image key, ...)  ← the upload exists
    latent:{lid}:photo     the original upload bytes (decoded again for paste-back)
    latent:{lid}:code      hash {z_sem, z_shape, x_T, x_T_shape, preset, steps}  ← encoded
    latent:{lid}:keys      set of every other key that belongs to this upload (index)
    latent:{lid}:images    set of the images that live as long as the upload: its aligned crop and
                           its unedited renders (one per steps, solver and grid)
    latent:{lid}:edit:{h}  job id of a manipulate request (h = digest of edits, steps, solver, grid,
                           strip)
    image:{iid}            hash {data, type}; iid = `worker.ids.image_id` of the image's name under
                           its owner's secret image key (the upload's, or the job's); or, for a
                           whole photo with a crop pasted back, hash {type: composite, latent, crop
                           [, base]}: composed when fetched
    job:{jid}              hash {job_id, kind, status, progress, result, error[, attempts]}
    job:{jid}:events       pub/sub channel: one JSON JobState per change, and JobPreview messages
                           (`"type": "preview"`, published only, never stored)
    queued                 sorted set: job id → when it was queued (ms), while no worker runs it
                           (a queued job's position: `JobStore.queue_position`)
    running                hash: job id → JSON {worker, task, payload} of every job a worker runs
                           now (`JobStore.reap` hands back the jobs of workers that died)
    workers                sorted set: worker id → expiry of its heartbeat (ms, Redis clock)
    model                  ModelInfo JSON published by the workers
    epoch                  when this store began (ms, Redis clock; set by the first writer), so that
                           an id made before a Redis restart without persistence is reported as
                           lost with the store (`store_reset`), not as never existing

An upload's expiry is set once, by the web tier, at upload time, and pushed back to a full TTL
whenever the upload is used (`claim`): its own keys (meta, photo, code, index, and the images
of `images`: the aligned crop and the unedited renders). Keys written later for it (its code,
job results) take the remaining TTL of the key they belong to, so everything of one upload goes
at about the same time. `delete` removes the index and every key in it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import redis
import redis.asyncio as aioredis
from pydantic import BaseModel, Field, ValidationError

from models.errors import (
    StoreResetError,
    StudioError,
    UnknownDirectionError,
    UnknownImageError,
    UnknownJobError,
    UnknownLatentError,
)
from worker.contracts import JobError, JobPreview, JobState, ModelInfo, Strip
from worker.ids import image_id, made_at

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
    def images(lid: str) -> str:
        return f"{PREFIX}latent:{lid}:images"

    @staticmethod
    def edit(lid: str, digest: str) -> str:
        return f"{PREFIX}latent:{lid}:edit:{digest}"

    @staticmethod
    def image(iid: str) -> str:
        return f"{PREFIX}image:{iid}"

    @staticmethod
    def direction(did: str) -> str:
        return f"{PREFIX}direction:{did}"

    @staticmethod
    def job(jid: str) -> str:
        return f"{PREFIX}job:{jid}"

    @staticmethod
    def events(jid: str) -> str:
        return f"{PREFIX}job:{jid}:events"

    JOB_PREFIX = f"{PREFIX}job:"
    MODEL = f"{PREFIX}model"
    WORKERS = f"{PREFIX}workers"
    RUNNING = f"{PREFIX}running"
    QUEUED = f"{PREFIX}queued"
    EPOCH = f"{PREFIX}epoch"


def aligned_id(meta: UploadMeta) -> str:
    """The image id of an upload's aligned crop."""
    return image_id(meta.image_key, "aligned")


def base_id(meta: UploadMeta, steps: int, solver: str = "ddim", grid: str = "uniform") -> str:
    """The image id of an upload's unedited render at `steps` with `solver` on `grid` (the encode's
    reconstruction at its render steps; what an edit rendered so changed is measured from it)."""
    return image_id(meta.image_key, f"base{steps}-{solver}-{grid}")


class UploadMeta(BaseModel):
    """What the backend learnt while aligning an upload."""

    latent_id: str
    quad: list[list[float]]  # (4, 2) photo coordinates of the crop's corners
    faces: list[tuple[int, int, int, int]]
    face: int
    preset: str
    image_size: int
    photo_size: tuple[int, int]
    #: The secret its image ids are keyed with (`worker.ids.image_id`): never shown to clients.
    image_key: str = Field(pattern=r"^[0-9a-f]{32}$")
    #: The face's 68 landmarks in crop units (`models.regions`), for region-limited edits.
    landmarks: list[tuple[float, float]] | None = None


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
    keep: Sequence[str] = (),
    region: str | None = None,
    brush: str | None = None,
) -> str:
    """A key for "the same manipulate request": edits (order-free, zero amounts dropped), steps,
    solver, grid, the strip (its amounts in order: they are the frames' order), the attributes
    kept fixed (order-free), the region and the brush mask (its canonical PNG)."""
    active = sorted((k, float(v)) for k, v in edits.items() if v != 0)
    frames = None if strip is None else [strip.attribute, [float(a) for a in strip.amounts]]
    fields = {"edits": active, "steps": steps, "solver": solver, "grid": grid, "strip": frames}
    if keep:  # absent when empty: the digests of plain edits stay what they were
        fields["keep"] = sorted(set(keep))
    if region is not None:
        fields["region"] = region
    if brush is not None:
        fields["brush"] = hashlib.sha256(brush.encode()).hexdigest()
    canonical = json.dumps(fields)
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

# The store's epoch (`Keys.EPOCH`): set to now by the first writer after a (re)start (a claim,
# a heartbeat, a miss; an upload sets it from the web tier's clock), never changed after.
_ENSURE_EPOCH = """
local function ensure_epoch(key) redis.call('SET', key, now, 'NX') end
"""

# When this store began: KEYS epoch.
_EPOCH = _NOW_MS + _ENSURE_EPOCH + """
ensure_epoch(KEYS[1])
return redis.call('GET', KEYS[1])
"""

# A heartbeat: KEYS workers, epoch; ARGV worker id, TTL ms. Drops expired members, keeps the set
# itself alive as long as its longest-lived member.
_HEARTBEAT = _NOW_MS + _EXTEND + _ENSURE_EPOCH + """
ensure_epoch(KEYS[2])
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

# Submit a job. KEYS: workers, job, edit (or the job key again when there is none), epoch,
# queued, then per upload: code, meta, photo, index, images. ARGV: TTL s, require a worker (1/0), job id, job
# key prefix, has an edit key (1/0), job fields...
# Every upload must be encoded (else {'unknown_latent', i, meta exists}); their keys get a full
# TTL; an identical earlier edit that exists and has not failed answers ({'earlier', id});
# without a live worker nothing is written ({'no_worker'}); else the job hash is created, the
# edit key set, both indexed under every upload ({'created', id}).
_CLAIM = _NOW_MS + _EXTEND + _ENSURE_EPOCH + """
local ttl = tonumber(ARGV[1])
local uploads = (#KEYS - 5) / 5
ensure_epoch(KEYS[4])
for i = 0, uploads - 1 do
  local base = 6 + i * 5
  if redis.call('EXISTS', KEYS[base]) == 0 then
    return {'unknown_latent', i, redis.call('EXISTS', KEYS[base + 1])}
  end
end
for i = 0, uploads - 1 do
  local base = 6 + i * 5
  for k = base, base + 2 do redis.call('EXPIRE', KEYS[k], ttl) end
  extend(KEYS[base + 3], ttl * 1000)
  local images = KEYS[base + 4]
  if redis.call('EXPIRE', images, ttl) == 1 then
    for _, key in ipairs(redis.call('SMEMBERS', images)) do redis.call('EXPIRE', key, ttl) end
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
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - ttl * 1000)  -- long gone, whatever happened
redis.call('ZADD', KEYS[5], now, ARGV[3])
extend(KEYS[5], ttl * 1000)
if has_edit then redis.call('SET', KEYS[3], ARGV[3], 'EX', ttl) end
for i = 0, uploads - 1 do
  local index = KEYS[6 + i * 5 + 3]
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

# Write a job hash only while it exists and has not ended (a deleted or cancelled job is not
# resurrected by a late worker), and publish the new state in the same step; a job starting to
# run is recorded in `running` with who runs it, and a job is in `queued` while it waits. KEYS:
# job, channel, running, queued; ARGV: state JSON, job id, running record ('' for none), fields...
_SAVE_IF_EXISTS = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status or status == 'succeeded' or status == 'failed' then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('PUBLISH', KEYS[2], ARGV[1])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[3], ARGV[2], ARGV[3]) end
if redis.call('HGET', KEYS[1], 'status') == 'queued' then
  local t = redis.call('TIME')
  redis.call('ZADD', KEYS[4], 'NX', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), ARGV[2])
else
  redis.call('ZREM', KEYS[4], ARGV[2])
end
return 1
"""

# The running jobs whose worker's heartbeat expired: each is taken out of `running` (so that
# one reaper only hands it back) and, if it still reads "running", its loss counted in its hash.
# KEYS: running, workers; ARGV: job key prefix. Returns {record, losses} per job handed back.
# `running` holds at most one job per live worker, plus those of workers that died.
_REAP = _NOW_MS + """
local lost = {}
local entries = redis.call('HGETALL', KEYS[1])
for i = 1, #entries, 2 do
  local jid, record = entries[i], entries[i + 1]
  local expiry = redis.call('ZSCORE', KEYS[2], cjson.decode(record)['worker'])
  if not expiry or tonumber(expiry) < now then
    redis.call('HDEL', KEYS[1], jid)
    local job = ARGV[1] .. jid
    if redis.call('HGET', job, 'status') == 'running' then
      table.insert(lost, {record, redis.call('HINCRBY', job, 'attempts', 1)})
    end
  end
end
return lost
"""


def _upload_keys(lid: str) -> list[str]:
    """The keys `claim` needs of one upload, in its order."""
    return [Keys.code(lid), Keys.meta(lid), Keys.photo(lid), Keys.index(lid), Keys.images(lid)]


class StoreEpoch:
    """When the store began (`Keys.EPOCH`), to tell what a Redis restart without persistence lost
    from what expired or never existed: an id made shortly before the store began (within
    `window_s`) would still be there had the store kept it."""

    def __init__(self, client: redis.Redis, window_s: float) -> None:
        self._epoch = client.register_script(_EPOCH)
        self.window_s = window_s

    def lost(self, what: str, id_: str) -> StoreResetError | None:
        """The error for `what` (e.g. "latent") `id_`, which was not found, when the store lost it
        in a reset; None when it expired, was deleted or never existed. One round trip (only
        ever on a miss)."""
        born = made_at(id_)
        if born is None:
            return None
        began_ms = int(cast(bytes, self._epoch(keys=[Keys.EPOCH])))
        # A second of slack: ids are stamped by the web tier's clock, the epoch by Redis'.
        if not 0 < began_ms - born * 1000 - 1000 < self.window_s * 1000:
            return None
        began = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(began_ms / 1000))
        return StoreResetError(
            f"{what} {id_!r} was lost when the server's store was reset at {began} (Redis restarted "
            "without persistence: see REDIS_URL in the README); upload the photo again"
        )

    def missing(self, what: str, id_: str, error: StudioError) -> StudioError:
        """`error`, or `store_reset` when the store lost `id_` in a reset (`lost`)."""
        return self.lost(what, id_) or error


class Storage:
    """Uploads, latents, images, job submission, heartbeats and the published model facts.

    Args:
        client: a Redis client with ``decode_responses=False``.
        ttl_s: lifetime of a new upload, and the fallback for keys whose owner has no TTL.
    """

    def __init__(self, client: redis.Redis, ttl_s: int) -> None:
        self._r = client
        self.ttl_s = ttl_s
        self.epoch = StoreEpoch(client, reset_window_s(ttl_s))
        self._claim = client.register_script(_CLAIM)
        self._abandon = client.register_script(_ABANDON)
        self._put = client.register_script(_PUT_RECORD)
        self._beat = client.register_script(_HEARTBEAT)
        self._live = client.register_script(_LIVE_WORKERS)

    def close(self) -> None:
        self._r.close()

    # ------------------------------------------------------------------ uploads
    def create_upload(
        self, meta: UploadMeta, photo: bytes, aligned_png: bytes, job: JobState | None = None,
        ttl_s: int | None = None, index: Sequence[str] = (),
    ) -> None:
        """Store a new upload (original photo, aligned crop as image `aligned_id(meta)`, meta) and
        its encode job, queued, indexed under it, living `ttl_s` (default: this store's TTL): one
        round trip. `index`: other keys that name the upload, deleted with it."""
        lid, ttl = meta.latent_id, ttl_s or self.ttl_s
        aligned = Keys.image(aligned_id(meta))
        with self._r.pipeline() as p:
            p.set(Keys.EPOCH, int(time.time() * 1000), nx=True)
            p.set(Keys.photo(lid), photo, ex=ttl)
            p.hset(aligned, mapping={"data": aligned_png, "type": "image/png"})
            p.expire(aligned, ttl)
            p.sadd(Keys.index(lid), aligned)
            p.sadd(Keys.images(lid), aligned)
            p.expire(Keys.images(lid), ttl)
            if job is not None:
                job_key = Keys.job(job.job_id)
                if job.status == "queued":
                    p.zadd(Keys.QUEUED, {job.job_id: int(time.time() * 1000)})
                    p.expire(Keys.QUEUED, ttl, nx=True)
                    p.expire(Keys.QUEUED, ttl, gt=True)
                p.hset(job_key, mapping=cast(dict[Any, Any], _job_fields(job)))
                p.expire(job_key, ttl)
                p.sadd(Keys.index(lid), job_key)
            for key in index:
                p.sadd(Keys.index(lid), key)
            p.expire(Keys.index(lid), ttl)
            p.set(Keys.meta(lid), meta.model_dump_json(), ex=ttl)
            p.execute()

    def unknown_latent(self, lid: str) -> StudioError:
        """The error for an upload that is not there (`store_reset` when a reset lost it)."""
        error = UnknownLatentError(f"no latent {lid!r}: it never existed, expired or was deleted")
        return self.epoch.missing("latent", lid, error)

    def meta(self, lid: str) -> UploadMeta:
        raw = self._r.get(Keys.meta(lid))
        if raw is None:
            raise self.unknown_latent(lid)
        try:
            return UploadMeta.model_validate_json(cast(bytes, raw))
        except ValidationError:  # a persistent Redis kept it across an upgrade
            raise UnknownLatentError(
                f"latent {lid!r} was stored by an older version of the server; upload the photo again"
            ) from None

    def photo(self, lid: str) -> bytes:
        raw = self._r.get(Keys.photo(lid))
        if raw is None:
            raise self.epoch.missing("latent", lid, UnknownLatentError(
                f"the photo of latent {lid!r} expired or was deleted"))
        return cast(bytes, raw)

    def aligned(self, meta: UploadMeta) -> bytes:
        return self.stored_bytes(aligned_id(meta))

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
        keys = [Keys.WORKERS, job_key, edit_key, Keys.EPOCH, Keys.QUEUED,
                *(k for lid in lids for k in _upload_keys(lid))]
        args = [self.ttl_s, int(require_worker), job.job_id, Keys.JOB_PREFIX, int(edit_digest is not None),
                *_flat(_job_fields(job))]
        answer = cast(list[Any], self._claim(keys=keys, args=args))
        outcome = answer[0].decode()
        if outcome == "unknown_latent":
            lid = lids[int(answer[1])]
            if answer[2]:
                message = f"latent {lid!r} is not encoded yet: wait for its encode job to succeed"
                raise UnknownLatentError(message)
            raise self.unknown_latent(lid)
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
            raise self.unknown_latent(lid)
        z = np.frombuffer(raw[b"z_sem"], dtype=np.float32).reshape(json.loads(raw[b"z_shape"]))
        x = np.frombuffer(raw[b"x_T"], dtype=np.float32).reshape(json.loads(raw[b"x_T_shape"]))
        return Latent(z_sem=z, x_T=x, preset=raw[b"preset"].decode(), steps=int(raw[b"steps"]))

    # ------------------------------------------------------------------ images
    def put_image(self, iid: str, data: bytes, content_type: str, *, owner_key: str, lids: list[str]) -> str:
        """Store an image that expires with `owner_key` (its job), indexed under `lids`."""
        return self._put_record(iid, {"data": data, "type": content_type}, owner_key, lids)

    def put_base(
        self, meta: UploadMeta, steps: int, png: bytes, solver: str = "ddim", grid: str = "uniform"
    ) -> str:
        """Store the upload's unedited render at `steps` with `solver` on `grid` (`base_id`),
        living as long as the upload: its TTL is pushed back with the upload's own keys whenever
        the upload is used."""
        lid, iid = meta.latent_id, base_id(meta, steps, solver, grid)
        fields: dict[str, bytes | str] = {"data": png, "type": "image/png"}
        return self._put_record(iid, fields, Keys.meta(lid), [lid], extra_sets=[Keys.images(lid)])

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
            raise self.epoch.missing("image", iid, UnknownImageError(iid))
        if raw[b"type"] == COMPOSITE.encode():
            base = raw.get(b"base")
            return Composite(latent_id=raw[b"latent"].decode(), crop_id=raw[b"crop"].decode(),
                             base_id=base.decode() if base is not None else None)
        return raw[b"data"], raw[b"type"].decode()

    # ------------------------------------------------------------------ taught directions
    def put_direction(self, did: str, record: Direction, lids: Sequence[str], ttl_s: int) -> None:
        """Store a taught direction for `ttl_s`, indexed under every upload it was taught from (so
        that deleting any of them deletes it: it was made from their faces)."""
        key = Keys.direction(did)
        with self._r.pipeline() as p:
            p.set(key, record.model_dump_json(), ex=ttl_s)
            for lid in lids:
                p.sadd(Keys.index(lid), key)
            p.execute()

    def direction(self, did: str) -> Direction:
        raw = self._r.get(Keys.direction(did))
        if raw is None:
            error = UnknownDirectionError(f"no taught direction {did!r}: it never existed, expired, or "
                                          "one of the faces it was taught from was deleted")
            raise self.epoch.missing("direction", did, error)
        return Direction.model_validate_json(cast(bytes, raw))

    def delete_direction(self, did: str) -> None:
        """Forget a taught direction (its index entries go with their uploads)."""
        if not self._r.delete(Keys.direction(did)):
            error = UnknownDirectionError(f"no taught direction {did!r}: it never existed, expired or was "
                                          "deleted")
            raise self.epoch.missing("direction", did, error)

    def missing_directions(self, dids: Sequence[str]) -> list[str]:
        """Those of `dids` that are not stored (one round trip)."""
        with self._r.pipeline(transaction=False) as p:
            for did in dids:
                p.exists(Keys.direction(did))
            found = p.execute()
        return [did for did, there in zip(dids, found, strict=True) if not there]

    # ------------------------------------------------------------------ model and workers
    def publish_model(self, info: ModelInfo, ttl_s: int) -> None:
        self._r.set(Keys.MODEL, info.model_dump_json(), ex=ttl_s)

    def published_model(self) -> ModelInfo | None:
        raw = self._r.get(Keys.MODEL)
        return ModelInfo.model_validate_json(cast(bytes, raw)) if raw else None

    def heartbeat(self, worker_id: str, ttl_s: float) -> None:
        """Worker `worker_id` is alive for the next `ttl_s` seconds (one member of one sorted set,
        so that finding the live workers never scans the keyspace)."""
        self._beat(keys=[Keys.WORKERS, Keys.EPOCH], args=[worker_id, max(int(ttl_s * 1000), 1)])

    def clear_heartbeat(self, worker_id: str) -> None:
        self._r.zrem(Keys.WORKERS, worker_id)

    def workers(self) -> list[str]:
        """Ids ("{node name}/{instance}") of the workers whose heartbeat has not expired."""
        return sorted(h.decode() for h in cast(list[bytes], self._live(keys=[Keys.WORKERS])))


class Direction(BaseModel):
    """A direction taught from examples (`models.teach`), as stored, exported and imported."""

    name: str = Field(min_length=1, max_length=40)
    preset: str = Field(description="the model whose normalised z_sem space it lives in")
    direction: list[float] = Field(description="unit vector in the classifier's normalised z_sem space")
    method: str
    accuracy: float | None = None
    auroc: float | None = None
    positives: int = 0
    negatives: int = 0


class RunningJob(BaseModel):
    """Who runs a job now, and what to queue again should that worker die (`Keys.RUNNING`)."""

    worker: str
    task: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class LostJob:
    """A job whose worker died while running it (`JobStore.reap`): `losses` counts the workers it
    has lost so far."""

    job_id: str
    running: RunningJob
    losses: int


def reset_window_s(ttl_s: int) -> float:
    """How long before a store reset an id may have been made for its loss to be blamed on the
    reset (`StoreEpoch`): uploads live TTL_SECONDS from their last use, so any bound is a guess;
    ten lifetimes, at least a day."""
    return max(10.0 * ttl_s, 86400.0)


class JobStore:
    """Job states: a hash per job plus a pub/sub channel with every change (for SSE), and the
    record of which worker runs which job (`Keys.RUNNING`). Jobs are created by `Storage.claim`
    (or with their upload, `Storage.create_upload`)."""

    def __init__(self, client: redis.Redis, ttl_s: int = 3600) -> None:
        self._r = client
        self.epoch = StoreEpoch(client, reset_window_s(ttl_s))
        self._save = client.register_script(_SAVE_IF_EXISTS)
        self._reap = client.register_script(_REAP)

    def save(self, state: JobState, running: RunningJob | None = None) -> bool:
        """Write and publish `state` (and, with `running`, record who runs it); False (nothing
        written) when the job no longer exists."""
        record = running.model_dump_json() if running is not None else ""
        args = [state.model_dump_json(), state.job_id, record, *_flat(_job_fields(state))]
        keys = [Keys.job(state.job_id), Keys.events(state.job_id), Keys.RUNNING, Keys.QUEUED]
        return bool(self._save(keys=keys, args=args))

    def cancel(self, job_id: str, reason: str) -> JobState:
        """Cancel a job that has not ended: "failed" with code `cancelled` (published, so its event
        streams end), so that a queued one is skipped when a worker takes it and a running one
        stops at its next step (its saves are refused). A job that has ended is left as it is.
        Returns the job's state after.

        Raises:
            UnknownJobError, StoreResetError: no such job.
        """
        state = self.get(job_id)
        if state.final:
            return state
        cancelled = state.model_copy(update={"status": "failed", "error": JobError(code="cancelled",
                                                                                     message=reason)})
        if not self.save(cancelled):  # it ended meanwhile
            return self.get(job_id)
        return cancelled

    def finish(self, job_id: str) -> None:
        """Job `job_id` no longer runs here (it ended, failed, went back to the queue or was gone),
        and no longer waits, unless it went back to the queue."""
        with self._r.pipeline() as p:
            p.hdel(Keys.RUNNING, job_id)
            p.hget(Keys.job(job_id), "status")
            _, status = p.execute()
        if status != b"queued":
            self._r.zrem(Keys.QUEUED, job_id)

    def queue_position(self, job_id: str) -> int | None:
        """How many jobs were queued before `job_id` and still wait (None: it does not wait)."""
        rank = self._r.zrank(Keys.QUEUED, job_id)
        return None if rank is None else int(cast(int, rank))

    def reap(self) -> list[LostJob]:
        """Take back the jobs whose worker died mid-run (its heartbeat expired): each is handed to
        one caller only, which queues it again or fails it (`worker.heartbeat`)."""
        found = cast(list[list[Any]], self._reap(keys=[Keys.RUNNING, Keys.WORKERS], args=[Keys.JOB_PREFIX]))
        lost = []
        for record, losses in found:
            running = RunningJob.model_validate_json(record)
            lost.append(LostJob(job_id=str(running.payload["job_id"]), running=running, losses=int(losses)))
        return lost

    def publish_preview(self, preview: JobPreview) -> None:
        """Publish a preview on the job's channel (one PUBLISH; nothing is stored: a stream that
        subscribes later never sees it, and the job hash stays small)."""
        self._r.publish(Keys.events(preview.job_id), preview.model_dump_json())

    def get(self, job_id: str) -> JobState:
        raw = cast(dict[bytes, bytes], self._r.hgetall(Keys.job(job_id)))
        if not raw:
            error = UnknownJobError(f"no job {job_id!r}: it never existed, expired or was deleted")
            raise self.epoch.missing("job", job_id, error)
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

    async def queue_position(self, job_id: str) -> int | None:
        """As `JobStore.queue_position`: the jobs queued before `job_id` that still wait."""
        rank = await self._r.zrank(Keys.QUEUED, job_id)
        return None if rank is None else int(cast(int, rank))

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
