"""`LocalStudio`: the server's verbs on photo files, in this process.

Each step is the service's own: the request checks and sampling defaults of `backend.validate`,
photo preparation of `backend.upload.prepare_upload` (limits, EXIF orientation, detection, FFHQ
alignment), encode → manipulate → decode as `worker.service` runs them, paste-back of
`backend.alignment` as `backend.photos.compose_photo` composes it. So a file edited here and the
same photo edited through the API come out the same, and fail with the same codes and messages.

The model loads on first use (torch is imported then), so checks and listings stay fast.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from backend.alignment import paste_back, paste_change
from backend.intake import load_photo
from backend.settings import Settings
from backend.upload import prepare_upload
from backend.validate import Checks, Sampling, upload_size
from models.errors import InvalidRequestError, ModelUnavailableError, UnknownAttributeError, echo
from models.schedule import Grid, Solver
from worker.contracts import ModelInfo

if TYPE_CHECKING:
    import torch

    from models.pipeline import DiffAEPipeline

#: progress(done, total) after each network evaluation (`models.pipeline.Progress`).
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class AlignedPhoto:
    """A photo file read and one of its faces aligned, as an upload is.

    Attributes:
        photo: the upright RGB photo (EXIF orientation applied, alpha flattened, sRGB).
        aligned: the FFHQ-aligned RGB crop, `image_size` square.
        quad: (4, 2) float64 corners of the crop in `photo` pixel coordinates (for paste-back).
        faces: detector boxes (left, top, right, bottom) of every face found, largest first.
        face: the index of the aligned one in `faces`.
    """

    photo: Image.Image
    aligned: Image.Image
    quad: np.ndarray
    faces: list[tuple[int, int, int, int]]
    face: int
    landmarks: np.ndarray  # (68, 2) in crop units (`models.regions`)


@dataclass(frozen=True)
class EditedPhoto:
    """The result of one edit: the whole photo (its size) and the edited aligned crop."""

    photo: Image.Image
    crop: Image.Image


@dataclass(frozen=True)
class Plan:
    """How every photo of a command is rendered: inversion and render sampling, defaults filled in."""

    inversion: Sampling
    render: Sampling


class LocalStudio:
    """Encode, edit, interpolate and score faces of photo files with one model.

    Args:
        settings: the web tier's settings (limits, sampling defaults, alignment backend), read
            from the environment as the server reads them.
        model_dir: a `DiffAEPipeline.from_pretrained` directory.
        device: a torch device string; None: CUDA when available, else the CPU.
        threads: torch intra-op threads; 0 keeps torch's default.
        engine: the networks' engine on a CPU, as the worker's ENGINE (`worker.runtime`): "eager"
            (none: starts at once), "auto" (the fastest that checks out, measured at load; ~2-3x
            per photo on the bundled model, for ~15 s the first time, less once its files are
            cached in MODEL_CACHE_DIR), or one by name.

    Raises:
        ModelUnavailableError: `model_dir` is not a readable model directory.
    """

    def __init__(self, settings: Settings, model_dir: Path, device: str | None = None,
                 threads: int = 0, engine: str = "eager") -> None:
        self.settings = settings
        self.model_dir = model_dir
        self.info = model_info(model_dir)
        self.checks = Checks(settings, self.info)
        self._device = device
        self._threads = threads
        self._engine = engine
        self._pipeline: DiffAEPipeline | None = None
        self.load_seconds = 0.0
        #: What runs the networks once loaded ("eager", or e.g. "openvino-bfloat16"), and why not others.
        self.engine = "eager"
        self.engine_failures: dict[str, str] = {}

    # ------------------------------------------------------------------ checks (no model needed)
    def plan(self, solver: Solver | None, grid: Grid | None, steps: int | None,
             encode_steps: int | None) -> Plan:
        """The server's defaults for what is not given (DEFAULT_SOLVER and its grid, render and
        inversion steps); counts checked against the schedule and MAX_STEPS.

        Raises:
            InvalidRequestError: an illegal step count.
        """
        return Plan(inversion=self.checks.sampling(solver, grid, encode_steps, "encode_steps", encode=True),
                    render=self.checks.sampling(solver, grid, steps))

    def check_edits(self, edits: Mapping[str, float]) -> dict[str, float]:
        """The edits, if every name is one of the model's attributes and every amount finite and
        within ±MAX_EDIT_AMOUNT (the server's rule and messages).

        Raises:
            UnknownAttributeError: a name the model has no direction for.
            InvalidRequestError: an amount out of range.
        """
        unknown_attributes(edits, self.info.attributes)
        limit = self.settings.max_edit_amount
        too_far = {k: v for k, v in edits.items() if not math.isfinite(v) or abs(v) > limit}
        if too_far:
            got = echo(f"{k}: {v}" for k, v in too_far.items())
            raise InvalidRequestError(f"edit amounts must be within ±{limit}; got {got}")
        return dict(edits)

    def alphas(self, frames: int) -> list[float]:
        """`frames` points evenly spaced from 0 (photo a) to 1 (photo b), at most MAX_FRAMES.

        Raises:
            InvalidRequestError: fewer than 2 or more than MAX_FRAMES frames.
        """
        limit = self.settings.max_frames
        if not 2 <= frames <= limit:
            raise InvalidRequestError(
                f"an interpolation has 2 to {limit} frames (MAX_FRAMES), got {frames}")
        return [i / (frames - 1) for i in range(frames)]

    # ------------------------------------------------------------------ photos
    def align(self, path: Path, face: int = 0) -> AlignedPhoto:
        """Read a photo file and align its face number `face` (0: the largest).

        Raises:
            OSError: the file cannot be read.
            StudioError: unsupported_image, too_large, no_face, invalid_request (face index),
                alignment_unavailable (the landmark backend cannot start).
        """
        upload_size(self.settings, path.stat().st_size)  # before reading a huge file whole
        data = path.read_bytes()
        upload = prepare_upload(data, face, self.info.image_size, self.settings)
        photo = load_photo(data, max_bytes=len(data), max_pixels=2**40)  # checked by prepare_upload
        return AlignedPhoto(photo=photo, aligned=Image.open(io.BytesIO(upload.aligned_png)).convert("RGB"),
                            quad=upload.quad, faces=upload.faces, face=upload.face,
                            landmarks=np.asarray(upload.landmarks))

    # ------------------------------------------------------------------ the model's verbs
    @property
    def pipeline(self) -> DiffAEPipeline:
        """The model (`load`ed on first use)."""
        return self.load()

    def load(self) -> DiffAEPipeline:
        """Load the model now, once (the worker's default dtype: the fast path), on the engine
        asked for; `load_seconds` says how long it took.

        Raises:
            InvalidRequestError: the device is no torch device.
            ModelUnavailableError: the model directory cannot be loaded, or the device is not here.
        """
        if self._pipeline is None:
            import torch

            from models.checkpoint import CheckpointError
            from models.pipeline import DiffAEPipeline, default_device

            try:
                device = torch.device(self._device) if self._device else default_device()
            except RuntimeError as exc:
                raise InvalidRequestError(f"--device {self._device!r} is not a torch device ({exc})") from exc
            if device.type == "cuda" and not torch.cuda.is_available():
                raise ModelUnavailableError(f"--device {self._device}: torch sees no CUDA device here")
            if self._threads:
                torch.set_num_threads(self._threads)
            start = time.perf_counter()
            try:
                pipe = DiffAEPipeline.from_pretrained(self.model_dir, device=device)
            except (CheckpointError, OSError) as exc:
                raise ModelUnavailableError(f"cannot load the model in {self.model_dir}: {exc}") from exc
            self._choose_engine(pipe)
            self._pipeline = pipe
            self.load_seconds = time.perf_counter() - start
        return self._pipeline

    def _choose_engine(self, pipe: DiffAEPipeline) -> None:
        """Move the networks to the engine asked for, as the worker's warm-up does; one that fails
        or is wrong leaves them eager (reported in `engine_failures`), never an error."""
        from worker.runtime import engine_candidates
        from worker.settings import WorkerSettings

        candidates = engine_candidates(self._engine, pipe)
        if not candidates:
            return
        from models.engine import choose_engine

        margin = 0.9 if self._engine == "auto" else float("inf")  # a named one is used if it works
        choice = choose_engine(pipe.autoencoder, pipe.eager_step, WorkerSettings().model_cache_dir,
                               candidates, margin=margin)
        pipe.use_engine(choice.engine)
        self.engine, self.engine_failures = choice.name, dict(choice.failures)

    def encode(self, face: AlignedPhoto, plan: Plan,
               progress: Progress | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(z_sem (1, D), x_T (1, 3, H, W)) of the aligned face: inverted once, every edit of it
        decodes from this x_T."""
        from models.images import to_tensor

        s = plan.inversion
        return self.pipeline.encode(to_tensor(face.aligned), s.steps, progress, solver=s.solver, grid=s.grid)

    def edit(self, face: AlignedPhoto, edits: Mapping[str, float], plan: Plan, *,
             replace_face: bool = False, keep: Sequence[str] = (), region: str | None = None,
             progress: Progress | None = None, decoding: Progress | None = None) -> EditedPhoto:
        """Encode the face, move z_sem by `edits` (checked by `check_edits`), decode it with the
        face's own x_T and paste it back into the photo: only what the edit changed added to the
        photo (`paste_change`, against the unedited render decoded in the same batch, as the
        worker does), or, with `replace_face`, the face replaced by the render (`paste_back`).
        `keep` holds attributes fixed, `region` limits the edit to a region of the face (as the
        API's). `progress` follows the inversion, `decoding` the render."""
        import torch

        from models.images import to_image

        pipe = self.pipeline
        z_sem, x_T = self.encode(face, plan, progress)
        from models.regions import region_mask

        codes = [pipe.manipulate(z_sem, edits, keep) if edits else z_sem]
        if not replace_face or region is not None:
            codes.append(z_sem)  # the base the change is measured from: same x_T, steps, solver, grid
        limited = None
        if region is not None:  # outside the region, the edit follows the base's trajectory
            limited = (torch.from_numpy(region_mask(face.landmarks, region, pipe.image_size)), 1)
        r = plan.render
        x_0 = pipe.decode(torch.cat(codes), x_T.expand(len(codes), -1, -1, -1), r.steps, decoding,
                          solver=r.solver, grid=r.grid, region=limited)  # (1 or 2, 3, H, W)
        crop = to_image(x_0[0])
        if replace_face:
            return EditedPhoto(photo=paste_back(face.photo, crop, face.quad), crop=crop)
        return EditedPhoto(photo=paste_change(face.photo, crop, to_image(x_0[1]), face.quad), crop=crop)

    def interpolate(self, a: AlignedPhoto, b: AlignedPhoto, alphas: Sequence[float], plan: Plan, *,
                    encoding: Callable[[int], Progress | None] = lambda _i: None,
                    decoding: Progress | None = None) -> list[Image.Image]:
        """The aligned crops along the path from face a to face b (z_sem lerped, x_T slerped: the
        official recipe of `DiffAEPipeline.interpolate`), one per alpha. `encoding(i)` gives the
        progress callback of photo i's inversion."""
        from models.images import to_image

        latents = [self.encode(face, plan, encoding(i)) for i, face in enumerate((a, b))]
        r = plan.render
        frames = self.pipeline.interpolate(latents[0], latents[1], alphas, r.steps, decoding,
                                           solver=r.solver, grid=r.grid)
        return [to_image(frame) for frame in frames]

    def scores(self, face: AlignedPhoto) -> dict[str, float]:
        """The attribute classifier's logit per attribute for the face (> 0: it has it), from
        z_sem alone (no inversion needed).

        Raises:
            UnknownAttributeError: the model has no attribute classifier.
        """
        from models.images import to_tensor

        pipe = self.pipeline
        logits = pipe.attribute_scores(pipe.encode_semantic(to_tensor(face.aligned)))[0]
        return dict(zip(pipe.attributes, (float(v) for v in logits), strict=True))


def model_info(model_dir: Path) -> ModelInfo:
    """The facts of a model directory, read without torch.

    Raises:
        ModelUnavailableError: not a readable model directory.
    """
    try:
        return ModelInfo.from_dir(model_dir)
    except (OSError, ValueError) as exc:
        raise ModelUnavailableError(f"{model_dir} is not a readable model directory ({exc})") from exc


def unknown_attributes(names: Mapping[str, object] | Sequence[str], known: Sequence[str]) -> None:
    """Refuse names the model has no direction for, with the server's message.

    Raises:
        UnknownAttributeError: naming them (at most a few) and listing the model's attributes.
    """
    unknown = sorted(set(names) - set(known))
    if unknown:
        have = ", ".join(known) or "none (this model has no attribute classifier)"
        raise UnknownAttributeError(f"unknown attribute(s) {echo(unknown)}; this model has: {have}")
