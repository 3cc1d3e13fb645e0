"""The work behind each task: read ids from Redis, run the pipeline, store results by job id.

`run_job` owns the job life cycle (idempotency, running → succeeded/failed, progress at every
DDIM step, time limits); `encode`, `manipulate`, `interpolate` and `sample` own one verb each
(the same verb as the HTTP route, the task and the pipeline method).
"""

from __future__ import annotations

import base64
import io
import logging
import os
import threading
import time
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

import numpy as np
import torch
from celery.exceptions import SoftTimeLimitExceeded
from PIL import Image, features
from pydantic import BaseModel

from models.errors import InvalidRequestError, StudioError, UnknownLatentError, echo
from models.examples import EXAMPLE
from models.examples import load as load_examples
from models.examples import parse_id as parse_example_id
from models.images import batch_to_tensor, to_image, to_tensor
from models.regions import brush_mask, region_mask
from models.teach import Method
from models.teach import teach as teach_direction
from worker.contracts import (
    CUSTOM,
    ENCODE,
    INTERPOLATE,
    MANIPULATE,
    SAMPLE,
    TASKS,
    TEACH,
    EncodeJob,
    EncodeResult,
    FaceBox,
    InterpolateJob,
    InterpolateResult,
    JobError,
    JobPreview,
    JobState,
    ManipulateJob,
    ManipulateResult,
    Payload,
    SampleJob,
    SampleResult,
    TeachJob,
    TeachResult,
)
from worker.ids import image_id
from worker.runtime import Runtime
from worker.storage import Direction, Keys, Latent, RunningJob, UploadMeta, aligned_id, base_id

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
Preview = Callable[[int, int, torch.Tensor], None]
P = TypeVar("P", bound=Payload)


class JobTimeoutError(Exception):
    """The soft time limit passed; raised from the progress callback between DDIM steps."""


class JobDeletedError(Exception):
    """The job's hash is gone (its upload was deleted) or it was cancelled: stop working on it."""


class WorkerStoppingError(Exception):
    """The worker is shutting down: the running job was put back to "queued" and its task
    must be requeued (worker.tasks turns this into Celery's `Reject(requeue=True)`)."""


_STOPPING = threading.Event()


def request_stop() -> None:
    """Ask the running job (if any) to stop at its next DDIM step and go back to the queue.

    Called on the worker's warm shutdown (SIGTERM, Ctrl-C), so that stopping a worker neither
    waits for a long job nor leaves it "running" until the broker's visibility timeout.
    """
    _STOPPING.set()


# ----------------------------------------------------------------------------- life cycle
def run_job(rt: Runtime, job: P, work: Callable[[Runtime, P, Progress], BaseModel]) -> dict | None:
    """Run `work` for `job` once, recording its state; safe to call again for the same job.

    Returns the stored result (also when the job had already succeeded: a redelivered task
    is answered from it), or None when the job failed, was deleted or expired.
    """
    try:
        state = rt.jobs.get(job.job_id)
    except StudioError:
        log.info("job %s is gone (deleted or expired); skipping", job.job_id)
        return None
    if state.final:
        log.info("job %s already %s; not running it again", job.job_id, state.status)
        return state.result
    try:
        return _run(rt, job, work, state)
    finally:
        rt.jobs.finish(job.job_id)


