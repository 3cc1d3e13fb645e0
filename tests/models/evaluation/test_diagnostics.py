"""The z_sem reliance probe: zero for a decoder that cannot see z_sem, positive for one that uses
it, and computed exactly as documented."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.evaluation.diagnostics import semantic_reliance
from models.pipeline import DiffAEPipeline
from models.schedule import make_betas
from models.unet import DiffAEUNet
from tests.models.nets import TINY_CONFIG, TINY_SIZE, TINY_Z, perturbed

SIZE, Z, CONFIG = TINY_SIZE, TINY_Z, TINY_CONFIG


def _pipe(blind: bool) -> DiffAEPipeline:
    torch.manual_seed(0)
    unet = perturbed(DiffAEUNet(CONFIG.autoencoder), 1)
    if blind:  # every z_sem projection zeroed: the decoder cannot see z_sem at all
        with torch.no_grad():
            for name, p in unet.named_parameters():
                if ".cond_emb_layers." in name:
                    p.zero_()
    return DiffAEPipeline(CONFIG, unet, device="cpu", dtype=torch.float32)


def _faces() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    return torch.rand(4, 3, SIZE, SIZE, generator=g) * 2 - 1, torch.randn(4, Z, generator=g) * 3


def test_a_decoder_blind_to_z_sem_gains_nothing() -> None:
    x_0, z = _faces()
    rows = semantic_reliance(_pipe(blind=True), x_0, z, timesteps=(10, 500, 990))
    assert [r["t"] for r in rows] == [10, 500, 990]
    for r in rows:
        assert r["mse_own"] == r["mse_swapped"] and r["gain"] == 0.0


def test_a_decoder_that_sees_z_sem_depends_on_it_and_matches_the_formula() -> None:
    pipe = _pipe(blind=False)
    x_0, z = _faces()
    (row,) = semantic_reliance(pipe, x_0, z, timesteps=(700,), seed=5)
    assert row["mse_own"] != row["mse_swapped"]
    # the documented computation, by hand
    a = torch.tensor(np.cumprod(1 - make_betas("linear"))[700], dtype=torch.float32)
    eps = torch.randn(x_0.shape, generator=torch.Generator().manual_seed(5))
    x_t = a.sqrt() * x_0 + (1 - a).sqrt() * eps
    t = torch.full((4,), 700)
    with torch.no_grad():
        own = pipe.autoencoder(x_t, t, z)
        swapped = pipe.autoencoder(x_t, t, z.roll(1, 0))
    mse = [((x_t - (1 - a).sqrt() * e) / a.sqrt() - x_0).pow(2).mean().item() for e in (own, swapped)]
    assert row["mse_own"] == pytest.approx(mse[0], rel=1e-5)
    assert row["mse_swapped"] == pytest.approx(mse[1], rel=1e-5)
    assert row["gain"] == pytest.approx(1 - mse[0] / mse[1], abs=1e-5)


def test_bad_arguments_are_refused() -> None:
    x_0, z = _faces()
    with pytest.raises(ValueError, match="2 faces"):
        semantic_reliance(_pipe(blind=True), x_0[:1], z[:1])
    with pytest.raises(ValueError, match="timestep"):
        semantic_reliance(_pipe(blind=True), x_0, z, timesteps=(1000,))
