"""DPM-Solver++(2M) for the deterministic probability-flow ODE, and the one entry point that runs
any sampler (`sample`, `invert`) by name.

The ODE is the one DDIM (η = 0) discretises (docs/official.md, "DDIM sampling and inversion").
With α = √ᾱ, σ = √(1 − ᾱ), λ = log(α/σ) and the data prediction D = x̂0(x, t) (clipped for
images, as the official sampler clips it), its exact solution from s to t is

    x_t = (σ_t/σ_s)·x_s + σ_t·∫_{λ_s}^{λ_t} e^{λ}·x̂0(λ) dλ.

Holding x̂0 constant over the step gives x_t = (σ_t/σ_s)·x_s + (α_t − σ_t·α_s/σ_s)·D, which is
exactly the official DDIM update (x̂0 clipped, ε re-derived, x ← √ᾱ_t·x̂0 + √(1 − ᾱ_t)·ε'). The
second-order multistep method (Lu et al. 2022, "DPM-Solver++", the 2M variant in data-prediction
form) takes x̂0 linear in λ through the previous step's prediction: with h = λ_t − λ_s, the
previous step's h' and r = h'/h,

    D = (1 + 1/(2r))·x̂0_s − (1/(2r))·x̂0_prev,

in the same update. It costs one network evaluation per step, as DDIM does. The first step has no
previous prediction and is first order; so is a step to ᾱ = 1 (the last step of sampling, which
returns x̂0) or to ᾱ = 0 (the last step of inversion, which returns ε'), where h is infinite;
`lower_order_final` makes the step before those first order too.

Inversion is the same method run from t ≈ 0 towards T (h < 0, r > 0: the formula is the same), so
that encoding and decoding on one grid are two discretisations of one ODE and round-trip.
Coefficients are float64 numpy, cast to float32 right before use (as in `models.ddim`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from models.ddim import EpsFn, StepCallback, _predict_x0, _timestep, ddim_invert, ddim_sample
from models.schedule import SOLVERS, Schedule, log_snr


def _scalar(value: float, like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(np.float32(value), device=like.device)


def _multistep_loop(
    eps_fn: EpsFn,
    x: torch.Tensor,
    schedule: Schedule,
    order: Sequence[int],
    a_target: np.ndarray,
    clip: bool,
    callback: StepCallback | None,
    lower_order_final: bool,
) -> torch.Tensor:
    """DPM-Solver++(2M) steps k in `order`, each from ᾱ_k towards `a_target[k]` (module docstring)."""
    a = schedule.alphas_cumprod
    n = len(order)
    prev_x0: torch.Tensor | None = None
    prev_h = 0.0
    for i, k in enumerate(order):
        eps = eps_fn(x, _timestep(schedule.timesteps[k], x)).float()
        x0, _ = _predict_x0(x, eps, a, k, clip)
        a_s, a_t = float(a[k]), float(a_target[k])
        alpha_s, sigma_s = np.sqrt(a_s), np.sqrt(1.0 - a_s)
        alpha_t, sigma_t = np.sqrt(a_t), np.sqrt(1.0 - a_t)
        h = float(log_snr(np.array(a_t)) - log_snr(np.array(a_s)))
        data = x0
        if prev_x0 is not None and np.isfinite(h) and not (lower_order_final and i == n - 2):
            r = prev_h / h
            data = x0 + _scalar(1.0 / (2.0 * r), x) * (x0 - prev_x0)
        x = _scalar(sigma_t / sigma_s, x) * x + _scalar(alpha_t - sigma_t * alpha_s / sigma_s, x) * data
        if callback is not None:
            callback(i, n, x, x0)
        prev_x0, prev_h = x0, h
    return x


def dpm_solver_2m_sample(
    eps_fn: EpsFn,
    x_T: torch.Tensor,
    schedule: Schedule,
    *,
    clip: bool = True,
    callback: StepCallback | None = None,
    lower_order_final: bool = False,
) -> torch.Tensor:
    """Generate with DPM-Solver++(2M): evaluations at τ_{S−1} … τ_0, as `ddim_sample` (the same
    arguments), the last step returning x̂0."""
    a_prev = np.append(1.0, schedule.alphas_cumprod[:-1])
    order = list(reversed(range(len(schedule))))
    return _multistep_loop(eps_fn, x_T, schedule, order, a_prev, clip, callback, lower_order_final)


def dpm_solver_2m_invert(
    eps_fn: EpsFn,
    x_0: torch.Tensor,
    schedule: Schedule,
    *,
    clip: bool = True,
    callback: StepCallback | None = None,
    lower_order_final: bool = False,
) -> torch.Tensor:
    """Deterministic inversion with DPM-Solver++(2M): evaluations at τ_0 … τ_{S−1} (the image
    treated as sitting at τ_0, as `ddim_invert` does), the last step returning ε' (x_T)."""
    a_next = np.append(schedule.alphas_cumprod[1:], 0.0)
    return _multistep_loop(eps_fn, x_0, schedule, list(range(len(schedule))), a_next, clip, callback,
                           lower_order_final)


def _check(solver: str) -> None:
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; allowed: {', '.join(SOLVERS)}")


def sample(
    solver: str,
    eps_fn: EpsFn,
    x_T: torch.Tensor,
    schedule: Schedule,
    *,
    clip: bool = True,
    callback: StepCallback | None = None,
) -> torch.Tensor:
    """Generate with the named solver ("ddim" or "dpm++2m") over `schedule`."""
    _check(solver)
    if solver == "ddim":
        return ddim_sample(eps_fn, x_T, schedule, clip=clip, callback=callback)
    return dpm_solver_2m_sample(eps_fn, x_T, schedule, clip=clip, callback=callback)


def invert(
    solver: str,
    eps_fn: EpsFn,
    x_0: torch.Tensor,
    schedule: Schedule,
    *,
    clip: bool = True,
    callback: StepCallback | None = None,
) -> torch.Tensor:
    """Invert deterministically with the named solver ("ddim" or "dpm++2m") over `schedule`."""
    _check(solver)
    if solver == "ddim":
        return ddim_invert(eps_fn, x_0, schedule, clip=clip, callback=callback)
    return dpm_solver_2m_invert(eps_fn, x_0, schedule, clip=clip, callback=callback)
