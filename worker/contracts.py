"""What the backend and the worker agree on: task names, payloads, results, job states.

Torch-free on purpose: the backend imports this module to send tasks *by name* and to read job
states; the worker imports it to parse what it receives. Tasks carry ids and small parameters
only — images and latents travel through `worker.storage`. (The DDIM step rule both sides obey
is `models.schedule`, torch-free too.)
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.config import ModelConfig
from models.regions import Region
from models.schedule import Grid, Solver

# --------------------------------------------------------------------------- task names
ENCODE = "diffae.encode"
MANIPULATE = "diffae.manipulate"
INTERPOLATE = "diffae.interpolate"
SAMPLE = "diffae.sample"
TEACH = "diffae.teach"

#: How an edit names a direction taught from examples (`TeachJob`): this prefix and its id.
CUSTOM = "custom:"

#: Celery queue every task goes to (one queue: the worker is a single solo process per device).
QUEUE = "diffae"

JobKind = Literal["encode", "manipulate", "interpolate", "sample", "teach"]
JobStatus = Literal["queued", "running", "succeeded", "failed"]
FINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed"})


# --------------------------------------------------------------------------- payloads
class Payload(BaseModel):
    """What every task carries: the id of the job it runs (its hash holds the state), and the
    secret its result images are named with (`worker.ids.image_id`: the same names when the job
    runs again, none a client could derive from another id)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    job_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    image_key: str = Field(pattern=r"^[0-9a-f]{32}$")


class Sampler(Payload):
    """A payload that renders (or inverts): with which solver, on which timestep grid
    (`models.schedule.SOLVERS`, `GRIDS`). The defaults are the official DDIM, so a message queued
    before these fields existed runs as it always did."""

    solver: Solver = "ddim"
    grid: Grid = "uniform"


class EncodeJob(Sampler):
    """Invert the aligned face stored under `latent_id` with `steps` steps and render its
    reconstruction with `render_steps` (None: `steps`), the T its edits will use; both with
    `solver` on `grid`."""

    latent_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    steps: int = Field(ge=1)
    render_steps: int | None = Field(default=None, ge=1)


class Strip(BaseModel):
    """Several amounts of one attribute, rendered in one batch: frame i is the request's edits
    with `attribute` set to `amounts[i]`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attribute: str
    amounts: list[float] = Field(min_length=1)


class ManipulateJob(Sampler):
    """Move the latent's z_sem along attribute directions and decode with its own x_T (and, with
    a `strip`, every amount of the strip in the same batch)."""

    latent_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    edits: dict[str, float]
    steps: int = Field(ge=1)
    strip: Strip | None = None
    #: Attributes held fixed: each edit moves along its direction's part orthogonal to theirs.
    keep: list[str] = Field(default_factory=list)
    #: Limit the edit to one region of the face (`models.regions`); elsewhere the face keeps its
    #: own trajectory.
    region: Region | None = None
    #: A painted mask (`models.regions.read_brush`: the model's size, uint8), base64 PNG; with
    #: `region`, the edit applies in both.
    brush: str | None = None


class InterpolateJob(Sampler):
    """Decode the path from latent a to latent b (z_sem lerped, x_T slerped) at `alphas`."""

    latent_ids: tuple[str, str]
    alphas: list[float] = Field(min_length=1)
    steps: int = Field(ge=1)


class NewFace(BaseModel):
    """The ids a drawn face is stored under, as an upload of its own (minted by the web tier)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latent_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    image_key: str = Field(pattern=r"^[0-9a-f]{32}$")


class SampleJob(Sampler):
    """Draw `n` unconditional faces with the latent DPM (models that have one). With `faces`
    (one per face), each is stored as an upload of its own, living `ttl_seconds`: its latent
    (z_sem, x_T), the face as its photo and aligned crop, its render as the unedited base, so
    that it edits, mixes, downloads and deletes like an uploaded photo."""

    n: int = Field(ge=1)
    steps: int = Field(ge=1)
    latent_steps: int = Field(ge=1)
    seed: int
    faces: list[NewFace] = Field(default_factory=list)
    ttl_seconds: int = Field(default=3600, ge=1)


