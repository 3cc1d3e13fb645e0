"""How much does the decoder rely on z_sem? A one-step probe, cheap enough for every evaluation.

At timestep t the network sees x_t = √ᾱ x_0 + √(1−ᾱ) ε and z_sem; its ε̂ gives the one-step
estimate x̂_0 = (x_t − √(1−ᾱ) ε̂)/√ᾱ. With the face's own z_sem and with another face's z_sem
(same x_t), the probe reports

  * `mse_own`, `mse_swapped`: MSE of x̂_0 against x_0, on [−1, 1] images;
  * `gain` = 1 − mse_own / mse_swapped: the share of the error that the right z_sem removes.

A Diffusion Autoencoder should have gain near 0 at small t (x_t already shows the face) and a
large gain at high t, where only z_sem knows the face; a decoder that ignores z_sem has gain ≈ 0
everywhere, and then no z_sem edit can show in the decoded image.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from models.pipeline import DiffAEPipeline
from models.schedule import alphas_cumprod, q_sample, x0_from_eps

PROBE_TIMESTEPS = (100, 300, 500, 700, 900)


@torch.inference_mode()
def semantic_reliance(
    pipe: DiffAEPipeline, x_0: torch.Tensor, z_sem: torch.Tensor,
    timesteps: Sequence[int] = PROBE_TIMESTEPS, seed: int = 0,
) -> list[dict[str, Any]]:
    """One row per t (original timesteps of the model's diffusion) for faces x_0 (N ≥ 2, [−1, 1])
    and their z_sem; the "other face" of face i is face i−1."""
    if len(x_0) < 2 or len(x_0) != len(z_sem):
        raise ValueError(f"need ≥ 2 faces with one z_sem each; got {len(x_0)} and {len(z_sem)}")
    d = pipe.config.diffusion
    alpha_bar = torch.as_tensor(alphas_cumprod(d.beta_schedule, d.num_timesteps), dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    x_0 = x_0.float().cpu()
    rows = []
    for t in timesteps:
        if not 0 <= t < d.num_timesteps:
            raise ValueError(f"timestep {t} outside 0..{d.num_timesteps - 1}")
        a = alpha_bar[t]
        eps = torch.randn(x_0.shape, generator=gen)
        x_t = q_sample(x_0, eps, a)
        tt = torch.full((len(x_0),), t, dtype=torch.long, device=pipe.device)
        estimates = []
        for z in (z_sem, z_sem.roll(1, 0)):
            eps_hat = pipe._eps_fn(z)(pipe._prepare(x_t), tt).cpu()
            estimates.append(x0_from_eps(x_t, eps_hat, a))
        own = (estimates[0] - x_0).pow(2).mean().item()
        swapped = (estimates[1] - x_0).pow(2).mean().item()
        rows.append({"t": int(t), "mse_own": own, "mse_swapped": swapped,
                     "gain": 1 - own / swapped if swapped > 0 else 0.0})
    return rows
