"""`Studio`: what the routes call. Validates, stores uploads, queues tasks by name, reads jobs.

Never waits on a task: every POST answers with a job id as soon as the task is queued, and
progress comes from the job hash and its pub/sub channel that the worker writes.
"""

from __future__ import annotations

import contextlib
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from typing import cast

import redis
import redis.asyncio as aioredis
from celery import Celery
from pydantic import BaseModel

from backend.attributes import describe
from backend.errors import (
    InvalidRequestError,
    QueueUnavailableError,
    StudioError,
    TooLargeError,
    UnknownAttributeError,
    UnknownJobError,
    UnknownLatentError,
)
from backend.schemas import (
    AttributesOut,
    HealthOut,
    InterpolateRequest,
    Limits,
    ManipulateRequest,
    SampleRequest,
)
from backend.settings import Settings
from backend.upload import ComposedCache, compose_photo, prepare_upload
from worker.contracts import (
    ENCODE,
    INTERPOLATE,
    MANIPULATE,
    QUEUE,
    SAMPLE,
    EncodeJob,
    InterpolateJob,
    JobError,
    JobKind,
    JobState,
    ManipulateJob,
    ModelInfo,
    SampleJob,
    check_steps,
    legal_step_counts,
)
from worker.storage import Composite, JobStore, Keys, Storage, UploadMeta, edit_digest


def _new_id() -> str:
    return uuid.uuid4().hex


def encode_default_steps(settings: Settings, info: ModelInfo) -> int:
    """Inversion steps of an encode that names none: DEFAULT_ENCODE_STEPS, else the model's
    `encode_steps`, else the default steps; a model default above MAX_STEPS becomes the largest
    legal count within it (so that an encode without `steps` is never refused)."""
    s = settings
    chosen = s.default_encode_steps or info.default_encode_steps or s.default_steps or info.default_steps
    if chosen <= s.max_steps:
        return chosen
    within = [n for n in legal_step_counts(info.num_timesteps) if n <= s.max_steps]
    return within[-1] if within else s.max_steps


