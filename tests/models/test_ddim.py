"""DDIM sampling and inversion (`models.ddim`) over the official schedule.

Reconstruction needs an ε̂ that behaves like a denoiser: DDIM inversion ends at ᾱ = 0, where
x_T keeps x_0 only in a √ᾱ_{τ_max} ≈ 0.6 % component that the network must resolve on the first
decoding step, and a purely random UNet cannot. So the tiny UNet is evaluated *on top of* the
exact ε-predictor for Gaussian data (whose probability-flow ODE is known in closed form).
"""

from __future__ import annotations

import pytest
import torch

from models.ddim import EpsFn, ddim_invert, ddim_sample
from models.latent_net import LatentMLP
from models.schedule import Schedule, alphas_cumprod
from models.unet import DiffAEUNet
from tests.models.nets import TINY_CONFIG, TINY_SIZE, perturbed


# ---------------------------------------------------------------------------- sampler mechanics
def _gaussian_eps(std: float) -> EpsFn:
    """The exact ε-predictor E[ε | x_t] for data x_0 ~ N(0, std²·I) on the linear schedule."""
    alpha_bar = torch.from_numpy(alphas_cumprod("linear")).float()

    def eps_fn(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = alpha_bar[t].view(-1, *([1] * (x_t.dim() - 1)))
        return (1 - a).sqrt() * x_t / (a * std**2 + 1 - a)

    return eps_fn


@pytest.mark.parametrize("invert", [False, True])
def test_callback_once_per_step_with_increasing_indices(invert: bool) -> None:
    calls: list[tuple[int, int, torch.Tensor]] = []
    x = torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(0)).clamp(-1, 1)
    run = ddim_invert if invert else ddim_sample
    out = run(_gaussian_eps(0.5), x, Schedule.create("linear", 7),
              callback=lambda i, n, x_k, _x0: calls.append((i, n, x_k.clone())))
    assert [(i, n) for i, n, _ in calls] == [(i, 7) for i in range(7)]
    assert torch.equal(calls[-1][2], out)
    assert not torch.equal(calls[0][2], calls[1][2])


def test_gaussian_flow_inverts_to_the_closed_form_noise() -> None:
    """For N(0, s²) data the probability-flow ODE maps x_0 to exactly x_0/s at ᾱ = 0; DDIM
    inversion converges to it as the step count grows."""
    s = 0.3
    x_0 = (s * torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))).clamp(-0.95, 0.95)
    errors = [float((ddim_invert(_gaussian_eps(s), x_0, Schedule.create("linear", n)) - x_0 / s)
                    .abs().max()) for n in (20, 100, 500)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.05, errors


@pytest.fixture(scope="module")
def tiny_unet() -> DiffAEUNet:
    torch.manual_seed(0)
    return perturbed(DiffAEUNet(TINY_CONFIG.autoencoder), 1).eval()


def test_inversion_then_decoding_reconstructs(tiny_unet: DiffAEUNet) -> None:
    s = 0.3
    gen = torch.Generator().manual_seed(2)
    x_0 = (s * torch.randn(2, 3, TINY_SIZE, TINY_SIZE, generator=gen)).clamp(-0.95, 0.95)
    gaussian = _gaussian_eps(s)
    with torch.no_grad():
        z_sem = tiny_unet.encode(x_0)
        z_scales = tiny_unet.z_scales(z_sem)
        noise = torch.randn(2, 3, TINY_SIZE, TINY_SIZE, generator=gen)
        residual = tiny_unet(noise, torch.tensor([0, 500]), z_sem)
        assert residual.std() > 0.1  # the network's part of ε̂ is far from negligible

        def eps_fn(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return gaussian(x_t, t) + tiny_unet(x_t, t, z_scales=z_scales)

        errors = {}
        for n in (10, 50):
            sched = Schedule.create("linear", n)
            x_T = ddim_invert(eps_fn, x_0, sched)
            errors[n] = float((ddim_sample(eps_fn, x_T, sched) - x_0).abs().mean())
        sched = Schedule.create("linear", 50)
        unrelated = ddim_sample(eps_fn, torch.randn(2, 3, TINY_SIZE, TINY_SIZE, generator=gen), sched)
    worst = float((unrelated - x_0).abs().mean())
    # Measured: 0.16 (T=10), 0.04 (T=50), against 0.36 from an unrelated x_T.
    assert errors[50] < 0.06 and errors[50] < worst / 5, (errors, worst)
    assert errors[10] > 2 * errors[50]  # more steps, better reconstruction (the paper's trend)


def test_latent_ddim_without_clipping_leaves_the_unit_box() -> None:
    """The latent DPM samples without clipping, as the official one: untrained, its output is large."""
    torch.manual_seed(0)
    assert TINY_CONFIG.latent_net is not None
    net = LatentMLP(TINY_CONFIG.latent_net).eval()
    noise = torch.randn(4, TINY_CONFIG.latent_net.num_channels, generator=torch.Generator().manual_seed(3))
    sched = Schedule.create("const0.008", 10)
    with torch.no_grad():
        free = ddim_sample(net, noise, sched, clip=False)
        clipped = ddim_sample(net, noise, sched, clip=True)
    assert free.abs().max() > 1.0
    assert clipped.abs().max() <= 1.0