def _run(
    rt: Runtime, job: P, work: Callable[[Runtime, P, Progress], BaseModel], state: JobState
) -> dict | None:
    """`run_job` from "running" on: recorded as run by this worker, so that should it die, the
    job is queued again by another (`worker.heartbeat`) instead of staying "running"."""
    state = state.model_copy(update={"status": "running", "progress": 0.0})
    running = RunningJob(worker=rt.worker_id, task=TASKS[type(job)], payload=job.model_dump(mode="json"))
    if not rt.jobs.save(state, running):
        log.info("job %s is gone (deleted or expired); skipping", job.job_id)
        return None

    s = rt.settings
    deadline = time.monotonic() + s.soft_time_limit_seconds

    def progress(done: int, total: int) -> None:
        nonlocal state
        if _STOPPING.is_set():
            raise WorkerStoppingError
        if time.monotonic() > deadline:
            raise JobTimeoutError
        state = state.model_copy(update={"progress": round(min(done / total, 0.999), 4)})
        if not rt.jobs.save(state):
            raise JobDeletedError

    def fail(code: str, message: str) -> None:
        error = JobError(code=code, message=message)
        rt.jobs.save(state.model_copy(update={"status": "failed", "error": error}))

    watchdog = threading.Timer(s.time_limit_seconds, _hard_timeout, args=(rt, state))
    watchdog.daemon = True
    watchdog.start()
    try:
        result = work(rt, job, progress)
    except WorkerStoppingError:
        log.info("worker stopping: job %s goes back to the queue", job.job_id)
        rt.jobs.save(state.model_copy(update={"status": "queued", "progress": 0.0}))
        raise
    except StudioError as exc:
        fail(exc.code, exc.message)
        return None
    except JobDeletedError:
        log.info("job %s was deleted or cancelled while it ran; stopped", job.job_id)
        return None
    except (JobTimeoutError, SoftTimeLimitExceeded):
        fail("timeout", f"the job ran past the {s.soft_time_limit_seconds} s time limit; try fewer steps")
        return None
    except Exception as exc:
        log.exception("job %s failed", job.job_id)
        fail("job_failed", f"the worker failed on this job ({type(exc).__name__}: {exc})")
        return None
    finally:
        watchdog.cancel()
    done = state.model_copy(
        update={"status": "succeeded", "progress": 1.0, "result": result.model_dump(mode="json")}
    )
    rt.jobs.save(done)
    return done.result


def fail_unreadable(rt: Runtime, job_id: object, task: str, error: Exception) -> None:
    """A `task` message this worker cannot read (queued by another version of the server, e.g.
    across an upgrade with a persistent Redis): its job, if it names one that exists, fails with
    `job_failed` instead of staying "queued" until it expires."""
    log.error("cannot read a %s message (job %r): %s", task, job_id, error)
    if not isinstance(job_id, str):
        return
    try:
        state = rt.jobs.get(job_id)
    except StudioError:
        return
    message = "the job was queued by another version of the server, which this worker cannot run; try again"
    failed = JobError(code="job_failed", message=message)
    rt.jobs.save(state.model_copy(update={"status": "failed", "error": failed}))


def _hard_timeout(rt: Runtime, state: JobState) -> None:
    """Past the hard limit a network call is stuck: record the failure, then end the process
    (as Celery does to a prefork child); the redelivered message then finds the job final."""
    log.error("job %s passed the hard time limit; exiting", state.job_id)
    try:
        message = f"the job ran past the {rt.settings.time_limit_seconds} s hard limit"
        error = JobError(code="timeout", message=message)
        rt.jobs.save(state.model_copy(update={"status": "failed", "error": error}))
    finally:
        os._exit(70)


# ----------------------------------------------------------------------------- verbs
# What the web tier checked before queueing (attribute names, amounts, step counts, whether the
# model can sample) is not checked again here; the model refuses what it cannot do by itself.


def encode(rt: Runtime, job: EncodeJob, progress: Progress) -> EncodeResult:
    """Invert the stored aligned face into (z_sem, x_T) and render its reconstruction.

    Progress runs over steps + render_steps network evaluations: inversion, then reconstruction
    (previews of the reconstruction are published on the way). The reconstruction is stored once,
    as the upload's unedited render at `render_steps` with the job's solver and grid: the base
    that edits rendered so are measured from.
    """
    pipe = rt.pipeline()
    lid = job.latent_id
    meta = rt.storage.meta(lid)
    _check_model(rt, meta.preset, meta.image_size)
    x_0 = to_tensor(Image.open(io.BytesIO(rt.storage.aligned(meta))))  # (1, 3, H, W)
    render_steps = job.render_steps or job.steps
    total = job.steps + render_steps
    z_sem, x_T = pipe.encode(x_0, job.steps, progress=lambda i, _n: progress(i, total), solver=job.solver,
                             grid=job.grid)
    x_rec = pipe.decode(z_sem, x_T, render_steps, progress=lambda i, _n: progress(job.steps + i, total),
                        preview=_previewer(rt, job.job_id, offset=job.steps, total=total), solver=job.solver,
                        grid=job.grid)
    rt.storage.meta(lid)  # still there? (deleted while we worked → unknown_latent, nothing stored)
    rt.storage.put_latent(
        lid,
        Latent(z_sem=z_sem[0].cpu().numpy(), x_T=x_T[0].cpu().numpy(), preset=meta.preset, steps=job.steps),
    )
    reconstruction = rt.storage.put_base(meta, render_steps, _png(to_image(x_rec[0])), job.solver, job.grid)
    photo = _put_photo(rt, job, lid, reconstruction)
    return EncodeResult(
        latent_id=lid,
        aligned_id=aligned_id(meta),
        reconstruction_id=reconstruction,
        photo_id=photo,
        faces=[FaceBox(box=b) for b in meta.faces],
        face=meta.face,
        preset=meta.preset,
        image_size=meta.image_size,
        steps=job.steps,
        render_steps=render_steps,
        solver=job.solver,
        grid=job.grid,
        regions=meta.landmarks is not None,
    )


