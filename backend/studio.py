"""`Studio`: the four verbs of the API (encode, manipulate, interpolate, sample). Each checks its
request once (`backend.validate`), submits the job to storage in one round trip
(`Storage.claim`, or `Storage.create_upload` for a new photo) and queues its task by name.

Never waits on a task: every POST answers with a job id as soon as the task is queued, and
progress comes from the job hash and its pub/sub channel that the worker writes.

Redis round trips before the answer (the model facts are kept a few seconds, `ModelFacts`): a
new edit 2 (claim, queue), an identical earlier edit 1 (claim), an interpolation 2, a sample 2,
an encode 3 (live workers, upload with its job, queue); one more when the model facts are read.
"""

from __future__ import annotations

import contextlib
import math
import secrets
from collections.abc import Sequence

import redis

from backend.facts import ModelFacts
from backend.schemas import (
    DirectionIn,
    DirectionOut,
    InterpolateRequest,
    ManipulateRequest,
    SampleRequest,
    TeachRequest,
)
from backend.sender import TaskSender
from backend.settings import Settings
from backend.upload import prepare_upload
from backend.validate import Checks, upload_size
from models.errors import InvalidRequestError, QueueUnavailableError, UnknownDirectionError, echo
from models.examples import EXAMPLE
from models.examples import load as load_examples
from models.examples import parse_id as parse_example
from models.schedule import Grid, Solver
from models.teach import MIN_EXAMPLES
from worker.contracts import (
    CUSTOM,
    ENCODE,
    INTERPOLATE,
    MANIPULATE,
    SAMPLE,
    TEACH,
    EncodeJob,
    InterpolateJob,
    JobKind,
    JobState,
    ManipulateJob,
    ModelInfo,
    NewFace,
    SampleJob,
    TeachJob,
)
from worker.ids import new_id
from worker.storage import Claim, Direction, Storage, UploadMeta, edit_digest

Payload = EncodeJob | ManipulateJob | InterpolateJob | SampleJob | TeachJob


def _queued(job_id: str, kind: JobKind) -> JobState:
    return JobState(job_id=job_id, kind=kind, status="queued", progress=0.0)


