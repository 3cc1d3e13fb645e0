"""Request and response bodies of the HTTP API (docs/service.md); they make the OpenAPI at /docs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, create_model, model_validator

from models.regions import REGIONS, Region
from models.schedule import Grid, Solver
from models.teach import MIN_EXAMPLES
from worker.contracts import (
    IMAGE,
    EncodeResult,
    InterpolateResult,
    JobError,
    JobKind,
    ManipulateResult,
    SampleResult,
    TeachResult,
)

LatentId = Annotated[str, Field(min_length=1, max_length=64, examples=["3f2b9c0e5d7a4e1f9b8c6d5e4f3a2b1c"])]


#: Most amounts one strip may ask for (one batch: the render costs about as many images).
MAX_STRIP_AMOUNTS = 9
# Ceilings the schema itself enforces before any work, whatever the settings: no request can make
# the server build a list or loop by a count it sent. The configured limits (GET /attributes
# `limits`: max_steps, max_frames, max_samples) are checked next and are at most these.
#: No diffusion here has more than 1000 timesteps, so no legal step count is above it.
STEPS_CEILING = 1000
FRAMES_CEILING = 64
SAMPLES_CEILING = 64
#: Attributes one edit may name (a model has a few dozen), and the longest name.
MAX_EDITS = 64
NAME_LENGTH = 64

Steps = Annotated[int, Field(ge=1, le=STEPS_CEILING)]
AttributeName = Annotated[str, Field(min_length=1, max_length=NAME_LENGTH)]

SOLVER_DESCRIPTION = (
    "the sampler: \"ddim\" (the official DDIM, first order) or \"dpm++2m\" (DPM-Solver++(2M), second "
    "order, one network evaluation per step as well); default: `limits.default_solver` of GET /attributes"
)
GRID_DESCRIPTION = (
    "the timestep grid: \"uniform\" (the official respacing), \"quadratic\" (dense at low noise) or "
    "\"logsnr\" (uniform in log-SNR); default: the solver's (`limits.solvers`)"
)


class _Request(BaseModel):
    # strict: `true` is not 1, "0.3" is not 0.3 (a JSON integer still counts as a number)
    model_config = ConfigDict(extra="forbid", strict=True)


class _Sampled(_Request):
    solver: Solver | None = Field(default=None, description=SOLVER_DESCRIPTION)
    grid: Grid | None = Field(default=None, description=GRID_DESCRIPTION)


class StripRequest(_Request):
    attribute: AttributeName = Field(description="one attribute (a key of `edits` or not)")
    amounts: list[FiniteFloat] = Field(
        min_length=1, max_length=MAX_STRIP_AMOUNTS, examples=[[-0.4, -0.2, 0.0, 0.2, 0.4]],
        description=f"1 to {MAX_STRIP_AMOUNTS} amounts; frame i is `edits` with the attribute at amounts[i]",
    )


#: The longest brush mask (base64 characters) a manipulate request may carry.
MAX_BRUSH_CHARS = 200_000

#: The most example faces a direction is taught from (each side).
MAX_EXAMPLES = 200


class TeachRequest(_Request):
    name: str = Field(min_length=1, max_length=40, examples=["Freckles"], description="the slider's label")
    positives: list[LatentId] = Field(
        min_length=1, max_length=MAX_EXAMPLES,
        description=f"encoded uploads (or drawn faces) that have the property: at least {MIN_EXAMPLES}")
    negatives: list[LatentId] = Field(
        default_factory=list, max_length=MAX_EXAMPLES,
        description=f"faces without it: at least {MIN_EXAMPLES}, or none for positive-unlabelled (against "
                    "faces drawn from the latent DPM; models that can sample)")


class DirectionIn(_Request):
    """A taught direction as GET /directions/{id} exports it, to import again."""

    name: str = Field(min_length=1, max_length=40)
    preset: str = Field(max_length=NAME_LENGTH,
                        description="the model it was taught on (must be the served one)")
    direction: list[FiniteFloat] = Field(min_length=1, max_length=4096,
                                         description="a vector in the classifier's normalised z_sem space")
    method: str = Field(default="imported", max_length=NAME_LENGTH)
    accuracy: FiniteFloat | None = None
    auroc: FiniteFloat | None = None
    positives: int = Field(default=0, ge=0)
    negatives: int = Field(default=0, ge=0)


class DirectionOut(DirectionIn):
    direction_id: str
    edit_name: str = Field(description="the name to use in `edits` of POST /manipulate")


class ManipulateRequest(_Sampled):
    latent_id: LatentId
    edits: dict[AttributeName, FiniteFloat] = Field(
        default_factory=dict, max_length=MAX_EDITS,
        description=f"attribute → amount, at most {MAX_EDITS} of them (see GET /attributes for names and "
                    "slider ranges)",
        examples=[{"Smiling": 0.3, "Young": -0.2}],
    )
    steps: Steps | None = Field(default=None, description="steps (a legal count, at most `limits.max_steps` "
                                "of GET /attributes); default: the solver's")
    strip: StripRequest | None = Field(
        default=None, description="also render several amounts of one attribute, in the same batch "
        "(the result's `strip_urls`, one crop per amount)")
    region: Region | None = Field(
        default=None, description="limit the edit to one region of the face: " + "; ".join(
            f"{name}: {what}" for name, what in REGIONS.items()) + ". Elsewhere the face keeps its own "
        "unedited render, and the paste-back adds only what changed inside")
    brush: str | None = Field(
        default=None, max_length=MAX_BRUSH_CHARS,
        description="a mask painted on the aligned face (GET the encode result's `image_url`), as a "
        "base64 PNG (a `data:image/png;base64,` prefix is allowed): square, 8 to 1024 px, its alpha (or, "
        "without one, its grey level) is where the edit applies. Alone it limits the edit to what was "
        "painted; with `region`, to both. Feathered like a region, and the paste-back uses it too")
    keep: list[AttributeName] = Field(
        default_factory=list, max_length=MAX_EDITS, examples=[["Young", "Male"]],
        description="attributes to hold fixed (a conditional edit): each edit moves along the part of "
                    "its direction orthogonal to theirs, so the classifier sees them unchanged")


class InterpolateRequest(_Sampled):
    latent_ids: list[LatentId] = Field(min_length=2, max_length=2, description="[a, b]")
    alphas: list[Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]] | None = Field(
        default=None, min_length=1, max_length=FRAMES_CEILING,
        description="points on the path, 0 = a, 1 = b; at most `limits.max_frames` of GET /attributes",
    )
    frames: int | None = Field(default=None, ge=2, le=FRAMES_CEILING,
                               description="evenly spaced alphas from 0 to 1; at most `limits.max_frames`")
    steps: Steps | None = None

    @model_validator(mode="after")
    def _alphas_or_frames(self) -> InterpolateRequest:
        if self.alphas is not None and self.frames is not None:
            raise ValueError("give either alphas or frames, not both")
        return self


class SampleRequest(_Sampled):
    n: int = Field(default=4, ge=1, le=SAMPLES_CEILING, description="at most `limits.max_samples`")
    steps: Steps | None = None
    latent_steps: Steps | None = None
    seed: int | None = Field(
        default=None, ge=0, lt=2**63, description="same seed, same faces; default random"
    )


class JobAccepted(BaseModel):
    job_id: str
    job_url: str
    events_url: str


class SampleAccepted(JobAccepted):
    latent_ids: list[str] = Field(
        description="the drawn faces' ids, known before they exist: each is an upload once the job has "
        "succeeded. Cancel the job (DELETE /jobs/{id}) to have none stored; DELETE /latents/{id} answers "
        "404 until a face exists")


class EncodeAccepted(JobAccepted):
    latent_id: str = Field(
        description="the upload's id: DELETE /latents/{id} works at once (it also drops the queued "
        "job); /manipulate and /interpolate accept it once the job has succeeded"
    )


# Job results as the API shows them: the worker's result models (`worker.contracts`) with every
# stored image as the URL it is served at (`GET /images/{id}`) instead of its id.


def url_name(field: str) -> str:
    """The API's name of an image-id field: `photo_id` → `photo_url`, `image_ids` → `image_urls`."""
    if field.endswith("_ids"):
        return field[: -len("_ids")] + "_urls"
    if field.endswith("_id"):
        return field[: -len("_id")] + "_url"
    raise ValueError(f"{field!r} is marked as an image id but is not named *_id or *_ids")


