"""Our networks' state dicts against the official checkpoint layouts, and the converter's
config inference on them.

The layouts are data files in the reference folder (`state_dict_*.tsv`, skipped when absent):
each lists the real `state_dict` of one official checkpoint, key<TAB>shape<TAB>dtype. Every
network is built on the meta device (no memory, no init time).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from models.checkpoint import CheckpointError
from models.classifier import CELEBA_ATTRIBUTES, AttributeClassifier
from models.config import FFHQ128, FFHQ256, OFFICIAL_LATENT, AutoencoderConfig
from models.conversion.infer_config import infer_autoencoder_config, infer_latent_config, preset_name
from models.conversion.official import classifier_layout, classifier_tensors
from models.latent_net import LatentMLP
from models.unet import DiffAEUNet

Layout = dict[str, tuple[int, ...]]
AUTOENCODERS = {  # file → (config, preset name, parameters per copy, encoder parameters)
    "state_dict_ffhq256_autoenc.tsv": (FFHQ256, "ffhq256", 168_492_291, 30_150_400),
    "state_dict_ffhq128_autoenc_130M.tsv": (FFHQ128, "ffhq128", 128_545_155, 24_673_536),
}
LATENT_TSV, CLASSIFIER_TSV = "state_dict_ffhq256_latent.tsv", "state_dict_ffhq256_autoenc_cls.tsv"


def read_tsv(path: Path) -> Layout:
    layout: Layout = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, shape, dtype = line.split("\t")
        assert dtype == "float32", line
        assert key not in layout, f"duplicate key {key}"
        layout[key] = tuple(int(d) for d in shape.strip("()").split(",") if d.strip())
    return layout


def meta_layout(module: nn.Module) -> Layout:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def with_prefix(layout: Layout, prefix: str) -> Layout:
    return {k.removeprefix(prefix): v for k, v in layout.items() if k.startswith(prefix)}


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())  # shared (aliased) tensors count once


def test_every_reference_layout_is_covered(reference_dir: Path) -> None:
    """A new TSV in the reference must get a test here, not pass unnoticed."""
    found = {p.name for p in reference_dir.glob("state_dict_*.tsv")}
    assert found == {*AUTOENCODERS, LATENT_TSV, CLASSIFIER_TSV}


@pytest.mark.parametrize("name", sorted(AUTOENCODERS))
def test_autoencoder_matches_the_official_layout(reference_dir: Path, name: str) -> None:
    cfg, _, total, encoder = AUTOENCODERS[name]
    layout = read_tsv(reference_dir / name)
    ema = with_prefix(layout, "ema_model.")
    assert with_prefix(layout, "model.") == ema
    assert set(layout) == {"x_T"} | {f"model.{k}" for k in ema} | {f"ema_model.{k}" for k in ema}
    assert layout["x_T"] == (32, 3, cfg.image_size, cfg.image_size)
    with torch.device("meta"):
        net = DiffAEUNet(cfg)
    ours = meta_layout(net)
    assert list(ours) == list(ema)  # same keys, same order as the official state_dict
    assert ours == ema
    assert n_params(net) == total and n_params(net.encoder) == encoder


@pytest.mark.parametrize("name", sorted(AUTOENCODERS))
def test_converter_infers_the_preset_from_shapes_alone(reference_dir: Path, name: str) -> None:
    cfg, preset, _, _ = AUTOENCODERS[name]
    layout = read_tsv(reference_dir / name)
    inferred = infer_autoencoder_config(with_prefix(layout, "ema_model."), layout["x_T"][-1])
    assert inferred == cfg
    assert preset_name(inferred) == preset


def test_inference_sees_a_changed_architecture() -> None:
    """The inferred config follows the tensors, not the file: a narrower model is not ffhq256."""
    # Its own shape on purpose: three levels, attention at two resolutions, and an encoder with
    # its own attention resolution and one more level than the UNet.
    cfg = AutoencoderConfig(image_size=64, model_channels=64, channel_mult=(1, 2, 4), num_res_blocks=1,
                            attention_resolutions=(32, 16), embed_channels=256, enc_out_channels=256,
                            enc_channel_mult=(1, 2, 4, 4), enc_attention_resolutions=(8,))
    with torch.device("meta"):
        layout = meta_layout(DiffAEUNet(cfg))
    inferred = infer_autoencoder_config(layout, 64)
    assert inferred == cfg and preset_name(inferred) == "custom"


def test_latent_mlp_matches_the_official_layout(reference_dir: Path) -> None:
    layout = read_tsv(reference_dir / LATENT_TSV)
    assert layout["conds_mean"] == layout["conds_std"] == (1, 512)
    ema = with_prefix(layout, "ema_model.latent_net.")
    assert with_prefix(layout, "model.latent_net.") == ema
    assert set(layout) == {"x_T", "conds_mean", "conds_std"} | {
        f"{p}latent_net.{k}" for p in ("model.", "ema_model.") for k in ema
    }
    with torch.device("meta"):
        net = LatentMLP(OFFICIAL_LATENT)
    ours = meta_layout(net)
    assert ours == ema
    assert "layers.0.linear_emb.weight" in ours and "layers.0.cond_layers.1.weight" in ours
    assert "layers.9.linear_emb.weight" not in ours
    assert n_params(net) == 54_109_696
    assert infer_latent_config(ema) == OFFICIAL_LATENT


def test_classifier_file_layout_is_exactly_the_converter_mapping(reference_dir: Path) -> None:
    layout = read_tsv(reference_dir / CLASSIFIER_TSV)
    assert layout == classifier_layout(len(CELEBA_ATTRIBUTES), 512)
    state = {k: torch.empty(shape, device="meta") for k, shape in layout.items()}
    mapped = classifier_tensors(state, 512, CLASSIFIER_TSV)
    with torch.device("meta"):
        classifier = AttributeClassifier(CELEBA_ATTRIBUTES, 512)
    assert {k: tuple(v.shape) for k, v in mapped.items()} == meta_layout(classifier)
    assert mapped["weight"] is state["classifier.weight"]  # the non-EMA one, as the official manipulation

    with pytest.raises(CheckpointError, match=r"unexpected 1: classifier\.scale"):
        classifier_tensors({**state, "classifier.scale": torch.empty(40, device="meta")}, 512, "cls")
    del state["ema_classifier.bias"]
    with pytest.raises(CheckpointError, match=r"missing 1: ema_classifier\.bias"):
        classifier_tensors(state, 512, "cls")
