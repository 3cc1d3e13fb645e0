"""DDIM (η = 0) as plain functions: sampling and deterministic inversion over a respaced
`models.schedule.Schedule`.

One loop serves image decoding, latent sampling and inversion (k-diffusion style): every
sampler takes `eps_fn(x, t) -> ε̂` with raw integer timesteps t, so conditioning lives in the
caller's closure. Schedule arithmetic is float64 numpy, cast to float32 right before use, as in
the official code. The update, with its x̂0 clipping and ε re-derivation in both directions, is
the official one (docs/official.md, "DDIM sampling and inversion").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch

from models.schedule import Schedule, q_sample

EpsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
# callback(step, total, x, x0): called after each step with the new state x and the x̂0 that step
# predicted (clipped as the update used it): the cheap preview of the final image.
StepCallback = Callable[[int, int, torch.Tensor, torch.Tensor], None]


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
    x ← √ᾱ_target·x̂0 + √(1 − ᾱ_target)·ε' (`q_sample`), with x̂0 (clipped) and ε' from ε̂(x, τ_k)."""
    a = schedule.alphas_cumprod
    n = len(schedule)
    for i, k in enumerate(order):
        eps = eps_fn(x, _timestep(schedule.timesteps[k], x)).float()
        x0, eps = _predict_x0(x, eps, a, k, clip)
        x = q_sample(x0, eps, _coef(a_target, k, x))
        if callback is not None:
            callback(i, n, x, x0)
    return x


def ddim_sample(
    eps_fn: EpsFn,
    x_T: torch.Tensor,
    schedule: Schedule,
    *,
    clip: bool = True,
    callback: StepCallback | None = None,
) -> torch.Tensor:
    """Generate with DDIM, η = 0: steps k = S−1 … 0 towards ᾱ_{k−1}
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
    """Deterministic DDIM inversion (the official "stochastic encoding"): the same update
    run forwards, k = 0 … S−1 towards ᾱ_{k+1} (0 at the end); returns x_T with x_0's shape."""
    a_next = np.append(schedule.alphas_cumprod[1:], 0.0)
    return _ddim_loop(eps_fn, x_0, schedule, range(len(schedule)), a_next, clip, callback)
