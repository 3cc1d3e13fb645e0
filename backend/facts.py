"""What the web tier knows about the model it serves, without torch: `ModelFacts` (the workers'
published `ModelInfo`, else what MODEL_DIR holds, kept a few seconds), the step counts a request
without any gets, and the `/attributes` answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import redis

from backend.attributes import describe
from backend.schemas import AttributesOut, Limits, SolverDefaults
from backend.settings import Settings
from models.errors import ModelUnavailableError
from models.schedule import SOLVERS, legal_step_counts
from worker.contracts import ModelInfo
from worker.storage import Storage


class ModelFacts:
    """The model the workers serve (as they published it), else what `model_dir` holds.

    Read at most once per `max_age_s` (the facts change only when a worker with another model
    starts), so that a request does not pay a Redis round trip for them. Thread-safe.

    Args:
        storage: where the workers publish their `ModelInfo`.
        model_dir: the fallback, read without torch.
        max_age_s: how long an answer is kept; 0: read on every call.
        clock: monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        storage: Storage,
        model_dir: Path,
        max_age_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._storage = storage
        self._model_dir = model_dir
        self._max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, ModelInfo] | None = None

    def get(self, redis_fallback: bool = True) -> ModelInfo:
        """The facts, read again once they are older than `max_age_s`. When Redis fails, MODEL_DIR's
        (with `redis_fallback`; without it the Redis error, for a caller that needs Redis next
        anyway: a frozen Redis then costs it one timeout, not two).

        Raises:
            ModelUnavailableError: no worker has published its model and MODEL_DIR is not readable.
            redis.RedisError: Redis failed, and not `redis_fallback`.
        """
        now = self._clock()
        with self._lock:
            if self._cached is not None and now - self._cached[0] < self._max_age_s:
                return self._cached[1]
        try:
            info = self._storage.published_model()
        except redis.RedisError as redis_error:
            if not redis_fallback:
                raise
            # The facts are in MODEL_DIR too (`/attributes` answers while Redis is away); not kept.
            # Without MODEL_DIR the cause to report is Redis (503 queue_unavailable), not the model.
            try:
                return self._from_dir()
            except ModelUnavailableError:
                raise redis_error from None
        info = info or self._from_dir()
        with self._lock:
            self._cached = (now, info)
        return info

    def _from_dir(self) -> ModelInfo:
        try:
            return ModelInfo.from_dir(self._model_dir)
        except (OSError, ValueError) as exc:
            raise ModelUnavailableError(
                f"no worker has published its model yet and MODEL_DIR is not readable here ({exc})"
            ) from exc


def default_steps(settings: Settings, info: ModelInfo) -> int:
    """DDIM steps of a render whose request names none: DEFAULT_STEPS, else the model's."""
    return settings.default_steps or info.default_steps


def _within(steps: int, settings: Settings, info: ModelInfo) -> int:
    """`steps`, or the largest legal count within MAX_STEPS when it is above (so that a request
    without steps is never refused)."""
    if steps <= settings.max_steps:
        return steps
    within = [n for n in legal_step_counts(info.num_timesteps) if n <= settings.max_steps]
    return within[-1] if within else settings.max_steps


def encode_default_steps(settings: Settings, info: ModelInfo) -> int:
    """DDIM inversion steps of an encode that names none: DEFAULT_ENCODE_STEPS, else the model's
    `encode_steps`, else the default steps; a model default above MAX_STEPS becomes the largest
    legal count within it (so that an encode without `steps` is never refused)."""
    s = settings
    return _within(s.default_encode_steps or info.default_encode_steps or default_steps(s, info), s, info)


def solver_defaults(
    settings: Settings, info: ModelInfo, solver: str | None = None
) -> tuple[str, SolverDefaults]:
    """(solver, its defaults) for a request naming `solver` (None: DEFAULT_SOLVER): DDIM on the
    official grid with the DDIM step defaults above; DPM-Solver++(2M) with DPM_GRID, DPM_STEPS and
    DPM_ENCODE_STEPS."""
    s = settings
    name = solver or s.default_solver
    if name == "ddim":
        found = SolverDefaults(grid="uniform", steps=default_steps(s, info),
                               encode_steps=encode_default_steps(s, info))
    elif name == "dpm++2m":
        found = SolverDefaults(grid=s.dpm_grid, steps=_within(s.dpm_steps, s, info),
                               encode_steps=_within(s.dpm_encode_steps, s, info))
    else:
        raise ValueError(f"unknown solver {name!r}; allowed: {', '.join(SOLVERS)}")
    return name, found


def attributes(settings: Settings, info: ModelInfo) -> AttributesOut:
    """The `/attributes` answer: the model's edit directions and this server's limits."""
    s = settings
    solver, chosen = solver_defaults(s, info)
    limits = Limits(
        max_upload_bytes=s.max_upload_bytes,
        max_pixels=s.max_pixels,
        default_steps=chosen.steps,
        default_encode_steps=chosen.encode_steps,
        default_solver=solver,  # type: ignore[arg-type]
        default_grid=chosen.grid,
        solvers={name: solver_defaults(s, info, name)[1] for name in SOLVERS},
        max_steps=s.max_steps,
        default_frames=s.default_frames,
        max_frames=s.max_frames,
        max_edit_amount=s.max_edit_amount,
        max_samples=s.max_samples,
        ttl_seconds=s.ttl_seconds,
    )
    return describe(info, limits)