def served(result: type[BaseModel], name: str) -> type[BaseModel]:
    """`result` as the API serves it: each field marked `ImageId(s)` becomes its URL field."""
    fields: dict[str, Any] = {}
    for field, info in result.model_fields.items():
        if IMAGE in info.metadata:
            fields[url_name(field)] = (info.annotation, Field(description=info.description))
        else:
            fields[field] = (info.annotation, info)
    return create_model(name, **fields)


EncodeOut = served(EncodeResult, "EncodeOut")
ManipulateOut = served(ManipulateResult, "ManipulateOut")
InterpolateOut = served(InterpolateResult, "InterpolateOut")
SampleOut = served(SampleResult, "SampleOut")
TeachOut = served(TeachResult, "TeachOut")
#: The served model of each job kind's result.
SERVED: dict[str, type[BaseModel]] = {
    "encode": EncodeOut, "manipulate": ManipulateOut, "interpolate": InterpolateOut, "sample": SampleOut,
    "teach": TeachOut,
}


class JobOut(BaseModel):
    """A job; `result` is filled once `status` is "succeeded", `error` once it is "failed"."""

    job_id: str
    kind: JobKind
    status: Literal["queued", "running", "succeeded", "failed"]
    progress: float = Field(ge=0.0, le=1.0)
    queue_position: int | None = Field(
        default=None, description="while queued (GET /jobs/{id}): how many jobs queued before this one "
        "still wait; the workers take them in order")
    result: EncodeOut | ManipulateOut | InterpolateOut | SampleOut | TeachOut | None = None  # type: ignore[valid-type]
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