def manipulate(rt: Runtime, job: ManipulateJob, progress: Progress) -> ManipulateResult:
    """Edit z_sem along attribute directions, decode with the original x_T, paste back; with a
    strip, render each of its amounts in the same batch. Previews of the edit are published while
    it renders."""
    pipe = rt.pipeline()
    lid = job.latent_id
    meta, latent = rt.storage.meta(lid), rt.storage.latent(lid)
    _check_model(rt, latent.preset, meta.image_size)
    z_0 = torch.from_numpy(latent.z_sem.copy())[None]
    x_T = torch.from_numpy(latent.x_T.copy())[None]
    custom = _custom_directions(rt, job, latent.preset, int(latent.z_sem.shape[-1]))
    codes = [pipe.manipulate(z_0, job.edits, job.keep, custom)]
    if job.strip is not None:
        frames = [{**job.edits, job.strip.attribute: a} for a in job.strip.amounts]
        codes += [pipe.manipulate(z_0, edits, job.keep, custom) for edits in frames]
    # The unedited render with these steps, solver and grid ("base") is what the edit changed;
    # paste-back adds only that change to the photo. The encode left one at its own; others are
    # decoded here, in the same batch as the edit, and kept for the upload's next edits. A
    # region- or brush-limited edit always decodes it alongside: outside the mask, the edit follows it.
    base = base_id(meta, job.steps, job.solver, job.grid)
    has_base = rt.storage.has_image(base)
    limited = job.region is not None or job.brush is not None
    if not has_base or limited:
        codes.append(z_0)
    z_sem = torch.cat(codes)
    region = (_edit_mask(meta, job, pipe.image_size), len(codes) - 1) if limited else None
    x_0 = pipe.decode(z_sem, x_T.expand(len(z_sem), -1, -1, -1), job.steps, progress=progress,
                      solver=job.solver, grid=job.grid, preview=_previewer(rt, job.job_id), region=region)
    if not has_base:
        rt.storage.put_base(meta, job.steps, _png(to_image(x_0[-1])), job.solver, job.grid)
    image = _put_png(rt, job, "crop", to_image(x_0[0]), [lid])
    strip_ids = [_put_png(rt, job, f"strip{i:02d}", to_image(x_0[1 + i]), [lid])
                 for i in range(len(job.strip.amounts) if job.strip is not None else 0)]
    if limited:
        # The paste-back adds the change from the unedited row decoded with the edit (a stored base
        # may come from another engine or batch, with other rounding): outside the mask, nothing.
        base = _put_png(rt, job, "base", to_image(x_0[-1]), [lid])
    photo = _put_photo(rt, job, lid, image, base_iid=base)
    replaced = _put_photo(rt, job, lid, image, name="photo-replaced")
    return ManipulateResult(
        edits=job.edits,
        keep=job.keep,
        region=job.region,
        brush=job.brush is not None,
        steps=job.steps,
        solver=job.solver,
        grid=job.grid,
        image_id=image,
        photo_id=photo,
        photo_replaced_id=replaced,
        strip=job.strip,
        strip_ids=strip_ids,
        base_id=base,
    )


