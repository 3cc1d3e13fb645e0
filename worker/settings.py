"""Settings from the environment: the fields both tiers share (`SharedSettings`) and the
worker's own (`WorkerSettings`), one typed object per process, read once.

The web tier's `backend.settings.Settings` extends `SharedSettings` too (the web tier may
import the worker's modules; the worker never imports the web tier's)."""

from __future__ import annotations

import logging
import os
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO = Path(__file__).resolve().parents[1]
#: The bundled photoreal model, trained by this project: the default everywhere (demo64, the
#: drawn-face model, stays for the tests).
DEFAULT_MODEL_DIR = REPO / "models" / "weights" / "faces64"

log = logging.getLogger(__name__)


class SharedSettings(BaseSettings):
    """What both tiers read alike: environment variables (upper-case field names)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    #: Broker and storage (uploads, latents, images, job states, heartbeats).
    redis_url: str = "redis://127.0.0.1:6379/0"
    #: The worker loads this model; the web tier only reads its JSON files (before a worker has
    #: published its model facts), never its weights.
    model_dir: Path = DEFAULT_MODEL_DIR
    #: Lifetime of an upload and everything made from it, set by the web tier at upload and pushed
    #: back whenever the upload is used; what the worker writes later takes the remaining TTL of
    #: what it belongs to, so the worker's value is only a fallback.
    ttl_seconds: int = Field(default=3600, ge=1)


class WorkerSettings(SharedSettings):
    """The worker's settings, e.g. ``REDIS_URL``, ``MODEL_DIR``, ``DEVICE``."""

    #: "auto": CUDA when available, else CPU. Or any torch device string ("cuda:1", "cpu").
    device: str = "auto"
    #: "auto": the pipeline's fast dtype (fp16 on CUDA, bf16 on CPUs that have it); "float32" is exact.
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    #: The compiled engine for the networks on a CPU (`models.engine`): "auto" measures ONNX Runtime
    #: and OpenVINO (fp32, and bf16 when DTYPE allows it) against eager at worker start, in the
    #: background while eager serves, and keeps the fastest; "eager": none; or one by name (used
    #: when its output checks out, whatever its speed). Any failure serves eager, with a log line.
    engine: Literal["auto", "eager", "onnxruntime", "openvino"] = "auto"
    #: Where engines keep their exported networks and compiled blobs, per model and version.
    model_cache_dir: Path = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "diffae-studio"
    #: torch intra-op threads; 0 keeps torch's default (all cores). 1 is fastest on a busy CPU.
    torch_threads: int = Field(default=0, ge=0)
    #: Soft limit: the job fails with code "timeout" at the next DDIM step after it.
    soft_time_limit_seconds: int = Field(default=1800, ge=1)
    #: Hard limit: the worker process exits (the job is marked failed first).
    time_limit_seconds: int = Field(default=1900, ge=1)
    #: Redis redelivers an unacknowledged job after this long: keep it above the longest job.
    visibility_timeout_seconds: int = Field(default=7200, ge=1)
    #: Heartbeat period; the heartbeat key lives 3 periods.
    heartbeat_seconds: float = Field(default=5.0, gt=0)
    #: A job whose worker dies mid-run is queued again by another worker's heartbeat (within about
    #: 4 heartbeat periods) up to this many times; the next loss fails it with `worker_lost`.
    max_redeliveries: int = Field(default=2, ge=0)
    #: Publish a preview (the step's x̂0) every this many decoding steps of an edit or an encode's
    #: reconstruction, from the first step on (never the last: the result follows); 0: none.
    preview_every: int = Field(default=2, ge=0)
    #: Previews are the crop, shrunk to at most this side, as WebP (PNG where Pillow has no WebP).
    preview_max_side: int = Field(default=128, ge=8)

    @model_validator(mode="after")
    def _limits(self) -> WorkerSettings:
        if self.time_limit_seconds <= self.soft_time_limit_seconds:
            raise ValueError(
                f"TIME_LIMIT_SECONDS ({self.time_limit_seconds}) must exceed "
                f"SOFT_TIME_LIMIT_SECONDS ({self.soft_time_limit_seconds})"
            )
        if self.visibility_timeout_seconds <= self.time_limit_seconds:
            log.warning(
                "VISIBILITY_TIMEOUT_SECONDS=%s is not above TIME_LIMIT_SECONDS=%s: a long job may be "
                "delivered twice (harmless, jobs are idempotent, but it costs a second run)",
                self.visibility_timeout_seconds,
                self.time_limit_seconds,
            )
        return self


@cache
def get_settings() -> WorkerSettings:
    """The process's settings, read from the environment on first use (not at import)."""
    return WorkerSettings()
