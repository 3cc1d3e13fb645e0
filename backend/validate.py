"""Request checks against this server's limits and the model's facts, done once, in the web tier,
before anything is stored or queued (the worker does not check them again).

Each check returns the value to queue (defaults filled in) or raises `InvalidRequestError`,
`UnknownAttributeError`, `TooLargeError` or `SamplingUnavailableError` with a message that names
what would have been accepted. No Redis, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from dataclasses import dataclass

from PIL import Image

from backend.facts import default_steps, solver_defaults
from backend.schemas import InterpolateRequest, ManipulateRequest, SampleRequest
from backend.settings import Settings
from models.errors import (
    InvalidRequestError,
    SamplingUnavailableError,
    TooLargeError,
    UnknownAttributeError,
    echo,
)
from models.regions import Region, read_brush
from models.schedule import Grid, Solver, check_steps
from worker.contracts import CUSTOM, ModelInfo, Strip

#: An edit's name for a direction taught from examples.
_TAUGHT = re.compile(re.escape(CUSTOM) + r"[0-9a-f]{32}")


def upload_size(settings: Settings, size: int | None) -> None:
    """The upload's real size is within MAX_UPLOAD_BYTES (the route reads at most one byte more)."""
    limit = settings.max_upload_bytes
    if size is not None and size > limit:
        raise TooLargeError(f"the upload is {size:,} bytes; the limit is {limit:,} bytes")


def canonical_brush(data: str, size: int) -> str:
    """A brush mask as a request sends it (base64 PNG, perhaps a data URL) as the job carries it:
    base64 of the PNG of the (size, size) uint8 mask (`models.regions.read_brush`), so that the same
    painting always makes the same job (and edit digest)."""
    text = data.split(",", 1)[1] if data.startswith("data:") else data
    if data.startswith("data:") and not data.startswith("data:image/png;base64,"):
        raise InvalidRequestError("brush: a data URL must be `data:image/png;base64,...`")
    try:
        png = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequestError("brush: not base64 (a PNG image, base64-encoded)") from exc
    try:
        mask = read_brush(png, size)
    except ValueError as exc:
        raise InvalidRequestError(f"brush: {exc}") from exc
    out = io.BytesIO()
    Image.fromarray(mask, "L").save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode("ascii")


@dataclass(frozen=True)
class Sampling:
    """How a request renders: solver, grid and steps, defaults filled in."""

    solver: Solver
    grid: Grid
    steps: int


@dataclass(frozen=True)
class EncodeParams:
    face: int
    steps: int
    render_steps: int
    solver: Solver
    grid: Grid


@dataclass(frozen=True)
class EditParams:
    edits: dict[str, float]
    sampling: Sampling
    strip: Strip | None
    keep: list[str]
    region: Region | None
    brush: str | None  # the canonical mask (`canonical_brush`)
    taught: list[str]  # ids of the taught directions the edit names


@dataclass(frozen=True)
class SampleParams:
    n: int
    sampling: Sampling
    latent_steps: int