class TeachJob(Payload):
    """Fit a direction from the uploads `positives` (faces with a property) and `negatives`
    (without it; empty: positive-unlabelled, against faces drawn from the latent DPM), store it as
    `direction_id` (named `name` on the page), living as long as the uploads it was taught from."""

    direction_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    name: str = Field(min_length=1, max_length=40)
    positives: list[str]
    negatives: list[str]
    ttl_seconds: int = Field(default=3600, ge=1)


#: The payload type of each task name.
PAYLOADS: dict[str, type[Payload]] = {
    ENCODE: EncodeJob,
    MANIPULATE: ManipulateJob,
    INTERPOLATE: InterpolateJob,
    SAMPLE: SampleJob,
    TEACH: TeachJob,
}
#: The task name of each payload type (a job is queued again under it when its worker dies).
TASKS: dict[type[Payload], str] = {payload: name for name, payload in PAYLOADS.items()}


# --------------------------------------------------------------------------- results
# Results name stored images by id (`worker.storage`), each such field typed `ImageId` or
# `ImageIds`; the web tier serves every result with each of those fields turned into the URL of
# its image (`aligned_id` → `aligned_url`, `image_ids` → `image_urls`: `backend.results`), so
# nothing here knows the API's paths and the fields are written once.


class ImageField:
    """Marks a result field that holds stored image ids (see `ImageId`)."""


IMAGE = ImageField()
ImageId = Annotated[str, IMAGE]
OptionalImageId = Annotated[str | None, IMAGE]
ImageIds = Annotated[list[str], IMAGE]


class FaceBox(BaseModel):
    """A detected face: box ``(left, top, right, bottom)`` in photo pixels."""

    box: tuple[int, int, int, int]


class EncodeResult(BaseModel):
    latent_id: str
    aligned_id: ImageId = Field(description="the aligned crop of the face, as the model sees it")
    reconstruction_id: ImageId = Field(description="the unedited render at `render_steps`, also the base "
                                       "later edits at these steps are measured from")
    photo_id: ImageId = Field(description="the reconstruction pasted back into the original photo")
    faces: list[FaceBox]
    face: int = Field(description="index of the encoded face in `faces` (0 = largest)")
    preset: str
    image_size: int
    steps: int = Field(description="steps of the inversion that made x_T")
    render_steps: int = Field(description="steps of the reconstruction")
    solver: Solver = Field(default="ddim", description="the solver of the inversion and the reconstruction")
    grid: Grid = Field(default="uniform", description="their timestep grid")
    regions: bool = Field(default=False, description="whether the face's landmarks were found and kept: "
                          "its edits can be limited to a `region` of POST /manipulate (a `brush` needs none)")


# Results name no upload: whoever holds a job id sees its result, and a latent id lets its
# holder edit and delete the upload (README, "Access model"). The encode's result is the one
# that hands the latent id out, to the uploader.


class ManipulateResult(BaseModel):
    edits: dict[str, float]
    keep: list[str] = Field(default_factory=list, description="the attributes held fixed")
    region: Region | None = Field(default=None, description="the region the edit was limited to")
    brush: bool = Field(default=False, description="whether the edit was limited to a painted mask")
    steps: int
    solver: Solver = "ddim"
    grid: Grid = "uniform"
    image_id: ImageId = Field(description="the edited aligned crop")
    photo_id: ImageId = Field(
        description="the original photo plus what the edit changed (its difference from the unedited "
        "render), so the photo keeps its own detail wherever the edit changed nothing"
    )
    photo_replaced_id: ImageId = Field(
        description="the original photo with its face replaced by the edited crop"
    )
    base_id: OptionalImageId = Field(
        default=None, description="the unedited render the edit's change is measured from (same steps, "
        "solver and grid; for a region- or brush-limited edit, the one decoded with it: outside the mask "
        "the crop equals it)")
    strip: Strip | None = Field(default=None, description="the strip asked for, if any")
    strip_ids: ImageIds = Field(default_factory=list,
                                description="one aligned crop per amount of the strip (none without one)")


class InterpolateResult(BaseModel):
    alphas: list[float]
    steps: int
    solver: Solver = "ddim"
    grid: Grid = "uniform"
    image_ids: ImageIds = Field(description="one frame per alpha")
    gif_id: ImageId = Field(description="the frames as a looping animated GIF (a → b → a)")


