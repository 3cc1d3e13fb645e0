"""The web tier's settings: one typed object, built once and injected into the app."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from backend.security import parse_origins
from models.schedule import Grid, Solver
from worker.settings import REPO, SharedSettings


class Settings(SharedSettings):
    """Environment variables (upper-case field names), e.g. ``REDIS_URL``, ``PORT``; the shared
    ones (``REDIS_URL``, ``MODEL_DIR``, ``TTL_SECONDS``) are documented in `SharedSettings`."""

    align_backend: Literal["dlib", "face_alignment"] = "dlib"
    #: False: warp at 4 × the model's size (≤ 2/255 from the official 4096 warp, ~16× faster).
    align_faithful: bool = False
    #: dlib scans photos larger than this on a shrunk copy; the landmarks are still found on the
    #: full photo (docs/alignment.md, "Big photos"). 0, or ALIGN_FAITHFUL: scan the whole photo.
    detect_max_pixels: int = Field(default=2048 * 2048, ge=0)
    max_upload_bytes: int = Field(default=20 * 2**20, ge=1)
    max_pixels: int = Field(default=50_000_000, ge=1)
    #: Composed whole photos kept in the API process for repeated fetches (0: none).
    composed_cache_bytes: int = Field(default=128 * 2**20, ge=0)
    #: The solver of a request that names none ("ddim" or "dpm++2m"); a request naming a solver but
    #: no grid or steps gets that solver's defaults below. DPM-Solver++(2M) on the quadratic grid,
    #: inverting with 10 steps and rendering with 5, is the cheapest configuration measured that
    #: reaches DDIM-50 inversion + DDIM-20 render on reconstruction and edit SSIM (docs/benchmarks.md,
    #: "Fewer steps"): 5 network evaluations per slider move instead of 20, 15 per encode instead of 70.
    default_solver: Solver = "dpm++2m"
    #: DDIM steps when a request names none (legal: 2-36, 38, 39, 40, 42, ...); None: the model's.
    default_steps: int | None = None
    #: DDIM inversion steps of an encode that names none; None: the model's `encode_steps`, else
    #: the default steps. x_T is inverted once per face, so more steps here cost once and make every
    #: later edit more faithful (the official notebooks invert with 250 steps, render with 20-100).
    default_encode_steps: int | None = None
    #: DPM-Solver++(2M)'s grid, render steps and inversion steps when a request names none.
    dpm_grid: Grid = "quadratic"
    dpm_steps: int = Field(default=5, ge=1)
    dpm_encode_steps: int = Field(default=10, ge=1)
    max_steps: int = Field(default=250, ge=1)
    #: Interpolation frames when a request gives neither `alphas` nor `frames`.
    default_frames: int = Field(default=8, ge=2)
    max_frames: int = Field(default=16, ge=2)
    #: Largest |amount| of one edit; the sliders use a smaller range (see `/attributes`).
    max_edit_amount: float = Field(default=2.0, gt=0)
    max_samples: int = Field(default=8, ge=1)
    #: Accept jobs only while a worker heartbeat is alive (else 503 queue_unavailable).
    require_worker: bool = True
    retry_after_seconds: int = Field(default=5, ge=1)
    #: The longest the API waits for one Redis reply (and for a connection) before it answers 503
    #: `queue_unavailable`: a frozen or unreachable Redis costs a request about this much.
    redis_timeout_seconds: float = Field(default=1.0, gt=0)
    #: How long the API keeps the model facts (the worker's published `ModelInfo`, else
    #: MODEL_DIR's) before reading them again; 0: every request reads them.
    model_facts_seconds: float = Field(default=5.0, ge=0)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    frontend_dir: Path = REPO / "frontend"
    #: Other sites' origins (``scheme://host[:port]``, comma-separated) whose pages may POST and
    #: DELETE here, answered with CORS headers; the app's own origin always may (backend/security.py).
    allowed_origins: Annotated[frozenset[str], NoDecode] = frozenset()

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _parse_origins(cls, value: str | Iterable[str]) -> frozenset[str]:
        return parse_origins(value)