class Studio:
    """The service behind the HTTP API.

    Args:
        settings: the web tier's settings.
        client: synchronous Redis client (bytes responses) for storage and job states.
        aclient: asyncio Redis client, for the server-sent event streams.
        producer: Celery app used only to send tasks by name.
    """

    def __init__(
        self, settings: Settings, client: redis.Redis, aclient: aioredis.Redis, producer: Celery
    ) -> None:
        self.settings = settings
        self.storage = Storage(client, settings.ttl_seconds)
        self.jobs = JobStore(client, settings.ttl_seconds)
        self.aclient = aclient
        self.producer = producer
        self.composed = ComposedCache(settings.composed_cache_bytes)

    # ------------------------------------------------------------------ model facts
    def model(self) -> ModelInfo:
        """The model the workers serve (as they published it), else what `MODEL_DIR` holds."""
        try:
            published = self.storage.published_model()
        except redis.RedisError:
            published = None  # the model's facts are still in MODEL_DIR; Redis is needed later anyway
        if published is not None:
            return published
        try:
            return ModelInfo.from_dir(self.settings.model_dir)
        except (OSError, ValueError) as exc:
            raise StudioError(
                "model_unavailable",
                f"no worker has published its model yet and MODEL_DIR is not readable here ({exc})",
                503,
            ) from exc

    def attributes(self) -> AttributesOut:
        """The model's edit directions and this server's limits."""
        info, s = self.model(), self.settings
        limits = Limits(
            max_upload_bytes=s.max_upload_bytes,
            max_pixels=s.max_pixels,
            default_steps=s.default_steps or info.default_steps,
            default_encode_steps=encode_default_steps(s, info),
            max_steps=s.max_steps,
            default_frames=s.default_frames,
            max_frames=s.max_frames,
            max_edit_amount=s.max_edit_amount,
            max_samples=s.max_samples,
        )
        return describe(info, limits)

    def _steps(self, steps: int | None, info: ModelInfo, name: str = "steps") -> int:
        if steps is None:
            steps = self.settings.default_steps or info.default_steps
        try:
            return check_steps(steps, info.num_timesteps, self.settings.max_steps)
        except ValueError as exc:
            raise InvalidRequestError(str(exc).replace("steps=", f"{name}=")) from exc

    def _require_worker(self) -> None:
        if self.settings.require_worker and not self.storage.workers():
            raise QueueUnavailableError(
                "no worker is running (no heartbeat in Redis); start one with "
                "`celery -A worker.celery_app worker --pool=solo`",
                self.settings.retry_after_seconds,
            )

    def _require_latent(self, lid: str) -> None:
        if not self.storage.has_latent(lid):
            self.storage.latent(lid)  # raises unknown_latent with the reason (never / not yet encoded)

    # ------------------------------------------------------------------ submitting
    def _submit(self, kind: JobKind, task: str, payload: BaseModel, job_id: str, lids: list[str]) -> str:
        """Create the job hash, then queue the task; undo the hash when queueing fails."""
        self.jobs.create(job_id, kind, lids, self.storage)
        try:
            self.producer.send_task(task, kwargs=payload.model_dump(mode="json"), task_id=job_id, queue=QUEUE)
        except Exception:
            with contextlib.suppress(redis.RedisError):
                self.jobs.delete(job_id)
            raise
        return job_id

    def encode(
        self,
        data: bytes,
        face: int,
        steps: int | None,
        upload_size: int | None = None,
        render_steps: int | None = None,
    ) -> EncodeJob:
        """Align face `face` of an uploaded photo and queue its encoding. Blocking (CPU).

        `steps`: inversion steps (default `encode_default_steps`); `render_steps`: steps of the
        reconstruction (default: the edits' default). `data` may be cut at MAX_UPLOAD_BYTES + 1;
        `upload_size` is then the real size.
        """
        limit = self.settings.max_upload_bytes
        if upload_size is not None and upload_size > limit:
            raise TooLargeError(f"the upload is {upload_size:,} bytes; the limit is {limit:,} bytes")
        info = self.model()
        n = self._steps(encode_default_steps(self.settings, info) if steps is None else steps, info)
        render = self._steps(render_steps, info, "render_steps")
        if face < 0:
            raise InvalidRequestError(f"face must be ≥ 0 (0 is the largest face), got {face}")
        self._require_worker()
        upload = prepare_upload(data, face, info.image_size, self.settings)
        lid, job_id = _new_id(), _new_id()
        meta = UploadMeta(
            latent_id=lid,
            quad=upload.quad.tolist(),
            faces=upload.faces,
            face=upload.face,
            preset=info.preset,
            image_size=info.image_size,
            photo_size=upload.photo_size,
        )
        self.storage.create_upload(meta, data, upload.aligned_png)
        payload = EncodeJob(job_id=job_id, latent_id=lid, steps=n, render_steps=render)
        self._submit("encode", ENCODE, payload, job_id, [lid])
        return payload

    def manipulate(self, req: ManipulateRequest) -> str:
        """Queue an edit; an identical earlier request (same latent, edits, steps) answers with
        its own job (already succeeded, or still running) instead of computing again."""
        info = self.model()
        n = self._steps(req.steps, info)
        unknown = sorted(set(req.edits) - set(info.attributes))
        if unknown:
            known = ", ".join(info.attributes) or "none (this model has no attribute classifier)"
            raise UnknownAttributeError(f"unknown attribute(s) {', '.join(unknown)}; this model has: {known}")
        limit = self.settings.max_edit_amount
        too_far = {k: v for k, v in req.edits.items() if abs(v) > limit}
        if too_far:
            raise InvalidRequestError(f"edit amounts must be within ±{limit}; got {too_far}")
        lid = req.latent_id
        self._require_latent(lid)
        self.storage.touch(lid)
        digest = edit_digest(req.edits, n)
        earlier = self._usable(self.storage.r.get(Keys.edit(lid, digest)))
        if earlier is not None:
            return earlier
        self._require_worker()
        job_id = _new_id()
        self.jobs.create(job_id, "manipulate", [lid], self.storage)
        claimed = self.storage.claim_edit(lid, digest, job_id)
        if claimed is not None:
            if (same := self._usable(claimed)) is not None:  # an identical request won the race
                self.jobs.delete(job_id)
                return same
            self.storage.replace_edit(lid, digest, job_id)
        payload = ManipulateJob(job_id=job_id, latent_id=lid, edits=req.edits, steps=n)
        try:
            return self._submit("manipulate", MANIPULATE, payload, job_id, [lid])
        except Exception:
            self.storage.r.delete(Keys.edit(lid, digest))
            raise

    def _usable(self, job_id: bytes | str | None) -> str | None:
        """`job_id` if that job exists and has not failed (a failed edit is computed again)."""
        if job_id is None:
            return None
        jid = job_id.decode() if isinstance(job_id, bytes) else job_id
        try:
            return jid if self.jobs.get(jid).status != "failed" else None
        except UnknownJobError:
            return None

    def interpolate(self, req: InterpolateRequest) -> str:
        info = self.model()
        n = self._steps(req.steps, info)
        s = self.settings
        if req.alphas is not None:
            alphas = list(req.alphas)
        else:
            frames = req.frames or s.default_frames
            alphas = [i / (frames - 1) for i in range(frames)]
        if len(alphas) > s.max_frames:
            raise InvalidRequestError(f"at most {s.max_frames} frames per interpolation, got {len(alphas)}")
        a, b = req.latent_ids
        for lid in (a, b):
            self._require_latent(lid)
            self.storage.touch(lid)
        self._require_worker()
        job_id = _new_id()
        payload = InterpolateJob(job_id=job_id, latent_ids=(a, b), alphas=alphas, steps=n)
        return self._submit("interpolate", INTERPOLATE, payload, job_id, [a, b])

    def sample(self, req: SampleRequest) -> str:
        info = self.model()
        if not info.can_sample:
            message = f"model {info.preset!r} has no latent DPM: it cannot sample"
            raise StudioError("sampling_unavailable", message, 409)
        if req.n > self.settings.max_samples:
            raise InvalidRequestError(f"n must be at most {self.settings.max_samples}, got {req.n}")
        n = self._steps(req.steps, info)
        latent_default = info.latent_default_steps or info.default_steps
        latent_steps = self._steps(
            req.latent_steps if req.latent_steps is not None else latent_default, info, "latent_steps"
        )
        self._require_worker()
        job_id = _new_id()
        seed = req.seed if req.seed is not None else secrets.randbits(32)
        payload = SampleJob(job_id=job_id, n=req.n, steps=n, latent_steps=latent_steps, seed=seed)
        return self._submit("sample", SAMPLE, payload, job_id, [])

    # ------------------------------------------------------------------ reading
    def job(self, job_id: str) -> JobState:
        return self.jobs.get(job_id)

    def image(self, image_id: str) -> tuple[bytes, str]:
        """(bytes, content type); whole photos with an edit pasted back are composed here."""
        found = self.storage.image(image_id)  # first: a deleted result is 404 even if cached
        if isinstance(found, Composite):
            data = self.composed.get(image_id)
            if data is None:
                data = compose_photo(self.storage, image_id, found)
                self.composed.put(image_id, found.latent_id, data)
            return data, "image/png"
        return found

    def delete_latent(self, lid: str) -> None:
        self.composed.drop(lid)
        if not self.storage.delete(lid):
            raise UnknownLatentError(f"no latent {lid!r}: it never existed, expired or was already deleted")

    def health(self) -> HealthOut:
        try:
            workers = self.storage.workers()
            model = self.storage.published_model()
        except redis.RedisError as exc:
            error = JobError(code="queue_unavailable", message=f"Redis does not answer ({exc})")
            return HealthOut(status="unavailable", redis=False, workers=[], error=error)
        if not workers:
            error = JobError(code="queue_unavailable", message="no worker is running (no heartbeat in Redis)")
            return HealthOut(status="unavailable", redis=True, workers=[], error=error)
        return HealthOut(status="ok", redis=True, workers=workers, model=model.preset if model else None)

    async def events(self, job_id: str, keepalive_s: float = 15.0) -> AsyncIterator[JobState | None]:
        """The job's state now, then every change until a final status (None: nothing new).

        Subscribes before reading the hash, so no change between the two is lost.
        """
        pubsub = self.aclient.pubsub()
        await pubsub.subscribe(Keys.events(job_id))
        try:
            raw = cast(dict[bytes, bytes], await self.aclient.hgetall(Keys.job(job_id)))
            if not raw:
                return
            last = JobStore.parse(raw)
            yield last
            sent = time.monotonic()
            while not last.final:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=keepalive_s)
                if message is not None:
                    last = JobState.model_validate_json(message["data"])
                    yield last
                    sent = time.monotonic()
                    continue
                if time.monotonic() - sent < keepalive_s:  # it was a (un)subscribe confirmation
                    continue
                sent = time.monotonic()
                raw = cast(dict[bytes, bytes], await self.aclient.hgetall(Keys.job(job_id)))
                if not raw:  # expired or deleted while we waited
                    return
                state = JobStore.parse(raw)
                yield state if state != last else None
                last = state
        finally:
            await pubsub.aclose()