class SampleResult(BaseModel):
    seed: int
    steps: int
    solver: Solver = "ddim"
    grid: Grid = "uniform"
    image_ids: ImageIds = Field(description="the drawn faces")
    latent_ids: list[str] = Field(
        default_factory=list, description="each face's latent id: it edits, mixes and deletes like an "
        "uploaded photo's (POST /manipulate, /interpolate, DELETE /latents/{id})")


class TeachResult(BaseModel):
    direction_id: str
    edit_name: str = Field(description="the name to use in `edits` of POST /manipulate")
    name: str
    method: Literal["labelled", "positive-unlabelled"]
    positives: int
    negatives: int = Field(description="faces without the property, or unlabelled ones drawn for "
                           "positive-unlabelled")
    accuracy: float | None = Field(description="balanced accuracy on held-out examples "
                                   "(cross-validated); None for positive-unlabelled")
    auroc: float = Field(description="held-out AUROC (against unlabelled faces for positive-unlabelled)")
    folds: int


#: The result type of each job kind.
RESULTS: dict[str, type[BaseModel]] = {
    "encode": EncodeResult,
    "manipulate": ManipulateResult,
    "interpolate": InterpolateResult,
    "sample": SampleResult,
    "teach": TeachResult,
}


class JobError(BaseModel):
    code: str
    message: str


class JobState(BaseModel):
    """A job as `GET /jobs/{id}` and every server-sent event show it."""

    job_id: str
    kind: JobKind
    status: JobStatus
    progress: float = Field(ge=0.0, le=1.0)
    result: dict[str, Any] | None = None
    error: JobError | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


class JobPreview(BaseModel):
    """A preview of a running job's image: the x̂0 of decoding step `step` of `total` (the job's
    network evaluations), a small WebP or PNG as a data URL. Published on the job's channel only
    (the SSE stream forwards it as `event: preview`), never stored: it is stale a step later."""

    type: Literal["preview"] = "preview"
    job_id: str
    step: int
    total: int
    image: str = Field(description="data:image/webp;base64,... (or image/png)")


# --------------------------------------------------------------------------- model facts
class ModelInfo(BaseModel):
    """What the web tier needs to know about the model, read from its files without torch
    (`models.config`, which is torch-free).

    The worker publishes this to Redis (it knows which model it serves); the backend falls
    back to reading `MODEL_DIR` itself.
    """

    model_dir: str
    preset: str
    image_size: int
    num_timesteps: int
    default_steps: int
    latent_default_steps: int | None
    can_sample: bool
    #: DDIM inversion steps of an encode that names none (the config's `encode_steps`).
    default_encode_steps: int | None = None
    attributes: list[str]
    auroc: dict[str, float] = Field(default_factory=dict)
    ranges: dict[str, tuple[float, float]] = Field(default_factory=dict)

    @classmethod
    def from_dir(cls, path: str | Path) -> ModelInfo:
        """Read `config.json` (+ `attributes.json`) of a `from_pretrained` directory.

        Raises:
            FileNotFoundError: `path` has no config.json.
            ValueError: config.json is not a DiffAE model config.
        """
        root = Path(path)
        config_file = root / "config.json"
        if not config_file.is_file():
            raise FileNotFoundError(f"{root}: no config.json (not a model directory)")
        try:
            config = ModelConfig.from_dict(json.loads(config_file.read_text()))
            info: dict[str, Any] = {}
            if (root / "attributes.json").is_file() and (root / "classifier.safetensors").is_file():
                info = json.loads((root / "attributes.json").read_text())
            auroc = {k: float(v) for k, v in (info.get("auroc") or {}).items() if math.isfinite(float(v))}
            diffusion = config.diffusion
            return cls(
                model_dir=str(root),
                preset=config.preset,
                image_size=config.autoencoder.image_size,
                num_timesteps=diffusion.num_timesteps,
                default_steps=diffusion.default_steps,
                latent_default_steps=config.latent_diffusion.default_steps if config.latent_net else None,
                default_encode_steps=diffusion.encode_steps,
                can_sample=config.latent_net is not None and (root / "latent_net.safetensors").is_file(),
                attributes=[str(n) for n in info.get("names", [])],
                auroc=auroc,
                ranges={k: (float(v[0]), float(v[1])) for k, v in (info.get("ranges") or {}).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{config_file}: not a DiffAE model config ({exc!r})") from exc
