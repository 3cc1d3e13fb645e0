"""DDIM (η = 0) as plain functions: schedules, respacing, sampling and deterministic inversion.

One loop serves image decoding, latent sampling and inversion (k-diffusion style): every
sampler takes `eps_fn(x, t) -> ε̂` with raw integer timesteps t, so conditioning lives in the
caller's closure. Schedule arithmetic is float64 numpy, cast to float32 right before use, as in
the official code (OFFICIAL.md §3).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch

EpsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
# callback(step, total, x): called after each step with the current state.
StepCallback = Callable[[int, int, torch.Tensor], None]


def make_betas(name: str, num_timesteps: int = 1000) -> np.ndarray:
    """β_1..β_T as float64: "linear" (1e-4 → 0.02, scaled by 1000/T) or "const<value>"."""
    if name == "linear":
        scale = 1000 / num_timesteps
        return np.linspace(scale * 1e-4, scale * 0.02, num_timesteps, dtype=np.float64)
    if name.startswith("const"):
        return np.full(num_timesteps, float(name[len("const"):]), dtype=np.float64)
    raise ValueError(f"unknown beta schedule {name!r}; allowed: 'linear', 'const<value>'")


@cache
def legal_step_counts(num_timesteps: int = 1000) -> tuple[int, ...]:
    """Step counts T for which some stride i gives len(range(0, num_timesteps, i)) == T."""
    return tuple(sorted({len(range(0, num_timesteps, i)) for i in range(1, num_timesteps)}))


def respaced_timesteps(steps: int, num_timesteps: int = 1000) -> np.ndarray:
    """The official "ddim{steps}" rule: the smallest stride i with len(range(0, T, i)) == steps.

    Returns int64 (steps,) ascending original timesteps {0, i, 2i, ...}. An illegal count is
    refused with the nearest legal ones (e.g. 37 → 36 or 38).
    """
    for stride in range(1, num_timesteps):
        if len(range(0, num_timesteps, stride)) == steps:
            return np.arange(0, num_timesteps, stride, dtype=np.int64)
    legal = legal_step_counts(num_timesteps)
    below = [n for n in legal if n < steps]
    above = [n for n in legal if n > steps]
    nearest = ([below[-1]] if below else []) + ([above[0]] if above else [])
    raise ValueError(
        f"cannot respace {num_timesteps} timesteps into {steps} DDIM steps; nearest legal step "
        f"counts: {nearest} (legal: {_describe(legal)})"
    )


def _describe(counts: tuple[int, ...]) -> str:
    """A short description of an ascending list of step counts: the leading run of consecutive
    counts as a range, then the next few, "...", and the last three."""
    run_end = 0
    while run_end + 1 < len(counts) and counts[run_end + 1] == counts[run_end] + 1:
        run_end += 1
    parts = [f"{counts[0]}-{counts[run_end]}" if run_end else str(counts[0])]
    rest = counts[run_end + 1:]
    if len(rest) <= 8:
        return ", ".join(parts + [str(n) for n in rest])
    return ", ".join(parts + [str(n) for n in rest[:4]] + ["..."] + [str(n) for n in rest[-3:]])


@dataclass(frozen=True)
class Schedule:
    """A respaced process: original timesteps τ_k (ascending) and ᾱ at each of them."""

    timesteps: np.ndarray  # int64 (S,)
    alphas_cumprod: np.ndarray  # float64 (S,)

    @classmethod
    def create(cls, beta_schedule: str, steps: int, num_timesteps: int = 1000) -> Schedule:
        alphas_cumprod = np.cumprod(1.0 - make_betas(beta_schedule, num_timesteps))
        tau = respaced_timesteps(steps, num_timesteps)
        return cls(tau, alphas_cumprod[tau])

    @property
    def betas(self) -> np.ndarray:
        """β of the respaced process: 1 − ᾱ_{τ_k}/ᾱ_{τ_{k−1}}."""
        prev = np.append(1.0, self.alphas_cumprod[:-1])
        return 1.0 - self.alphas_cumprod / prev

    def __len__(self) -> int:
        return len(self.timesteps)


def _coef(values: np.ndarray, k: int, like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(np.float32(values[k]), device=like.device)


def _predict_x0(
    x: torch.Tensor, eps: torch.Tensor, a: np.ndarray, k: int, clip: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """x̂0 = √(1/ᾱ)·x − √(1/ᾱ − 1)·ε̂, optionally clipped, and ε re-derived from x̂0."""
    recip = _coef(np.sqrt(1.0 / a), k, x)
    recipm1 = _coef(np.sqrt(1.0 / a - 1.0), k, x)
    x0 = recip * x - recipm1 * eps
    if clip:
        x0 = x0.clamp(-1.0, 1.0)
    return x0, (recip * x - x0) / recipm1


def _timestep(tau: int, x: torch.Tensor) -> torch.Tensor:
    return torch.full((x.shape[0],), int(tau), dtype=torch.long, device=x.device)


def _ddim_loop(
    eps_fn: EpsFn,
    x: torch.Tensor,
    schedule: Schedule,
    order: Iterable[int],
    a_target: np.ndarray,
    clip: bool,
    callback: StepCallback | None,
) -> torch.Tensor:
    """The η = 0 update shared by sampling and inversion: at respaced step k,
    x ← √ᾱ_target·x̂0 + √(1 − ᾱ_target)·ε', with x̂0 (clipped) and ε' from ε̂(x, τ_k)."""
    a = schedule.alphas_cumprod
    n = len(schedule)
    for i, k in enumerate(order):
        eps = eps_fn(x, _timestep(schedule.timesteps[k], x)).float()
        x0, eps = _predict_x0(x, eps, a, k, clip)
        target = _coef(a_target, k, x)
        x = x0 * torch.sqrt(target) + torch.sqrt(1 - target) * eps
        if callback is not None:
            callback(i, n, x)
    return x


def ddim_sample(
    eps_fn: EpsFn,
    x_T: torch.Tensor,
    schedule: Schedule,
    *,
    clip: bool = True,
    callback: StepCallback | None = None,
) -> torch.Tensor:
    """Generate with DDIM, η = 0 (OFFICIAL.md §3.3): steps k = S−1 … 0 towards ᾱ_{k−1}
    (1 at the end, so the last step returns x̂0).

    Args:
        eps_fn: ε̂ = eps_fn(x_t, t) with raw timesteps t (B,).
        x_T: (B, ...) float32 start noise (images (B,3,H,W) or latents (B,C)).
        schedule: the respaced process.
        clip: clip x̂0 to [-1, 1] (images yes, latents no).
    Returns:
        x_0 with x_T's shape; with clip, in [-1, 1].
    """
    a_prev = np.append(1.0, schedule.alphas_cumprod[:-1])
    return _ddim_loop(eps_fn, x_T, schedule, reversed(range(len(schedule))), a_prev, clip, callback)


def ddim_invert(
    eps_fn: EpsFn,
    x_0: torch.Tensor,
    schedule: Schedule,
    *,
    clip: bool = True,
    callback: StepCallback | None = None,
) -> torch.Tensor:
    """Deterministic DDIM inversion ("stochastic encoding", OFFICIAL.md §3.4): the same update
    run forwards, k = 0 … S−1 towards ᾱ_{k+1} (0 at the end); returns x_T with x_0's shape."""
    a_next = np.append(schedule.alphas_cumprod[1:], 0.0)
    return _ddim_loop(eps_fn, x_0, schedule, range(len(schedule)), a_next, clip, callback)
