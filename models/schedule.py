"""The diffusion schedule, in one place and without torch: β, ᾱ, the DDIM step rule, the
timestep grids the samplers can run on, the sampler names, and the closed forms that move between
x_0, ε, v and x_t.

Schedule arithmetic is float64 numpy, cast to float32 right before use, as the official code
does (docs/official.md, "Schedule"). The closed forms (`q_sample`, `v_target`, `eps_from_v`,
`x0_from_eps`) are plain arithmetic: they take numpy arrays or torch tensors alike, with `alpha_bar`
already shaped to broadcast against `x` (e.g. ``alpha_bar[t].view(-1, 1, 1, 1)``).

The web tier imports this module to validate `steps` before queueing, so it must never import
torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, get_args

import numpy as np

from models.errors import InvalidStepsError


def make_betas(name: str, num_timesteps: int = 1000) -> np.ndarray:
    """β_1..β_T as float64: "linear" (1e-4 → 0.02, scaled by 1000/T) or "const<value>"."""
    if name == "linear":
        scale = 1000 / num_timesteps
        return np.linspace(scale * 1e-4, scale * 0.02, num_timesteps, dtype=np.float64)
    if name.startswith("const"):
        return np.full(num_timesteps, float(name[len("const"):]), dtype=np.float64)
    raise ValueError(f"unknown beta schedule {name!r}; allowed: 'linear', 'const<value>'")


def alphas_cumprod(beta_schedule: str, num_timesteps: int = 1000) -> np.ndarray:
    """ᾱ_t = Π_{s≤t} (1 − β_s), float64 (num_timesteps,)."""
    return np.cumprod(1.0 - make_betas(beta_schedule, num_timesteps))


#: The samplers of the deterministic (η = 0) probability-flow ODE: "ddim" (first order, the
#: official sampler) and "dpm++2m" (DPM-Solver++(2M), second-order multistep, `models.solvers`).
Solver = Literal["ddim", "dpm++2m"]
SOLVERS: tuple[str, ...] = get_args(Solver)
#: The timestep grids (`grid_timesteps`): "uniform" is the official respacing.
Grid = Literal["uniform", "quadratic", "logsnr"]
GRIDS: tuple[str, ...] = get_args(Grid)


# --------------------------------------------------------------------------- closed forms
def q_sample(x_0: Any, noise: Any, alpha_bar: Any) -> Any:
    """x_t = √ᾱ x_0 + √(1 − ᾱ) ε (the forward process in one step)."""
    return alpha_bar**0.5 * x_0 + (1 - alpha_bar) ** 0.5 * noise


def v_target(x_0: Any, noise: Any, alpha_bar: Any) -> Any:
    """v = √ᾱ ε − √(1 − ᾱ) x_0 (Salimans & Ho 2022), the target of a v-prediction network."""
    return alpha_bar**0.5 * noise - (1 - alpha_bar) ** 0.5 * x_0


def eps_from_v(v: Any, x_t: Any, alpha_bar: Any) -> Any:
    """ε = √ᾱ v + √(1 − ᾱ) x_t: what the samplers see from a v-prediction network."""
    return alpha_bar**0.5 * v + (1 - alpha_bar) ** 0.5 * x_t


def x0_from_eps(x_t: Any, eps: Any, alpha_bar: Any) -> Any:
    """x̂_0 = (x_t − √(1 − ᾱ) ε) / √ᾱ."""
    return (x_t - (1 - alpha_bar) ** 0.5 * eps) / alpha_bar**0.5


# --------------------------------------------------------------------------- DDIM step rule
@cache
def legal_step_counts(num_timesteps: int = 1000) -> tuple[int, ...]:
    """Step counts T for which some stride i gives ``len(range(0, num_timesteps, i)) == T``
    (the official "ddim{T}" respacing rule)."""
    return tuple(sorted({len(range(0, num_timesteps, i)) for i in range(1, num_timesteps)}))


def check_steps(steps: int, num_timesteps: int = 1000, max_steps: int | None = None) -> int:
    """Return `steps` if it is a legal DDIM step count (≤ `max_steps`), else raise
    `InvalidStepsError` (code "invalid_request", and a ValueError).

    The message names the value and the nearest legal counts, e.g. 37 → "nearest: 36 or 38".
    """
    legal = [n for n in legal_step_counts(num_timesteps) if max_steps is None or n <= max_steps]
    if steps in legal:
        return steps
    if max_steps is not None and steps > max_steps:
        raise InvalidStepsError(
            f"steps={steps} is above this server's limit of {max_steps}; largest legal: {legal[-1]}"
        )
    below = [n for n in legal if n < steps]
    above = [n for n in legal if n > steps]
    nearest = " or ".join(str(n) for n in ([below[-1]] if below else []) + ([above[0]] if above else []))
    raise InvalidStepsError(
        f"steps={steps} is not a legal DDIM step count for {num_timesteps} timesteps "
        f"(it must equal len(range(0, {num_timesteps}, stride)) for some stride); nearest: {nearest} "
        f"(legal: {describe_counts(tuple(legal))})"
    )


def describe_counts(counts: tuple[int, ...]) -> str:
    """A short description of an ascending list of step counts: the leading run of consecutive
    counts as a range, then the next few, "...", and the last three."""
    if not counts:
        return "none"
    run_end = 0
    while run_end + 1 < len(counts) and counts[run_end + 1] == counts[run_end] + 1:
        run_end += 1
    parts = [f"{counts[0]}-{counts[run_end]}" if run_end else str(counts[0])]
    rest = counts[run_end + 1:]
    if len(rest) <= 8:
        return ", ".join(parts + [str(n) for n in rest])
    return ", ".join(parts + [str(n) for n in rest[:4]] + ["..."] + [str(n) for n in rest[-3:]])


def respaced_timesteps(steps: int, num_timesteps: int = 1000) -> np.ndarray:
    """The official "ddim{steps}" rule: the smallest stride i with len(range(0, T, i)) == steps.

    Returns int64 (steps,) ascending original timesteps {0, i, 2i, ...}. An illegal count is
    refused (`InvalidStepsError`) with the nearest legal ones (`check_steps`).
    """
    check_steps(steps, num_timesteps)
    for stride in range(1, num_timesteps):
        if len(range(0, num_timesteps, stride)) == steps:
            return np.arange(0, num_timesteps, stride, dtype=np.int64)
    raise AssertionError("unreachable: check_steps accepted an impossible count")


def _strictly_increasing(tau: np.ndarray, num_timesteps: int) -> np.ndarray:
    """Round a real grid to distinct integer timesteps in [0, num_timesteps − 1], ascending,
    keeping both ends: collisions (several points rounding to one timestep near t = 0) are pushed
    up, and then down again below the top."""
    t = np.clip(np.rint(tau), 0, num_timesteps - 1).astype(np.int64)
    for i in range(1, len(t)):
        t[i] = max(t[i], t[i - 1] + 1)
    t[-1] = min(t[-1], num_timesteps - 1)
    for i in range(len(t) - 2, -1, -1):
        t[i] = min(t[i], t[i + 1] - 1)
    if t[0] < 0:
        raise ValueError(f"{len(t)} distinct timesteps do not fit in {num_timesteps}")
    return t


def quadratic_timesteps(steps: int, num_timesteps: int = 1000) -> np.ndarray:
    """τ_i = τ_max·(i/(steps − 1))², τ_max = num_timesteps − 1, rounded to distinct integers:
    dense at low noise, where the inversion's error sits (T = 10: 0, 12, 49, 111, ...)."""
    check_steps(steps, num_timesteps)
    i = np.arange(steps, dtype=np.float64)
    return _strictly_increasing((num_timesteps - 1) * (i / (steps - 1)) ** 2, num_timesteps)