def interpolate(rt: Runtime, job: InterpolateJob, progress: Progress) -> InterpolateResult:
    """Decode the path between two latents: z_sem lerped, x_T slerped, one frame per alpha."""
    pipe = rt.pipeline()
    a, b = (rt.storage.latent(lid) for lid in job.latent_ids)
    size = pipe.image_size
    for latent in (a, b):
        _check_model(rt, latent.preset, size)
    frames = pipe.interpolate(
        (torch.from_numpy(a.z_sem.copy()), torch.from_numpy(a.x_T.copy())),
        (torch.from_numpy(b.z_sem.copy()), torch.from_numpy(b.x_T.copy())),
        job.alphas,
        job.steps,
        progress=progress,
        solver=job.solver,
        grid=job.grid,
    )
    images = [to_image(f) for f in frames]
    lids = list(job.latent_ids)
    ids = [_put_png(rt, job, f"{i:02d}", im, lids) for i, im in enumerate(images)]
    gif = rt.storage.put_image(
        image_id(job.image_key, "gif"), _gif(images), "image/gif", owner_key=Keys.job(job.job_id), lids=lids
    )
    return InterpolateResult(alphas=job.alphas, steps=job.steps, solver=job.solver, grid=job.grid,
                             image_ids=ids, gif_id=gif)


def sample(rt: Runtime, job: SampleJob, progress: Progress) -> SampleResult:
    """Draw `n` faces with the latent DPM, seeded (same seed, same faces); with `job.faces`, store
    each as an upload of its own (`SampleJob`)."""
    pipe = rt.pipeline()
    generator = torch.Generator().manual_seed(job.seed)
    z_sem, x_T = pipe.sample_codes(job.n, job.latent_steps, generator)
    images = pipe.decode(z_sem, x_T, job.steps, progress=progress, solver=job.solver, grid=job.grid)
    pngs = [_png(to_image(x)) for x in images]
    if not job.faces:
        ids = [rt.storage.put_image(image_id(job.image_key, f"{i:02d}"), png, "image/png",
                                    owner_key=Keys.job(job.job_id), lids=[]) for i, png in enumerate(pngs)]
        return SampleResult(seed=job.seed, steps=job.steps, solver=job.solver, grid=job.grid, image_ids=ids)
    # A draw cancelled while it rendered (the page abandoned it) stores no face: the last check.
    progress(1, 1)
    size = pipe.image_size
    ids = []
    for face, png, z, x in zip(job.faces, pngs, z_sem, x_T, strict=True):
        # The face is its own photo: the crop is the whole of it, and its render at these steps,
        # solver and grid is its unedited base, so an edit's paste-back adds just the change.
        meta = UploadMeta(latent_id=face.latent_id, quad=[[0, 0], [0, size], [size, size], [size, 0]],
                          faces=[(0, 0, size, size)], face=0, preset=pipe.config.preset, image_size=size,
                          photo_size=(size, size), image_key=face.image_key)
        # The job's result names the face: it goes when the face is deleted.
        rt.storage.create_upload(meta, png, png, ttl_s=job.ttl_seconds, index=[Keys.job(job.job_id)])
        rt.storage.put_latent(face.latent_id, Latent(z_sem=z.cpu().numpy(), x_T=x.cpu().numpy(),
                                                     preset=meta.preset, steps=job.steps))
        rt.storage.put_base(meta, job.steps, png, job.solver, job.grid)
        ids.append(aligned_id(meta))
    return SampleResult(seed=job.seed, steps=job.steps, solver=job.solver, grid=job.grid, image_ids=ids,
                        latent_ids=[f.latent_id for f in job.faces])


