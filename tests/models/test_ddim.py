"""DDIM schedules, respacing, sampling and inversion against OFFICIAL.md §3 and GOLDEN.md.

Reconstruction needs an ε̂ that behaves like a denoiser: DDIM inversion ends at ᾱ = 0, where
x_T keeps x_0 only in a √ᾱ_{τ_max} ≈ 0.6 % component that the network must resolve on the first
decoding step, and a purely random UNet cannot. So the tiny UNet is evaluated *on top of* the
exact ε-predictor for Gaussian data (whose probability-flow ODE is known in closed form).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from models.config import AutoencoderConfig, LatentNetConfig
from models.ddim import (
    EpsFn,
    Schedule,
    ddim_invert,
    ddim_sample,
    legal_step_counts,
    make_betas,
    respaced_timesteps,
)
from models.latent_net import LatentMLP
from models.unet import DiffAEUNet

# OFFICIAL.md §3.1, verbatim.
OFFICIAL_LEGAL = [*range(2, 37), 38, 39, 40, 42, 44, 46, 48, 50, 53, 56, 59, 63, 67, 72, 77, 84,
                  91, 100, 112, 125, 143, 167, 200, 250, 334, 500, 1000]


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


# ---------------------------------------------------------------------------- schedules
@pytest.mark.parametrize(
    ("steps", "stride"), [(10, 100), (20, 50), (50, 20), (100, 10), (125, 8), (200, 5), (250, 4),
                          (500, 2), (1000, 1)],
)
def test_respaced_timesteps_follow_the_official_stride_rule(steps: int, stride: int) -> None:
    tau = respaced_timesteps(steps)
    assert tau.dtype == np.int64 and len(tau) == steps
    np.testing.assert_array_equal(tau, np.arange(0, 1000, stride))
    assert tau[-1] == 1000 - stride  # not 999


def test_respaced_timesteps_named_maxima() -> None:
    assert respaced_timesteps(10).tolist() == list(range(0, 1000, 100))
    assert [respaced_timesteps(n)[-1] for n in (100, 200, 250)] == [990, 995, 996]


def test_respaced_timesteps_match_the_golden_file(reference_dir: Path) -> None:
    path = reference_dir / "golden_small.pt"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    schedule = torch.load(path, map_location="cpu", weights_only=True)["schedule"]
    for n in (10, 20):
        np.testing.assert_array_equal(respaced_timesteps(n), schedule[f"timesteps_T{n}"].numpy())
        s = Schedule.create("linear", n)
        np.testing.assert_allclose(s.alphas_cumprod, schedule[f"alphas_cumprod_T{n}"].numpy(),
                                   rtol=0, atol=1e-15)
        np.testing.assert_allclose(s.betas, schedule[f"betas_T{n}"].numpy(), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(make_betas("linear"), schedule["betas"].numpy())
    np.testing.assert_array_equal(make_betas("const0.008"), schedule["latent_betas"].numpy())


def test_there_are_62_legal_step_counts_as_listed_officially() -> None:
    legal = legal_step_counts()
    assert len(legal) == 62 and len(OFFICIAL_LEGAL) == 62
    assert list(legal) == OFFICIAL_LEGAL
    for n in legal:  # and each of them respaces
        assert len(respaced_timesteps(n)) == n


@pytest.mark.parametrize(
    ("steps", "nearest"),
    [(37, [36, 38]), (60, [59, 63]), (75, [72, 77]), (150, [143, 167]), (300, [250, 334]),
     (0, [2]), (1, [2]), (1001, [1000])],
)
def test_illegal_step_counts_are_refused_with_the_nearest_legal_ones(steps: int, nearest: list[int]) -> None:
    with pytest.raises(ValueError) as info:
        respaced_timesteps(steps)
    message = str(info.value)
    assert str(steps) in message
    clause = re.search(r"nearest[^\[]*\[([^\]]*)\]", message)
    assert clause is not None, message
    assert [int(v) for v in clause.group(1).split(",")] == nearest
    with pytest.raises(ValueError):
        Schedule.create("linear", steps)


def test_linear_betas_endpoints() -> None:
    betas = make_betas("linear")
    assert betas.dtype == np.float64 and betas.shape == (1000,)
    assert betas[0] == 1e-4 and betas[-1] == 0.02
    np.testing.assert_allclose(np.diff(betas), (0.02 - 1e-4) / 999, rtol=1e-9)


def test_const_betas_and_unknown_schedule() -> None:
    betas = make_betas("const0.008")
    assert betas.shape == (1000,) and np.all(betas == 0.008)
    with pytest.raises(ValueError, match=r"cosine.*linear"):
        make_betas("cosine")


def test_respaced_betas_reproduce_the_kept_alpha_bars() -> None:
    full = np.cumprod(1 - make_betas("linear"))
    s = Schedule.create("linear", 20)
    np.testing.assert_allclose(s.alphas_cumprod, full[s.timesteps], rtol=0, atol=0)
    np.testing.assert_allclose(np.cumprod(1 - s.betas), s.alphas_cumprod, rtol=1e-12)


# ---------------------------------------------------------------------------- sampler mechanics
def _gaussian_eps(std: float) -> EpsFn:
    """The exact ε-predictor E[ε | x_t] for data x_0 ~ N(0, std²·I) on the linear schedule."""
    alpha_bar = torch.from_numpy(np.cumprod(1 - make_betas("linear"))).float()

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
              callback=lambda i, n, x_k: calls.append((i, n, x_k.clone())))
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
    cfg = AutoencoderConfig(image_size=16, model_channels=32, channel_mult=(1, 2), attention_resolutions=(8,),
                            embed_channels=32, enc_out_channels=32, enc_channel_mult=(1, 2), dropout=0.0)
    torch.manual_seed(0)
    unet = DiffAEUNet(cfg).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # make the zero-initialised output layers non-zero, as GOLDEN.md does
        for p in unet.parameters():
            p.add_(0.02 * torch.randn(p.shape, generator=g))
    return unet


def test_inversion_then_decoding_reconstructs(tiny_unet: DiffAEUNet) -> None:
    s = 0.3
    gen = torch.Generator().manual_seed(2)
    x_0 = (s * torch.randn(2, 3, 16, 16, generator=gen)).clamp(-0.95, 0.95)
    gaussian = _gaussian_eps(s)
    with torch.no_grad():
        z_sem = tiny_unet.encode(x_0)
        z_scales = tiny_unet.z_scales(z_sem)
        residual = tiny_unet(torch.randn(2, 3, 16, 16, generator=gen), torch.tensor([0, 500]), z_sem)
        assert residual.std() > 0.1  # the network's part of ε̂ is far from negligible

        def eps_fn(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return gaussian(x_t, t) + tiny_unet(x_t, t, z_scales=z_scales)

        errors = {}
        for n in (10, 50):
            sched = Schedule.create("linear", n)
            x_T = ddim_invert(eps_fn, x_0, sched)
            errors[n] = float((ddim_sample(eps_fn, x_T, sched) - x_0).abs().mean())
        sched = Schedule.create("linear", 50)
        unrelated = ddim_sample(eps_fn, torch.randn(2, 3, 16, 16, generator=gen), sched)
    worst = float((unrelated - x_0).abs().mean())
    # Measured: 0.16 (T=10), 0.04 (T=50), against 0.37 from an unrelated x_T.
    assert errors[50] < 0.06 and errors[50] < worst / 5, (errors, worst)
    assert errors[10] > 2 * errors[50]  # more steps, better reconstruction (the paper's trend)


def test_latent_ddim_without_clipping_leaves_the_unit_box() -> None:
    """The latent DPM samples without clipping (OFFICIAL.md §1.3): untrained, its output is large."""
    torch.manual_seed(0)
    net = LatentMLP(LatentNetConfig(num_channels=16, num_hid_channels=32, num_layers=3,
                                    skip_layers=(1, 2), num_time_emb_channels=16)).eval()
    noise = torch.randn(4, 16, generator=torch.Generator().manual_seed(3))
    sched = Schedule.create("const0.008", 10)
    with torch.no_grad():
        free = ddim_sample(net, noise, sched, clip=False)
        clipped = ddim_sample(net, noise, sched, clip=True)
    assert free.abs().max() > 1.0
    assert clipped.abs().max() <= 1.0


def test_the_refusal_lists_the_legal_counts_of_its_own_schedule_length() -> None:
    with pytest.raises(ValueError) as info:
        respaced_timesteps(30, num_timesteps=50)
    message = str(info.value)
    assert "[25, 50]" in message
    assert message.endswith("(legal: 2-10, 13, 17, 25, 50)"), message
    with pytest.raises(ValueError) as info:
        respaced_timesteps(37)
    assert "2-36, 38, 39, 40, 42, ..., 334, 500, 1000" in str(info.value)
