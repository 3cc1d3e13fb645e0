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

# --------------------------------------------------------------------------- task names
ENCODE = "diffae.encode"
MANIPULATE = "diffae.manipulate"
INTERPOLATE = "diffae.interpolate"
SAMPLE = "diffae.sample"

#: Celery queue every task goes to (one queue: the worker is a single solo process per device).
QUEUE = "diffae"

JobKind = Literal["encode", "manipulate", "interpolate", "sample"]
JobStatus = Literal["queued", "running", "succeeded", "failed"]
FINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed"})


# --------------------------------------------------------------------------- payloads
class Payload(BaseModel):
    """What every task carries: the id of the job it runs (its hash holds the state)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    job_id: str = Field(pattern=r"^[0-9a-f]{32}$")


class EncodeJob(Payload):
    """Invert the aligned face stored under `latent_id` with `steps` DDIM steps and render its
    reconstruction with `render_steps` (None: `steps`), the T its edits will use."""

    latent_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    steps: int = Field(ge=1)
    render_steps: int | None = Field(default=None, ge=1)


class ManipulateJob(Payload):
    """Move the latent's z_sem along attribute directions and decode with its own x_T."""

    latent_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    edits: dict[str, float]
    steps: int = Field(ge=1)


class InterpolateJob(Payload):
    """Decode the path from latent a to latent b (z_sem lerped, x_T slerped) at `alphas`."""

    latent_ids: tuple[str, str]
    alphas: list[float] = Field(min_length=1)
    steps: int = Field(ge=1)


class SampleJob(Payload):
    """Draw `n` unconditional faces with the latent DPM (models that have one)."""

    n: int = Field(ge=1)
    steps: int = Field(ge=1)
    latent_steps: int = Field(ge=1)
    seed: int


#: The payload type of each task name.
PAYLOADS: dict[str, type[Payload]] = {
    ENCODE: EncodeJob,
    MANIPULATE: ManipulateJob,
    INTERPOLATE: InterpolateJob,
    SAMPLE: SampleJob,
}


# --------------------------------------------------------------------------- results
# Results name stored images by id (`worker.storage`), each such field typed `ImageId` or
# `ImageIds`; the web tier serves every result with each of those fields turned into the URL of
# its image (`aligned_id` → `aligned_url`, `image_ids` → `image_urls`: `backend.results`), so
# nothing here knows the API's paths and the fields are written once.


class ImageField:
    """Marks a result field that holds stored image ids (see `ImageId`)."""


IMAGE = ImageField()
ImageId = Annotated[str, IMAGE]
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
    steps: int = Field(description="DDIM steps of the inversion that made x_T")
    render_steps: int = Field(description="DDIM steps of the reconstruction")


class ManipulateResult(BaseModel):
    latent_id: str
    edits: dict[str, float]
    steps: int
    image_id: ImageId = Field(description="the edited aligned crop")
    photo_id: ImageId = Field(
        description="the original photo plus what the edit changed (its difference from the unedited "
        "render), so the photo keeps its own detail wherever the edit changed nothing"
    )
    photo_replaced_id: ImageId = Field(
        description="the original photo with its face replaced by the edited crop"
    )


class InterpolateResult(BaseModel):
    latent_ids: tuple[str, str]
    alphas: list[float]
    steps: int
    image_ids: ImageIds = Field(description="one frame per alpha")
    gif_id: ImageId = Field(description="the frames as a looping animated GIF (a → b → a)")


class SampleResult(BaseModel):
    seed: int
    steps: int
    image_ids: ImageIds = Field(description="the drawn faces")


#: The result type of each job kind.
RESULTS: dict[str, type[BaseModel]] = {
    "encode": EncodeResult,
    "manipulate": ManipulateResult,
    "interpolate": InterpolateResult,
    "sample": SampleResult,
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