def teach(rt: Runtime, job: TeachJob, progress: Progress) -> TeachResult:
    """Fit a direction from example faces (`models.teach`) on their normalised z_sem; with no
    negatives, against unlabelled faces drawn from the latent DPM (positive-unlabelled)."""
    pipe = rt.pipeline()
    faces = (*job.positives, *job.negatives)
    z_sem = _example_codes(rt, faces)
    for i, face in enumerate(faces):
        if i not in z_sem:
            latent = rt.storage.latent(face)
            _check_model(rt, latent.preset, pipe.image_size)
            z_sem[i] = torch.from_numpy(latent.z_sem.copy()).reshape(-1)
    z = pipe.normalize_z(torch.stack([z_sem[i] for i in range(len(faces))])).cpu().numpy()
    positives, negatives = z[: len(job.positives)], z[len(job.positives):]
    method: Method = "labelled"
    if not job.negatives:
        method = "positive-unlabelled"
        generator = torch.Generator().manual_seed(int(job.direction_id[-8:], 16))
        drawn, _ = pipe.sample_codes(max(4 * len(positives), 100), generator=generator)
        negatives = pipe.normalize_z(drawn).cpu().numpy()
    progress(1, 2)
    try:
        fit = teach_direction(positives, negatives, method)
    except ValueError as exc:
        raise InvalidRequestError(str(exc)) from exc
    record = Direction(name=job.name, preset=pipe.config.preset, direction=fit.direction.tolist(),
                       method=fit.method, accuracy=fit.accuracy, auroc=fit.auroc,
                       positives=len(positives), negatives=len(negatives))
    uploads = [face for face in faces if not face.startswith(EXAMPLE)]
    rt.storage.put_direction(job.direction_id, record, uploads, job.ttl_seconds)
    return TeachResult(direction_id=job.direction_id, edit_name=CUSTOM + job.direction_id, name=job.name,
                       method=fit.method, positives=len(positives), negatives=len(negatives),
                       accuracy=fit.accuracy, auroc=fit.auroc, folds=fit.folds)


# ----------------------------------------------------------------------------- helpers
def _example_codes(rt: Runtime, faces: tuple[str, ...]) -> dict[int, torch.Tensor]:
    """z_sem (D,) of the bundled faces among `faces` (`example:{n}`, `models.examples`), by their
    place in `faces`: encoded by this worker's own encoder, so they match its uploads' codes."""
    wanted = {i: parse_example_id(face) for i, face in enumerate(faces) if face.startswith(EXAMPLE)}
    if not wanted:
        return {}
    pipe = rt.pipeline()
    examples = load_examples(rt.settings.model_dir)
    count = 0 if examples is None or examples.preset != pipe.config.preset else len(examples)
    unknown = [faces[i] for i, n in wanted.items() if n is None or n >= count]
    if examples is None or unknown:
        raise InvalidRequestError(f"no bundled face {echo(unknown)}: the worker's model has {count}")
    found = {i: n for i, n in wanted.items() if n is not None}
    order = sorted(set(found.values()))
    pixels = examples.images[order]
    if pixels.shape[1] != pipe.image_size:
        raise InvalidRequestError(f"the bundled faces are {pixels.shape[1]} px, "
                                  f"the model {pipe.image_size} px")
    codes = torch.cat([pipe.encode_semantic(batch_to_tensor(pixels[k:k + 64]))
                       for k in range(0, len(pixels), 64)])
    row = {n: codes[k].float().cpu() for k, n in enumerate(order)}
    return {i: row[n] for i, n in found.items()}


def _custom_directions(rt: Runtime, job: ManipulateJob, preset: str, z_dim: int) -> dict[str, torch.Tensor]:
    """The taught directions an edit names (`custom:{id}`), by name."""
    found = {}
    names = {*job.edits, *([job.strip.attribute] if job.strip is not None else [])}
    for name in names:
        if name.startswith(CUSTOM):
            record = rt.storage.direction(name[len(CUSTOM):])
            if record.preset != preset:
                raise InvalidRequestError(f"the direction {record.name!r} was taught on model "
                                          f"{record.preset!r}; this face is of {preset!r}")
            if len(record.direction) != z_dim:
                raise InvalidRequestError(f"the direction {record.name!r} has {len(record.direction)} "
                                          f"dimensions; this model's z_sem has {z_dim}")
            found[name] = torch.tensor(record.direction)
    return found


def _edit_mask(meta: UploadMeta, job: ManipulateJob, size: int) -> torch.Tensor:
    """The (size, size) mask an edit is limited to: its landmark region, its painted brush mask,
    or where either is (the larger of the two, pixel by pixel)."""
    masks = []
    if job.region is not None:
        masks.append(_region_mask(meta, job.region, size))
    if job.brush is not None:
        with Image.open(io.BytesIO(base64.b64decode(job.brush))) as image:
            painted = np.asarray(image.convert("L").resize((size, size), Image.Resampling.BOX))
        masks.append(torch.from_numpy(brush_mask(painted, size)))
    return torch.stack(masks).amax(0)


