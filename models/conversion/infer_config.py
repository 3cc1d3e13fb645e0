"""The configuration of an official checkpoint, read off its tensor shapes, never from a name.

`infer_autoencoder_config` and `infer_latent_config` return the configs whose networks have
exactly the checkpoint's keys and shapes (a strict load then checks every tensor). Not visible
in shapes, and so kept at the official values: attention heads (1), dropout (0.1, inactive at
inference), the latent MLP's condition bias (1) and dropout (0). How the official UNet lays its
blocks out, which these rules invert: docs/official.md, "UNet decoder" and "Semantic encoder".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from models.config import PRESETS, AutoencoderConfig, LatentNetConfig
from models.conversion.official import ConversionError
from models.encoder import SemanticEncoder

Shapes = Mapping[str, tuple[int, ...]]


def _get(shapes: Shapes, key: str, purpose: str) -> tuple[int, ...]:
    if key not in shapes:
        raise ConversionError(f"cannot infer {purpose}: tensor {key} is missing")
    return shapes[key]


def _count(shapes: Shapes, prefix: str) -> int:
    """Number of consecutive blocks `prefix0.`, `prefix1.`, … (a gap ends the count; what lies
    beyond it is reported as unexpected by the strict load)."""
    present = {k[len(prefix):].split(".", 1)[0] for k in shapes if k.startswith(prefix)}
    n = 0
    while str(n) in present:
        n += 1
    return n


def _mult(width: int, model_channels: int, key: str) -> int:
    if width % model_channels:
        raise ConversionError(f"{key}: width {width} is not a multiple of model_channels {model_channels}")
    return width // model_channels


def _width(shapes: Shapes, block: str) -> int:
    return _get(shapes, f"{block}.0.in_layers.2.weight", "channel widths")[0]


def infer_autoencoder_config(
    shapes: Shapes, image_size: int, *, dropout: float = 0.1, log: Callable[[str], None] | None = None
) -> AutoencoderConfig:
    """Read an `AutoencoderConfig` off the EMA state-dict shapes (keys without `ema_model.`).

    UNet: model_channels and embed_channels from `time_embed.time_embed.0.weight` (embed, mc);
    levels and num_res_blocks from where the up-sampling ResBlocks sit in `output_blocks`
    (down-sampling blocks have no distinguishing tensor, up-sampling ones share a block with the
    level's last ResBlock); channel_mult from the level's first ResBlock width; attention
    resolutions from the blocks with `.1.qkv`. Encoder: candidates for enc_num_res_blocks are
    scored by building the encoder on the meta device; the best fit wins (ties: the UNet's count).
    """
    emb, mc = _get(shapes, "time_embed.time_embed.0.weight", "model_channels/embed_channels")
    in_ch = _get(shapes, "input_blocks.0.0.weight", "in_channels")[1]
    out_ch = _get(shapes, "out.2.weight", "out_channels")[0]
    z_dim = _get(shapes, "encoder.out.3.weight", "enc_out_channels")[0]
    if z_dim != emb:
        raise ConversionError(f"encoder.out.3.weight gives z_sem width {z_dim} but time_embed.time_embed.0"
                              f".weight gives embed_channels {emb}; the official model needs them equal")
    n_in, n_out = _count(shapes, "input_blocks."), _count(shapes, "output_blocks.")
    ups = [i for i in range(n_out)
           if any(f"output_blocks.{i}.{j}.in_layers.2.weight" in shapes for j in (1, 2))]
    levels = len(ups) + 1
    nrb = n_out // levels - 1
    if n_out % levels or nrb < 1 or n_in != levels * (nrb + 1) or ups != [
        (k + 1) * (nrb + 1) - 1 for k in range(levels - 1)
    ]:
        raise ConversionError(
            f"cannot infer channel_mult/num_res_blocks: {n_in} input_blocks, {n_out} output_blocks, "
            f"up-sampling ResBlocks in output_blocks {ups}"
        )
    mult = tuple(_mult(_width(shapes, f"input_blocks.{1 + lv * (nrb + 1)}"), mc,
                       f"input_blocks.{1 + lv * (nrb + 1)}") for lv in range(levels))
    attn = {image_size >> lv for lv in range(levels) for r in range(nrb)
            if f"input_blocks.{1 + lv * (nrb + 1) + r}.1.qkv.weight" in shapes}
    attn |= {image_size >> (levels - 1 - o // (nrb + 1)) for o in range(n_out)
             if f"output_blocks.{o}.1.qkv.weight" in shapes}
    base: dict[str, Any] = {
        "image_size": image_size, "in_channels": in_ch, "out_channels": out_ch, "model_channels": mc,
        "channel_mult": mult, "num_res_blocks": nrb, "embed_channels": emb, "enc_out_channels": z_dim,
        "attention_resolutions": tuple(sorted(attn, reverse=True)), "dropout": dropout,
    }

    _get(shapes, "encoder.input_blocks.0.0.weight", "enc_channel_mult")
    n_enc = _count(shapes, "encoder.input_blocks.")
    candidates: list[tuple[int, AutoencoderConfig]] = []
    reason = ""
    for enc_nrb in dict.fromkeys([nrb, 2, *range(1, n_enc)]):
        if enc_nrb < 1 or n_enc % (enc_nrb + 1):
            continue
        enc_levels = n_enc // (enc_nrb + 1)
        firsts = [f"encoder.input_blocks.{1 + lv * (enc_nrb + 1)}" for lv in range(enc_levels)]
        widths = [shapes.get(f"{b}.0.in_layers.2.weight", (0,))[0] for b in firsts]
        if not all(widths) or any(w % mc for w in widths):
            continue
        enc_attn = {image_size >> lv for lv in range(enc_levels) for r in range(enc_nrb)
                    if f"encoder.input_blocks.{1 + lv * (enc_nrb + 1) + r}.1.qkv.weight" in shapes}
        try:
            cfg = AutoencoderConfig(
                **base, enc_channel_mult=tuple(w // mc for w in widths), enc_num_res_blocks=enc_nrb,
                enc_attention_resolutions=None if enc_attn == attn else tuple(sorted(enc_attn, reverse=True)),
            )
        except ValueError as e:
            reason = f" ({e})"
            continue
        candidates.append((_mismatches(cfg, shapes), cfg))
    if not candidates:
        raise ConversionError(f"cannot infer enc_channel_mult/enc_num_res_blocks from {n_enc} "
                              f"encoder.input_blocks{reason}")
    best = min(c[0] for c in candidates)
    tied = [cfg for score, cfg in candidates if score == best]
    if len(tied) > 1 and best == 0 and log is not None:
        log(f"note: the encoder layout fits enc_num_res_blocks in {[c.enc_num_res_blocks for c in tied]} "
            f"(down-sampling blocks carry no distinct tensor); chose {tied[0].enc_num_res_blocks}")
    return tied[0]


def _mismatches(cfg: AutoencoderConfig, shapes: Shapes) -> int:
    """How many encoder tensors differ in name or shape between `cfg` and the checkpoint."""
    with torch.device("meta"):
        expected = {f"encoder.{k}": tuple(v.shape) for k, v in SemanticEncoder(cfg).state_dict().items()}
    given = {k: v for k, v in shapes.items() if k.startswith("encoder.")}
    return len(expected.keys() ^ given.keys()) + sum(
        expected[k] != given[k] for k in expected.keys() & given.keys()
    )


def infer_latent_config(shapes: Shapes) -> LatentNetConfig:
    """Read a `LatentNetConfig` off the latent MLP's shapes (keys without `ema_model.latent_net.`):
    widths from `time_embed.0.weight` (C, time-emb) and `layers.0.linear.weight` (hid, C), skip
    layers from which `layers.i.linear` take hid + C inputs, LayerNorm from `layers.0.norm`."""
    c, t_ch = _get(shapes, "time_embed.0.weight", "the latent width")
    n = _count(shapes, "layers.")
    if n < 2:
        raise ConversionError(f"cannot infer the latent MLP: {n} layers.<i> blocks")
    hid = _get(shapes, "layers.0.linear.weight", "num_hid_channels")[0]
    skips = tuple(i for i in range(1, n)
                  if _get(shapes, f"layers.{i}.linear.weight", "skip_layers")[1] == hid + c)
    return LatentNetConfig(num_channels=c, num_hid_channels=hid, num_layers=n, skip_layers=skips,
                           num_time_emb_channels=t_ch, use_norm="layers.0.norm.weight" in shapes)


def preset_name(cfg: AutoencoderConfig) -> str:
    """`ffhq256` / `ffhq128` when `cfg` is exactly that preset's autoencoder, else `custom`."""
    for name in ("ffhq256", "ffhq128"):
        if PRESETS[name].autoencoder == cfg:
            return name
    return "custom"
