"""Golden parity against the official implementation, with negative controls.

The golden file is data in the reference folder (`golden_small.pt`, skipped when absent): a
small model of the official architecture with every output the official code computed from it
(its layout: `models.conversion.parity` and docs/official.md, "Golden vectors").
`run_parity` must pass on the shared golden file, fail when the implementation or the file is
wrong, and work on any file of the golden layout: a second file is built here from our own
networks for a different layout (2 heads, attention at 8 px, 5 steps) — self-consistent by
construction, so its job is to prove genericity, and corrupting it must make parity fail.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import torch

import models.unet
from models.config import AutoencoderConfig, LatentNetConfig
from models.conversion.parity import Row, main, run_parity
from models.ddim import EpsFn, StepCallback, ddim_invert, ddim_sample
from models.latent_net import LatentMLP
from models.layers import timestep_embedding
from models.schedule import Schedule, alphas_cumprod, make_betas
from models.unet import DiffAEUNet

Capture = pytest.CaptureFixture[str]


@pytest.fixture(scope="module")
def golden_path(reference_dir: Path) -> Path:
    path = reference_dir / "golden_small.pt"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


@pytest.fixture(scope="module")
def golden(golden_path: Path) -> dict[str, Any]:
    return torch.load(golden_path, map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def golden_rows(golden: dict[str, Any]) -> list[Row]:
    return run_parity(golden)


def _failing(rows: list[Row]) -> set[str]:
    return {r.name for r in rows if not r.ok}


def _assert_complete(rows: list[Row], golden: dict[str, Any]) -> None:
    """Every stored output and schedule array got a row: nothing is silently skipped."""
    names = {r.name for r in rows}
    assert set(golden["outputs"]) <= names, sorted(set(golden["outputs"]) - names)
    assert {f"schedule.{k}" for k in golden["schedule"]} <= names


# ---------------------------------------------------------------------------- golden_small
def test_golden_small_every_row_passes(golden_rows: list[Row], golden: dict[str, Any]) -> None:
    _assert_complete(golden_rows, golden)
    assert not _failing(golden_rows), [r for r in golden_rows if not r.ok]


def test_golden_small_fails_when_sin_and_cos_are_swapped(
    golden: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Swapping sin and cos moves eps by ~0.066 (measured on the official code) — far outside
    the 5e-5 bound."""

    def swapped(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
        emb = timestep_embedding(t, dim, max_period)
        return torch.cat([emb[:, dim // 2:], emb[:, : dim // 2]], dim=-1)

    monkeypatch.setattr(models.unet, "timestep_embedding", swapped)
    rows = {r.name: r for r in run_parity(golden)}
    assert not rows["eps"].ok and rows["eps"].max_abs > 1e-2
    assert not rows["encode_T10"].ok
    # The encoder and the latent MLP never see the UNet's time embedding.
    assert rows["z_sem"].ok and rows["latent_eps"].ok and rows["latent_sample_T10"].ok


def test_parity_cli_exits_0_on_the_golden_file(golden_path: Path, golden_rows: list[Row],
                                               capsys: Capture) -> None:
    assert main([str(golden_path)]) == 0
    out = capsys.readouterr().out
    n = len(golden_rows)
    assert f"{n} of {n} checks pass" in out and "FAIL" not in out


# ---------------------------------------------------------------------------- another layout
# A different layout from golden_small in every dimension parity must read from the file (2 heads,
# an encoder deeper than the UNet), so not the shared tiny config (tests/models/nets.py).
OTHER_AE = AutoencoderConfig(
    image_size=16, model_channels=32, channel_mult=(1, 2), num_res_blocks=1,
    attention_resolutions=(8,), num_heads=2, embed_channels=48, enc_out_channels=48,
    enc_channel_mult=(1, 2, 2), enc_num_res_blocks=1, dropout=0.1,
)
OTHER_LATENT = LatentNetConfig(num_channels=48, num_hid_channels=64, num_layers=3, skip_layers=(1, 2),
                               num_time_emb_channels=32)
OTHER_STEPS = 5  # ddim5: timesteps 0, 200, ..., 800


def _official_autoencoder_dict(c: AutoencoderConfig) -> dict[str, Any]:
    """Our config written as the official `BeatGANsAutoencConfig` fields (as a golden file's
    `config` holds them)."""
    return {
        "image_size": c.image_size, "in_channels": c.in_channels, "model_channels": c.model_channels,
        "out_channels": c.out_channels, "num_res_blocks": c.num_res_blocks,
        "num_input_res_blocks": None, "embed_channels": c.embed_channels,
        "attention_resolutions": list(c.attention_resolutions), "time_embed_channels": None,
        "dropout": c.dropout, "channel_mult": list(c.channel_mult), "input_channel_mult": None,
        "conv_resample": True, "dims": 2, "num_classes": None, "use_checkpoint": False,
        "num_heads": c.num_heads, "num_head_channels": c.num_head_channels, "num_heads_upsample": -1,
        "resblock_updown": True, "use_new_attention_order": False, "resnet_two_cond": True,
        "resnet_cond_channels": None, "resnet_use_zero_module": True, "attn_checkpoint": False,
        "enc_out_channels": c.enc_out_channels, "enc_attn_resolutions": None,
        "enc_pool": "adaptivenonzero", "enc_num_res_block": c.enc_num_res_blocks,
        "enc_channel_mult": list(c.enc_channel_mult), "enc_grad_checkpoint": False,
    }


def _official_latent_dict(c: LatentNetConfig) -> dict[str, Any]:
    return {
        "num_channels": c.num_channels, "skip_layers": list(c.skip_layers),
        "num_hid_channels": c.num_hid_channels, "num_layers": c.num_layers,
        "num_time_emb_channels": c.num_time_emb_channels, "activation": "silu",
        "use_norm": c.use_norm, "condition_bias": c.condition_bias, "dropout": c.dropout,
        "last_act": "none", "num_time_layers": 2, "time_last_act": False,
    }


def _diffusion_dict(schedule: str, clip: bool, steps: int) -> dict[str, Any]:
    return {"T": 1000, "beta_schedule": schedule, "model_mean_type": "eps",
            "model_var_type": "fixed_large", "rescale_timesteps": False, "gen_type": "ddim",
            "eta": 0.0, "clip_denoised": clip, "sampling_steps": steps, "respacing": f"ddim{steps}"}


def make_golden(ae: AutoencoderConfig, lat: LatentNetConfig, steps: int,
                extra_respacings: tuple[int, ...] = (10,)) -> dict[str, Any]:
    """A golden-layout dict computed with our implementation. The image DDIM
    runs through precomputed z-scales, a different code path from the one `run_parity` uses."""
    torch.manual_seed(0)
    unet, latent = DiffAEUNet(ae).eval(), LatentMLP(lat).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in (unet, latent):
            for p in module.parameters():  # shared linear_emb/cond_layers.1 is one tensor here
                p.add_(0.02 * torch.randn(p.shape, generator=g))
    gd = torch.Generator().manual_seed(2)
    B, H, Z = 2, ae.image_size, ae.z_dim
    inputs = {
        "x": torch.rand(B, 3, H, H, generator=gd) * 2 - 1,
        "x_t": torch.randn(B, 3, H, H, generator=gd),
        "t": torch.tensor([3, 777]),
        "x_T": torch.randn(B, 3, H, H, generator=gd),
        "latent_x": torch.randn(B, Z, generator=gd),
        "latent_t": torch.tensor([3, 777]),
        "latent_noise": torch.randn(B, Z, generator=gd),
        "sample_x_T": torch.randn(B, 3, H, H, generator=gd),
        "conds_mean": torch.randn(Z, generator=gd) * 0.5,
        "conds_std": torch.rand(Z, generator=gd) * 0.5 + 0.5,
    }
    S = steps
    img, lat_s = Schedule.create("linear", S), Schedule.create("const0.008", S)

    def eps_fn(z: torch.Tensor) -> EpsFn:
        z_scales = unet.z_scales(z)
        return lambda x, t: unet(x, t, z_scales=z_scales)

    def keep(store: list[torch.Tensor]) -> StepCallback:
        return lambda _i, _n, x, _x0: store.append(x.clone())

    out: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        z = out["z_sem"] = unet.encode(inputs["x"])
        out["eps"] = unet(inputs["x_t"], inputs["t"], z)
        render: list[torch.Tensor] = []
        encode: list[torch.Tensor] = []
        out[f"render_T{S}"] = ddim_sample(eps_fn(z), inputs["x_T"], img, callback=keep(render))
        out[f"render_T{S}_traj"] = torch.stack(render)
        out[f"encode_T{S}"] = ddim_invert(eps_fn(z), inputs["x"], img, callback=keep(encode))
        out[f"encode_T{S}_traj"] = torch.stack(encode)
        out[f"recon_T{S}"] = ddim_sample(eps_fn(z), out[f"encode_T{S}"], img)
        out["latent_eps"] = latent(inputs["latent_x"], inputs["latent_t"])
        z_n = ddim_sample(latent, inputs["latent_noise"], lat_s, clip=False)
        out[f"latent_sample_T{S}_normalized"] = z_n
        out[f"latent_sample_T{S}"] = z_n * inputs["conds_std"] + inputs["conds_mean"]
        out[f"sample_img_T{S}"] = ddim_sample(eps_fn(out[f"latent_sample_T{S}"]),
                                              inputs["sample_x_T"], img)

    betas, lat_betas = make_betas("linear"), make_betas("const0.008")
    sched: dict[str, torch.Tensor] = {
        "betas": torch.from_numpy(betas), "alphas_cumprod": torch.from_numpy(alphas_cumprod("linear")),
        "latent_betas": torch.from_numpy(lat_betas),
        "latent_alphas_cumprod": torch.from_numpy(alphas_cumprod("const0.008")),
    }
    for n in (S, *extra_respacings):
        s, ls = Schedule.create("linear", n), Schedule.create("const0.008", n)
        sched[f"timesteps_T{n}"] = torch.from_numpy(s.timesteps)
        sched[f"alphas_cumprod_T{n}"] = torch.from_numpy(s.alphas_cumprod)
        sched[f"betas_T{n}"] = torch.from_numpy(s.betas)
        sched[f"latent_alphas_cumprod_T{n}"] = torch.from_numpy(ls.alphas_cumprod)
    return {
        "format_version": 1, "which": "test-other-layout",
        "description": "self-made golden-layout file (tests/models/test_parity.py)",
        "config": {
            "autoencoder": _official_autoencoder_dict(ae), "latent_net": _official_latent_dict(lat),
            "diffusion": _diffusion_dict("linear", True, S),
            "latent_diffusion": {**_diffusion_dict("const0.008", False, S), "znormalize": True},
            "seeds": {"init": 0, "perturb": 1, "data": 2}, "perturb_std": 0.02,
        },
        "config_notes": {},
        "state_dict": {k: v.clone() for k, v in unet.state_dict().items()},
        "latent_state_dict": {k: v.clone() for k, v in latent.state_dict().items()},
        "inputs": inputs, "outputs": out, "schedule": sched,
    }


@pytest.fixture(scope="module")
def other_golden() -> dict[str, Any]:
    return make_golden(OTHER_AE, OTHER_LATENT, OTHER_STEPS)


def test_other_layout_has_the_official_key_layout(other_golden: dict[str, Any]) -> None:
    sd = other_golden["state_dict"]
    # The official UNet's rules for 1 ResBlock per level, attention only at 8 px (64 channels):
    attention = {k.rsplit(".qkv", 1)[0] for k in sd if k.endswith("qkv.weight") and "encoder" not in k}
    assert attention == {"input_blocks.3.1", "middle_block.1", "output_blocks.0.1", "output_blocks.1.1"}
    assert sd["input_blocks.3.1.qkv.weight"].shape == (192, 64, 1)
    assert "output_blocks.1.2.emb_layers.1.weight" in sd  # the up-ResBlock follows the attention
    assert "encoder.out.3.weight" in sd and "time_embed.time_embed.0.weight" in sd
    lat = other_golden["latent_state_dict"]  # the official alias is stored, as in real checkpoints
    assert torch.equal(lat["layers.0.linear_emb.weight"], lat["layers.0.cond_layers.1.weight"])


def test_parity_is_generic_over_the_layout(other_golden: dict[str, Any]) -> None:
    rows = run_parity(other_golden)
    _assert_complete(rows, other_golden)
    assert {r.name for r in rows} >= {"render_T5", "encode_T5_traj", "schedule.timesteps_T10"}
    assert not _failing(rows), [r for r in rows if not r.ok]


@pytest.mark.parametrize(
    ("where", "key", "delta", "expect"),
    [
        ("outputs", "eps", 1e-3, {"eps"}),
        ("outputs", "encode_T5_traj", 5e-3, {"encode_T5_traj"}),
        ("outputs", "render_T5", 1e-3, {"render_T5"}),  # caught by the 1e-4 mean-abs bound
        # sample_img is rendered from the *stored* latent sample, so it moves too.
        ("outputs", "latent_sample_T5", 1.0, {"latent_sample_T5", "sample_img_T5"}),
        ("schedule", "timesteps_T10", 1, {"schedule.timesteps_T10"}),
        ("inputs", "x_t", 1e-2, {"eps"}),
    ],
)
def test_parity_fails_on_a_corrupted_other_layout(
    other_golden: dict[str, Any], where: str, key: str, delta: float, expect: set[str]
) -> None:
    bad = copy.copy(other_golden)
    bad[where] = dict(other_golden[where])
    bad[where][key] = other_golden[where][key] + delta
    assert _failing(run_parity(bad)) == expect


def test_parity_cli_exits_1_on_a_corrupted_file(other_golden: dict[str, Any], tmp_path: Path,
                                                capsys: Capture) -> None:
    # Only eps is corrupted (it feeds nothing else): exactly that row fails, and the exit code says so.
    bad = dict(other_golden, outputs=dict(other_golden["outputs"]))
    bad["outputs"]["eps"] = other_golden["outputs"]["eps"] + 1e-3
    torch.save(bad, tmp_path / "bad.pt")
    assert main([str(tmp_path / "bad.pt")]) == 1
    out = capsys.readouterr().out
    assert "failing: eps\n" in out and "| eps |" in out


def test_parity_refuses_a_state_dict_of_another_layout(other_golden: dict[str, Any]) -> None:
    bad = dict(other_golden, state_dict=dict(other_golden["state_dict"]))
    del bad["state_dict"]["out.2.bias"]
    with pytest.raises(ValueError, match=r"out\.2\.bias"):
        run_parity(bad)