class Studio:
    """The service behind the POST routes.

    Args:
        settings: the web tier's settings.
        facts: the served model's facts.
        storage: uploads and jobs in Redis.
        sender: queues tasks by name (Celery's producer in the service).
    """

    def __init__(self, settings: Settings, facts: ModelFacts, storage: Storage, sender: TaskSender) -> None:
        self.settings = settings
        self.facts = facts
        self.storage = storage
        self.sender = sender

    def encode(
        self,
        data: bytes,
        face: int,
        steps: int | None,
        size: int | None = None,
        render_steps: int | None = None,
        solver: Solver | None = None,
        grid: Grid | None = None,
    ) -> EncodeJob:
        """Align face `face` of an uploaded photo and queue its encoding. Blocking (CPU).

        `steps`: inversion steps (default: the solver's encode steps); `render_steps`: steps of
        the reconstruction (default: the solver's render steps); `solver`, `grid` of both (default
        DEFAULT_SOLVER and its grid). `data` may be cut at MAX_UPLOAD_BYTES + 1; `size` is then the
        real size.
        """
        upload_size(self.settings, size)
        info = self._facts()
        params = Checks(self.settings, info).encode(face, steps, render_steps, solver, grid)
        if self.settings.require_worker and not self.storage.workers():
            raise self._no_worker()  # before the CPU work of the alignment
        upload = prepare_upload(data, params.face, info.image_size, self.settings)
        lid, job_id = new_id(), new_id()
        meta = UploadMeta(
            latent_id=lid,
            image_key=new_id(),
            quad=upload.quad.tolist(),
            faces=upload.faces,
            face=upload.face,
            preset=info.preset,
            image_size=info.image_size,
            photo_size=upload.photo_size,
            landmarks=upload.landmarks,
        )
        self.storage.create_upload(meta, data, upload.aligned_png, _queued(job_id, "encode"))
        payload = EncodeJob(job_id=job_id, image_key=new_id(), latent_id=lid, steps=params.steps,
                            render_steps=params.render_steps, solver=params.solver, grid=params.grid)
        self._send(ENCODE, payload)
        return payload

    def manipulate(self, req: ManipulateRequest) -> str:
        """Queue an edit; an identical earlier request (same latent, edits, steps, solver, grid
        and strip) answers with its own job (already succeeded, or still running) instead of
        computing again."""
        p = Checks(self.settings, self._facts()).edits(req)
        s = p.sampling
        missing = self.storage.missing_directions(p.taught) if p.taught else []
        if missing:
            raise self.storage.epoch.missing("direction", missing[0], UnknownDirectionError(
                f"no taught direction {echo(missing)}: it never existed, expired, or one of the faces it "
                "was taught from was deleted"))
        lid = req.latent_id
        digest = edit_digest(p.edits, s.steps, s.solver, s.grid, p.strip, p.keep, p.region, p.brush)
        claim = self._claim(_queued(new_id(), "manipulate"), [lid], digest)
        if claim.created:
            payload = ManipulateJob(job_id=claim.job_id, image_key=new_id(), latent_id=lid, edits=p.edits,
                                    steps=s.steps, solver=s.solver, grid=s.grid, strip=p.strip, keep=p.keep,
                                    region=p.region, brush=p.brush)
            self._send(MANIPULATE, payload, lid, digest)
        return claim.job_id

    def interpolate(self, req: InterpolateRequest) -> str:
        alphas, s = Checks(self.settings, self._facts()).interpolation(req)
        a, b = req.latent_ids
        claim = self._claim(_queued(new_id(), "interpolate"), [a, b])
        payload = InterpolateJob(job_id=claim.job_id, image_key=new_id(), latent_ids=(a, b), alphas=alphas,
                                 steps=s.steps, solver=s.solver, grid=s.grid)
        self._send(INTERPOLATE, payload)
        return claim.job_id

    def sample(self, req: SampleRequest) -> tuple[str, list[str]]:
        """Queue a draw of faces; (job id, the faces' latent ids, stored when the job succeeds)."""
        params = Checks(self.settings, self._facts()).sample(req)
        claim = self._claim(_queued(new_id(), "sample"), [])
        seed = req.seed if req.seed is not None else secrets.randbits(32)
        s = params.sampling
        faces = [NewFace(latent_id=new_id(), image_key=new_id()) for _ in range(params.n)]
        payload = SampleJob(job_id=claim.job_id, image_key=new_id(), n=params.n, steps=s.steps,
                            latent_steps=params.latent_steps, seed=seed, solver=s.solver, grid=s.grid,
                            faces=faces, ttl_seconds=self.settings.ttl_seconds)
        self._send(SAMPLE, payload)
        return claim.job_id, [face.latent_id for face in faces]

    def teach(self, req: TeachRequest) -> str:
        """Queue the fit of a direction from example faces (`models.teach`): every face encoded,
        no face on both sides, enough of each (or no negatives on a model that can sample)."""
        info = self._facts()
        positives, negatives = list(dict.fromkeys(req.positives)), list(dict.fromkeys(req.negatives))
        both = set(positives) & set(negatives)
        if both:
            raise InvalidRequestError(f"a face cannot be an example of both sides: {echo(sorted(both))}")
        sides = (("with the property (positives)", positives), ("without it (negatives)", negatives))
        for side, faces in sides:
            if (faces is positives or faces) and len(faces) < MIN_EXAMPLES:  # no negatives: unlabelled
                raise InvalidRequestError(f"at least {MIN_EXAMPLES} different faces {side} are needed, "
                                          f"got {len(faces)}")
        if not negatives and not info.can_sample:
            raise InvalidRequestError(f"model {info.preset!r} cannot draw the unlabelled faces a "
                                      "positive-only direction is taught against: mark faces without it too")
        # Bundled faces (`example:{n}`) are the model's own, not uploads: only uploads are claimed
        # (each must exist), and the direction lives as long as they do.
        bundled = [face for face in (*positives, *negatives) if face.startswith(EXAMPLE)]
        if bundled:
            self._check_examples(bundled)
        uploads = [face for face in (*positives, *negatives) if not face.startswith(EXAMPLE)]
        claim = self._claim(_queued(new_id(), "teach"), uploads)
        payload = TeachJob(job_id=claim.job_id, image_key=new_id(), direction_id=new_id(), name=req.name,
                           positives=positives, negatives=negatives, ttl_seconds=self.settings.ttl_seconds)
        self._send(TEACH, payload)
        return claim.job_id

    def _check_examples(self, faces: Sequence[str]) -> None:
        """Every `example:{n}` names one of the served model's bundled faces."""
        examples = load_examples(self.settings.model_dir)
        count = 0 if examples is None or examples.preset != self._facts().preset else len(examples)
        unknown = [face for face in faces if (n := parse_example(face)) is None or n >= count]
        if unknown:
            has = f"example:0 to example:{count - 1}" if count else "none"
            raise InvalidRequestError(f"no bundled face {echo(unknown)}; the served model has {has} "
                                      "(GET /examples)")

    def import_direction(self, body: DirectionIn) -> DirectionOut:
        """Store an exported direction again (for the served model), unit length, living TTL_SECONDS."""
        info = self._facts()
        if body.preset != info.preset:
            raise InvalidRequestError(f"the direction {body.name!r} was taught on model "
                                      f"{echo([body.preset])}; this server serves {info.preset!r}")
        norm = math.sqrt(sum(v * v for v in body.direction))
        if norm == 0:
            raise InvalidRequestError("the direction is all zeros")
        unit = [v / norm for v in body.direction]
        record = Direction(**body.model_dump(exclude={"direction"}), direction=unit)
        did = new_id()
        self.storage.put_direction(did, record, [], self.settings.ttl_seconds)
        return DirectionOut(**record.model_dump(), direction_id=did, edit_name=CUSTOM + did)

    # ------------------------------------------------------------------ submitting
    def _facts(self) -> ModelInfo:
        """The model facts; a Redis failure is this request's answer (503): the job needs Redis
        next, and a frozen Redis must cost one timeout, not one for the facts and one for the job."""
        return self.facts.get(redis_fallback=False)

    def _claim(self, job: JobState, lids: Sequence[str], digest: str | None = None) -> Claim:
        claim = self.storage.claim(job, lids, edit_digest=digest, require_worker=self.settings.require_worker)
        if claim is None:
            raise self._no_worker()
        return claim

    def _send(self, task: str, payload: Payload, lid: str | None = None, digest: str | None = None) -> None:
        """Queue the task of a created job; when that fails, undo the job (and its edit key)."""
        job_id = payload.job_id
        try:
            self.sender.send(task, payload.model_dump(mode="json"), job_id)
        except Exception:
            with contextlib.suppress(redis.RedisError):
                self.storage.abandon(job_id, lid, digest)
            raise

    def _no_worker(self) -> QueueUnavailableError:
        return QueueUnavailableError(
            "no worker is running (no heartbeat in Redis); start one with "
            "`celery -A worker.celery_app worker --pool=solo`",
            self.settings.retry_after_seconds,
        )