class SolverDefaults(BaseModel):
    """What a request naming this solver (and no grid or steps) gets."""

    grid: Grid
    steps: int = Field(description="render steps")
    encode_steps: int = Field(description="inversion steps of an encode")


class Limits(BaseModel):
    """What this server accepts, so that a client can check before sending."""

    max_upload_bytes: int
    max_pixels: int
    default_steps: int = Field(description="render steps of a request that names no solver and no steps")
    default_encode_steps: int = Field(description="inversion steps of an encode naming no solver, no steps")
    default_solver: Solver = Field(default="ddim", description="the solver of a request that names none")
    default_grid: Grid = Field(default="uniform", description="the grid of a request that names no solver")
    solvers: dict[str, SolverDefaults] = Field(default_factory=dict,
                                               description="each solver's defaults")
    max_strip_amounts: int = MAX_STRIP_AMOUNTS
    max_steps: int
    default_frames: int
    max_frames: int
    max_edit_amount: float
    max_samples: int
    ttl_seconds: int = Field(default=3600, description="how long an upload (and what was made from it) is "
                             "kept after it was last used")


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


class ExampleOut(BaseModel):
    example_id: str = Field(description="the face's id in POST /directions' `positives`/`negatives`")
    image_url: str
    labels: dict[str, int] = Field(description="attribute → 1 (has it) or 0 (has not); the unlabelled "
                                   "ones left out")


class ExamplesOut(BaseModel):
    preset: str = Field(description="the served model")
    source: str = Field(description="where the faces and their labels come from (empty: the model has none)")
    attributes: list[str] = Field(description="the labels' attribute names")
    examples: list[ExampleOut]
