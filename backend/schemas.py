"""Request and response bodies of the HTTP API (docs/service.md); they make the OpenAPI at /docs."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, model_validator

from worker.contracts import FaceBox, JobError

LatentId = Annotated[str, Field(min_length=1, max_length=64, examples=["3f2b9c0e5d7a4e1f9b8c6d5e4f3a2b1c"])]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ManipulateRequest(_Request):
    latent_id: LatentId
    edits: dict[str, FiniteFloat] = Field(
        default_factory=dict,
        description="attribute → amount (see GET /attributes for names and slider ranges)",
        examples=[{"Smiling": 0.3, "Young": -0.2}],
    )
    steps: int | None = Field(default=None, description="DDIM steps (a legal count); default: the server's")


class InterpolateRequest(_Request):
    latent_ids: list[LatentId] = Field(min_length=2, max_length=2, description="[a, b]")
    alphas: list[Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]] | None = Field(
        default=None, min_length=1, description="points on the path, 0 = a, 1 = b"
    )
    frames: int | None = Field(default=None, ge=2, description="evenly spaced alphas from 0 to 1")
    steps: int | None = None

    @model_validator(mode="after")
    def _alphas_or_frames(self) -> InterpolateRequest:
        if self.alphas is not None and self.frames is not None:
            raise ValueError("give either alphas or frames, not both")
        return self


class SampleRequest(_Request):
    n: int = Field(default=4, ge=1)
    steps: int | None = None
    latent_steps: int | None = None
    seed: int | None = Field(
        default=None, ge=0, lt=2**63, description="same seed, same faces; default random"
    )


class JobAccepted(BaseModel):
    job_id: str
    job_url: str
    events_url: str


class EncodeAccepted(JobAccepted):
    latent_id: str = Field(
        description="the upload's id: DELETE /latents/{id} works at once (it also drops the queued "
        "job); /manipulate and /interpolate accept it once the job has succeeded"
    )


# Job results as the API shows them: every stored image as the URL it is served at
# (`GET /images/{id}`); the worker's results name the same images by id (`worker.contracts`).


class EncodeOut(BaseModel):
    latent_id: str
    aligned_url: str
    reconstruction_url: str
    photo_url: str = Field(description="the reconstruction pasted back into the original photo")
    faces: list[FaceBox]
    face: int = Field(description="index of the encoded face in `faces` (0 = largest)")
    preset: str
    image_size: int
    steps: int = Field(description="DDIM steps of the inversion that made x_T")
    render_steps: int = Field(description="DDIM steps of the reconstruction")


class ManipulateOut(BaseModel):
    latent_id: str
    edits: dict[str, float]
    steps: int
    image_url: str = Field(description="the edited aligned crop")
    photo_url: str = Field(
        description="the original photo plus what the edit changed (its difference from the unedited "
        "render), so the photo keeps its own detail wherever the edit changed nothing"
    )
    photo_replaced_url: str | None = Field(
        default=None, description="the original photo with its face replaced by the edited crop"
    )


class InterpolateOut(BaseModel):
    latent_ids: tuple[str, str]
    alphas: list[float]
    steps: int
    image_urls: list[str]
    gif_url: str


class SampleOut(BaseModel):
    seed: int
    steps: int
    image_urls: list[str]


class JobOut(BaseModel):
    """A job; `result` is filled once `status` is "succeeded", `error` once it is "failed"."""

    job_id: str
    kind: Literal["encode", "manipulate", "interpolate", "sample"]
    status: Literal["queued", "running", "succeeded", "failed"]
    progress: float = Field(ge=0.0, le=1.0)
    result: EncodeOut | ManipulateOut | InterpolateOut | SampleOut | None = None
    error: JobError | None = None


class AttributeOut(BaseModel):
    name: str = Field(description="the classifier's name (CelebA-HQ), used as the key in `edits`")
    label: str
    note: str | None = Field(default=None, description="what a positive amount does, when not obvious")
    min: float
    max: float
    step: float
    default: float = 0.0
    auroc: float | None = Field(default=None, description="held-out AUROC of the direction's classifier")


class Limits(BaseModel):
    """What this server accepts, so that a client can check before sending."""

    max_upload_bytes: int
    max_pixels: int
    default_steps: int
    default_encode_steps: int = Field(description="DDIM inversion steps of an encode that names none")
    max_steps: int
    default_frames: int
    max_frames: int
    max_edit_amount: float
    max_samples: int


class AttributesOut(BaseModel):
    preset: str
    image_size: int
    can_sample: bool
    attributes: list[AttributeOut]
    limits: Limits


class HealthOut(BaseModel):
    status: Literal["ok", "unavailable"]
    redis: bool
    workers: list[str]
    model: str | None = None
    error: JobError | None = None


class ErrorOut(BaseModel):
    """Every error: ``{"error": {"code", "message"}}``."""

    error: JobError