def _region_mask(meta: UploadMeta, region: str, size: int) -> torch.Tensor:
    """The (size, size) mask of `region` of the upload's face (`models.regions`)."""
    if meta.landmarks is None:
        raise InvalidRequestError(
            f"latent {meta.latent_id!r} has no landmarks (a drawn face, or uploaded by an older version), "
            "so its edits cannot be limited to a region")
    return torch.from_numpy(region_mask(np.asarray(meta.landmarks), region, size))


def _check_model(rt: Runtime, preset: str, image_size: int) -> None:
    pipe = rt.pipeline()
    if preset != pipe.config.preset or image_size != pipe.image_size:
        raise UnknownLatentError(
            f"this latent belongs to model {preset!r} ({image_size} px) but the worker serves "
            f"{pipe.config.preset!r} ({pipe.image_size} px); upload the photo again"
        )


@cache
def _preview_format() -> tuple[str, str]:
    """(Pillow format, MIME type) of previews: WebP when this Pillow can write it, else PNG."""
    return ("WEBP", "image/webp") if features.check("webp") else ("PNG", "image/png")


def preview_data_url(x0: torch.Tensor, max_side: int) -> str:
    """One x̂0 (3, H, W) in [-1, 1] as a small data URL: the crop (shrunk to `max_side` when larger),
    lossy WebP (~1-2 KB at 64 px), or PNG."""
    image = to_image(x0)
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    fmt, mime = _preview_format()
    buffer = io.BytesIO()
    if fmt == "WEBP":
        image.save(buffer, format=fmt, quality=70, method=0)
    else:
        image.save(buffer, format=fmt, compress_level=1)
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode()}"


def _previewer(rt: Runtime, job_id: str, *, offset: int = 0, total: int | None = None) -> Preview | None:
    """The decode's `preview` callback: publish the x̂0 of the first image of the batch at steps
    1, 1 + k, 1 + 2k, ... (k = PREVIEW_EVERY), not at the last step (the result comes then). Step
    numbers count the job's network evaluations (`offset` before this decode, of `total`)."""
    every = rt.settings.preview_every
    if every <= 0:
        return None
    max_side = rt.settings.preview_max_side

    def preview(done: int, n: int, x0: torch.Tensor) -> None:
        if done >= n or (done - 1) % every:
            return
        image = preview_data_url(x0[0], max_side)
        rt.jobs.publish_preview(JobPreview(job_id=job_id, step=offset + done, total=total or n, image=image))

    return preview


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()


def _gif(frames: list[Image.Image], frame_ms: int = 120) -> bytes:
    """An endlessly looping animated GIF that goes a → b → a."""
    loop = frames + frames[-2:0:-1]
    buffer = io.BytesIO()
    loop[0].save(buffer, format="GIF", save_all=True, append_images=loop[1:], duration=frame_ms, loop=0)
    return buffer.getvalue()


def _put_png(rt: Runtime, job: Payload, name: str, image: Image.Image, lids: list[str]) -> str:
    """Store `image` as the job's image `name`, living as long as the job."""
    iid = image_id(job.image_key, name)
    return rt.storage.put_image(iid, _png(image), "image/png", owner_key=Keys.job(job.job_id), lids=lids)


def _put_photo(rt: Runtime, job: Payload, lid: str, crop_iid: str, *, base_iid: str | None = None,
               name: str = "photo") -> str:
    """The whole photo with the crop pasted back (replacing the face, or adding its change from
    `base_iid`): recorded here as the job's image `name`, composed by the API when fetched."""
    return rt.storage.put_composite(image_id(job.image_key, name), lid, crop_iid, base_iid=base_iid,
                                    owner_key=Keys.job(job.job_id), lids=[lid])


#: The verb behind each task name.
VERBS: dict[str, Callable[[Runtime, Any, Progress], BaseModel]] = {
    ENCODE: encode,
    MANIPULATE: manipulate,
    INTERPOLATE: interpolate,
    SAMPLE: sample,
    TEACH: teach,
}