def log_snr(alpha_bar: np.ndarray) -> np.ndarray:
    """λ = log(α/σ) = ½·log(ᾱ/(1 − ᾱ)) (+∞ at ᾱ = 1, −∞ at ᾱ = 0)."""
    a = np.asarray(alpha_bar, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return 0.5 * (np.log(a) - np.log1p(-a))


def logsnr_timesteps(steps: int, beta_schedule: str = "linear", num_timesteps: int = 1000) -> np.ndarray:
    """Timesteps whose log-SNR λ is uniform from λ(0) to λ(num_timesteps − 1), each the nearest
    integer timestep (λ is monotone in t), made distinct."""
    check_steps(steps, num_timesteps)
    lam = log_snr(alphas_cumprod(beta_schedule, num_timesteps))  # decreasing in t
    targets = np.linspace(lam[-1], lam[0], steps)  # ascending λ ↔ descending t
    t_of = np.interp(targets, lam[::-1], np.arange(num_timesteps, dtype=np.float64)[::-1])
    return _strictly_increasing(t_of[::-1], num_timesteps)


def grid_timesteps(
    grid: str, steps: int, beta_schedule: str = "linear", num_timesteps: int = 1000
) -> np.ndarray:
    """The ascending int64 timesteps of a grid: "uniform" (the official respacing,
    `respaced_timesteps`), "quadratic" (`quadratic_timesteps`) or "logsnr" (`logsnr_timesteps`).
    Every grid accepts the same (legal) step counts."""
    if grid == "uniform":
        return respaced_timesteps(steps, num_timesteps)
    if grid == "quadratic":
        return quadratic_timesteps(steps, num_timesteps)
    if grid == "logsnr":
        return logsnr_timesteps(steps, beta_schedule, num_timesteps)
    raise ValueError(f"unknown timestep grid {grid!r}; allowed: {', '.join(GRIDS)}")


@dataclass(frozen=True)
class Schedule:
    """A respaced process: original timesteps τ_k (ascending) and ᾱ at each of them."""

    timesteps: np.ndarray  # int64 (S,)
    alphas_cumprod: np.ndarray  # float64 (S,)

    @classmethod
    def create(
        cls, beta_schedule: str, steps: int, num_timesteps: int = 1000, grid: str = "uniform"
    ) -> Schedule:
        tau = grid_timesteps(grid, steps, beta_schedule, num_timesteps)
        return cls(tau, alphas_cumprod(beta_schedule, num_timesteps)[tau])

    @property
    def betas(self) -> np.ndarray:
        """β of the respaced process: 1 − ᾱ_{τ_k}/ᾱ_{τ_{k−1}}."""
        prev = np.append(1.0, self.alphas_cumprod[:-1])
        return 1.0 - self.alphas_cumprod / prev

    def __len__(self) -> int:
        return len(self.timesteps)