@dataclass(frozen=True)
class Checks:
    """The checks of one request: this server's `settings`, the served model's `info`."""

    settings: Settings
    info: ModelInfo

    def steps(self, steps: int | None, name: str = "steps") -> int:
        """A legal DDIM step count within MAX_STEPS (None: the default steps)."""
        if steps is None:
            steps = default_steps(self.settings, self.info)
        try:
            return check_steps(steps, self.info.num_timesteps, self.settings.max_steps)
        except ValueError as exc:
            raise InvalidRequestError(str(exc).replace("steps=", f"{name}=")) from exc

    def sampling(self, solver: Solver | None, grid: Grid | None, steps: int | None,
                 name: str = "steps", *, encode: bool = False) -> Sampling:
        """The solver (default DEFAULT_SOLVER), its grid and its render steps (or, with `encode`,
        its inversion steps) unless the request named them (`backend.facts.solver_defaults`); the
        steps a legal count within MAX_STEPS. (The names are checked by the request schemas.)"""
        chosen, defaults = solver_defaults(self.settings, self.info, solver)
        default = defaults.encode_steps if encode else defaults.steps
        n = self.steps(default if steps is None else steps, name)
        return Sampling(solver=chosen, grid=grid or defaults.grid, steps=n)  # type: ignore[arg-type]

    def encode(self, face: int, steps: int | None, render_steps: int | None,
               solver: Solver | None = None, grid: Grid | None = None) -> EncodeParams:
        """Face index ≥ 0 (whether that face exists is known after detection), the solver and
        grid of the inversion and the reconstruction, inversion steps (default: the solver's
        encode steps), reconstruction steps (default: the solver's render steps)."""
        inversion = self.sampling(solver, grid, steps, encode=True)
        render = self.sampling(solver, grid, render_steps, "render_steps")
        if face < 0:
            raise InvalidRequestError(f"face must be ≥ 0 (0 is the largest face), got {face}")
        return EncodeParams(face=face, steps=inversion.steps, render_steps=render.steps,
                            solver=inversion.solver, grid=inversion.grid)

    def _attributes(self, names: set[str], taught: bool = False) -> list[str]:
        """Every name is one of the model's attributes, or (with `taught`) names a taught direction
        (`custom:{id}`); returns the ids of those, whose existence the caller checks."""
        ids = sorted(n[len(CUSTOM):] for n in names if taught and _TAUGHT.fullmatch(n))
        unknown = sorted(names - set(self.info.attributes) - {CUSTOM + i for i in ids})
        if unknown:
            known = ", ".join(self.info.attributes) or "none (this model has no attribute classifier)"
            also = f", and the directions taught here ({CUSTOM}<id>)" if taught else ""
            raise UnknownAttributeError(f"unknown attribute(s) {echo(unknown)}; this model has: {known}"
                                        f"{also}")
        return ids

    def edits(self, req: ManipulateRequest) -> EditParams:
        """Every attribute (of the edits and of the strip) is one of the model's, every |amount|
        within the limit; the solver, grid and steps."""
        sampling = self.sampling(req.solver, req.grid, req.steps)
        named = set(req.edits) | ({req.strip.attribute} if req.strip else set())
        taught = self._attributes(named, taught=True)
        self._attributes(set(req.keep))
        limit = self.settings.max_edit_amount
        too_far = {k: v for k, v in req.edits.items() if abs(v) > limit}
        if too_far:
            got = echo(f"{k}: {v}" for k, v in too_far.items())
            raise InvalidRequestError(f"edit amounts must be within ±{limit}; got {got}")
        strip = None
        if req.strip is not None:
            beyond = [a for a in req.strip.amounts if abs(a) > limit]
            if beyond:
                raise InvalidRequestError(f"strip amounts must be within ±{limit}; got {echo(beyond)}")
            strip = Strip(attribute=req.strip.attribute, amounts=list(req.strip.amounts))
        brush = None if req.brush is None else canonical_brush(req.brush, self.info.image_size)
        return EditParams(edits=dict(req.edits), sampling=sampling, strip=strip, keep=sorted(set(req.keep)),
                          region=req.region, brush=brush, taught=taught)

    def interpolation(self, req: InterpolateRequest) -> tuple[list[float], Sampling]:
        """(alphas, sampling): the given alphas, or `frames` (default DEFAULT_FRAMES) evenly spaced."""
        n = self.sampling(req.solver, req.grid, req.steps)
        s = self.settings
        count = len(req.alphas) if req.alphas is not None else (req.frames or s.default_frames)
        if count > s.max_frames:  # before any list is built from the count
            raise InvalidRequestError(f"at most {s.max_frames} frames per interpolation, got {count}")
        if req.alphas is not None:
            return list(req.alphas), n
        return [i / (count - 1) for i in range(count)], n

    def sample(self, req: SampleRequest) -> SampleParams:
        """The model can sample; n within MAX_SAMPLES; steps and latent steps legal."""
        info = self.info
        if not info.can_sample:
            raise SamplingUnavailableError(f"model {info.preset!r} has no latent DPM: it cannot sample")
        if req.n > self.settings.max_samples:
            raise InvalidRequestError(f"n must be at most {self.settings.max_samples}, got {req.n}")
        sampling = self.sampling(req.solver, req.grid, req.steps)
        latent = req.latent_steps
        if latent is None:
            latent = info.latent_default_steps or info.default_steps
        return SampleParams(n=req.n, sampling=sampling, latent_steps=self.steps(latent, "latent_steps"))
