"""Convert the official DiffAE checkpoints into a `DiffAEPipeline.from_pretrained` directory.

    python -m models.conversion.convert --autoenc ffhq256_autoenc/last.ckpt \
        [--latent ffhq256_autoenc_latent/last.ckpt] [--classifier ffhq256_autoenc_cls/last.ckpt] \
        --out DIR [--preset-name NAME]

What is taken from each file (OFFICIAL.md §2, §9):
- `--autoenc`: the EMA weights `ema_model.*` (all official inference uses them); `x_T` only for
  the image size (its shape is (B, 3, H, W)); `model.*` (raw weights) is ignored.
- `--latent`: `ema_model.latent_net.*` (the aliased `cond_layers.1.*` keys must equal their
  `linear_emb.*` twins) and `conds_mean`/`conds_std` (1, D), stored as the latent statistics.
- `--classifier`: exactly `conds_mean`, `conds_std`, `classifier.*`, `ema_classifier.*`. The
  official manipulation uses the non-EMA `classifier.weight` (§5.1), so that is what is kept,
  with the 40 CelebA-HQ names in the official order.
- `--latent-stats`: the official `latent.pkl` ({conds, conds_mean, conds_std}), used for the z
  statistics when a latent or classifier checkpoint lacks them, and cross-checked otherwise.

The configuration is inferred from tensor shapes, never from a name (`infer_autoencoder_config`,
`infer_latent_config`); the networks are then built and loaded strictly, so any difference is an
error naming the keys. Not visible in shapes, and so kept at the official values: attention heads
(1), dropout (0.1, inactive at inference), the latent MLP's condition bias (1) and dropout (0).

Reading the files safely: `load_checkpoint` unpickles with `models.conversion.safe_pickle.SafePickle`,
whose only way to reach code is an allow-list of tensor-rebuilding globals (see that module).
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models.checkpoint import CheckpointError, canonical_state, check_layout, load_strict
from models.classifier import CELEBA_ATTRIBUTES, AttributeClassifier
from models.config import PRESETS, AutoencoderConfig, LatentNetConfig, ModelConfig
from models.conversion.safe_pickle import SafePickle
from models.encoder import SemanticEncoder
from models.latent_net import LatentMLP
from models.pipeline import DiffAEPipeline
from models.unet import DiffAEUNet

Shapes = Mapping[str, tuple[int, ...]]
Tensors = dict[str, torch.Tensor]


class ConversionError(ValueError):
    """An input that cannot be converted; the message names the file and the offending keys."""


def load_checkpoint(path: Path) -> Any:
    """Unpickle a `torch.save` file onto the CPU without importing or running anything outside
    the allow-list (module docstring). Zip-format files are memory-mapped."""
    if not path.is_file():
        raise ConversionError(f"{path}: file not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=False, pickle_module=SafePickle,
                          mmap=zipfile.is_zipfile(path))
    except Exception as e:  # torch raises many types for a file that is not a checkpoint
        raise ConversionError(f"{path}: not a readable PyTorch checkpoint ({type(e).__name__}: {e})") from e


def state_dict_of(checkpoint: Any, path: Path) -> Tensors:
    """The `state_dict` entry of a Lightning checkpoint, checked to hold only named tensors."""
    if not isinstance(checkpoint, Mapping):
        raise ConversionError(f"{path}: holds a {type(checkpoint).__name__}, not a checkpoint dict")
    if "state_dict" not in checkpoint:
        keys = sorted(str(k) for k in checkpoint)[:12]
        raise ConversionError(
            f"{path}: no 'state_dict' entry (top-level keys: {keys}); expected a PyTorch-Lightning "
            "checkpoint of the official code"
        )
    state = checkpoint["state_dict"]
    if not isinstance(state, Mapping):
        raise ConversionError(f"{path}: 'state_dict' is a {type(state).__name__}, not a dict")
    bad = sorted(repr(k) for k, v in state.items() if not (isinstance(k, str) and torch.is_tensor(v)))
    if bad:
        raise ConversionError(f"{path}: state_dict entries that are not tensors: {', '.join(bad[:12])}")
    return dict(state)


def _source_info(checkpoint: Mapping[str, Any], path: Path) -> dict[str, Any]:
    info: dict[str, Any] = {"file": f"{path.parent.name}/{path.name}"}
    for key, out in (("global_step", "global_step"), ("epoch", "epoch"),
                     ("pytorch-lightning_version", "pytorch_lightning_version")):
        if isinstance(checkpoint.get(key), (int, str)):
            info[out] = checkpoint[key]
    return info


def _shapes(tensors: Mapping[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in tensors.items()}


def _check_top_level(state: Mapping[str, Any], path: Path) -> None:
    """An autoencoder or latent checkpoint holds `x_T`, `conds_*`, `model.*`, `ema_model.*` only."""
    stray = sorted(k for k in state if k not in _BUFFERS and not k.startswith(("model.", "ema_model.")))
    if stray:
        raise ConversionError(f"{path}: unexpected tensors besides x_T, conds_mean, conds_std, model.*, "
                              f"ema_model.*: {', '.join(stray[:12])}")


# ------------------------------------------------------------------ splitting the state dicts
_BUFFERS = ("x_T", "conds_mean", "conds_std")
_LATENT_PREFIX = "ema_model.latent_net."


def autoencoder_tensors(state: Tensors, path: Path, image_size: int | None = None) -> tuple[Tensors, int]:
    """(EMA autoencoder tensors without the `ema_model.` prefix, image size from `x_T`)."""
    tensors = {k.removeprefix("ema_model."): v for k, v in state.items()
               if k.startswith("ema_model.") and not k.startswith(_LATENT_PREFIX)}
    if not tensors:
        hint = " (a classifier checkpoint? pass it with --classifier)" if "classifier.weight" in state else ""
        raise ConversionError(f"{path}: no ema_model.* tensors{hint}")
    _check_top_level(state, path)
    if "x_T" in state:
        shape = tuple(state["x_T"].shape)
        if len(shape) != 4 or shape[2] != shape[3]:
            raise ConversionError(f"{path}: x_T has shape {shape}; expected (B, 3, H, H)")
        if image_size is not None and image_size != shape[2]:
            raise ConversionError(f"{path}: x_T says image size {shape[2]}, --image-size says {image_size}")
        image_size = shape[2]
    if image_size is None:
        raise ConversionError(f"{path}: no x_T tensor to read the image size from; pass --image-size")
    return tensors, image_size


def latent_net_tensors(state: Tensors, path: Path) -> Tensors:
    """The EMA latent MLP tensors (`ema_model.latent_net.*`, prefix stripped, aliases kept)."""
    _check_top_level(state, path)
    tensors = {k.removeprefix(_LATENT_PREFIX): v for k, v in state.items() if k.startswith(_LATENT_PREFIX)}
    if not tensors:
        raise ConversionError(f"{path}: no {_LATENT_PREFIX}* tensors (not a latent DPM checkpoint)")
    orphans = sorted(k for k in tensors for alias, twin in LatentMLP.ALIASES.items()
                     if alias in k and k.replace(alias, twin) not in tensors)
    if orphans:  # load_strict would fail on the missing twin with a bare KeyError
        raise ConversionError(f"{path}: unexpected alias tensors without their twin: "
                              f"{', '.join(_LATENT_PREFIX + k for k in orphans[:12])}")
    return tensors


def classifier_layout(
    n_attributes: int, z_dim: int, *, with_stats: bool = True
) -> dict[str, tuple[int, ...]]:
    """The exact key/shape set of an official classifier checkpoint's state_dict (OFFICIAL.md §2.4)."""
    layout: dict[str, tuple[int, ...]] = {}
    if with_stats:
        layout.update(conds_mean=(1, z_dim), conds_std=(1, z_dim))
    for prefix in ("classifier.", "ema_classifier."):
        layout[prefix + "weight"] = (n_attributes, z_dim)
        layout[prefix + "bias"] = (n_attributes,)
    return layout


def classifier_tensors(
    state: Tensors, z_dim: int, source: str,
    stats: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> Tensors:
    """Map the official classifier state_dict onto `AttributeClassifier` (weight, bias,
    conds_mean, conds_std), taking the non-EMA `classifier.*`. `stats` ((D,), (D,)) stand in for
    conds_mean/conds_std only when the file has neither."""
    weight = state.get("classifier.weight")
    if weight is not None and weight.ndim == 2:
        if weight.shape[1] != z_dim:
            raise ConversionError(f"{source}: classifier.weight is {tuple(weight.shape)}: its z size "
                                  f"{weight.shape[1]} does not match the autoencoder's z_dim {z_dim}")
        if weight.shape[0] != len(CELEBA_ATTRIBUTES):
            raise ConversionError(
                f"{source}: classifier.weight has {weight.shape[0]} outputs; the official classifier "
                f"has the {len(CELEBA_ATTRIBUTES)} CelebA-HQ attributes"
            )
    with_stats = stats is None or "conds_mean" in state or "conds_std" in state
    layout = classifier_layout(len(CELEBA_ATTRIBUTES), z_dim, with_stats=with_stats)
    check_layout(layout, _shapes(state), source)
    if with_stats:
        mean, std = state["conds_mean"], state["conds_std"]
    else:
        assert stats is not None
        mean, std = stats
    return {"weight": state["classifier.weight"], "bias": state["classifier.bias"],
            "conds_mean": mean.reshape(z_dim), "conds_std": std.reshape(z_dim)}


def z_stats(tensors: Mapping[str, Any], z_dim: int, source: str) -> tuple[torch.Tensor, torch.Tensor]:
    """conds_mean / conds_std, (1, D) in checkpoints or (D,) in latent.pkl → two (D,) tensors."""
    out = []
    for key in ("conds_mean", "conds_std"):
        value = tensors.get(key)
        if not torch.is_tensor(value):
            raise ConversionError(f"{source}: missing tensor {key}")
        if tuple(value.shape) not in ((1, z_dim), (z_dim,)):
            raise ConversionError(f"{source}: {key} has shape {tuple(value.shape)}; expected (1, {z_dim}) "
                                  f"for the autoencoder's z_dim {z_dim}")
        out.append(value.reshape(z_dim).float().clone())
    return out[0], out[1]


# ------------------------------------------------------------------ config inference
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


# ------------------------------------------------------------------ conversion
def _materialize(build: Callable[[], nn.Module]) -> Any:
    """Build on the meta device and allocate uninitialised CPU storage: every tensor is then
    overwritten by a strict load, so random initialisation would be wasted time."""
    with torch.device("meta"):
        module = build()
    return module.to_empty(device="cpu")


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


_OUTPUT_FILES = ("config.json", "autoencoder.safetensors", "latent_net.safetensors",
                 "classifier.safetensors", "attributes.json")


def _prepare_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ConversionError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ConversionError(f"{out}: directory is not empty (pass --overwrite to replace a model there)")


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).abs().max()) if a.shape == b.shape else float("inf")


def convert(
    autoenc: Path,
    out: Path,
    *,
    latent: Path | None = None,
    classifier: Path | None = None,
    latent_stats: Path | None = None,
    preset: str | None = None,
    image_size: int | None = None,
    overwrite: bool = False,
    log: Callable[[str], None] = _stderr,
) -> DiffAEPipeline:
    """Convert official checkpoints into `out` and return the pipeline reloaded from it.

    Raises:
        ConversionError / CheckpointError: naming the file and the offending keys.
    """
    _prepare_out(out, overwrite)
    autoencoder, holds_latent = _autoencoder(autoenc, image_size, log)
    if holds_latent and latent is None:
        log(f"note: {autoenc} also holds a latent DPM; pass it as --latent too to enable sampling")
    z_dim = autoencoder.cfg.z_dim
    pkl_stats = None if latent_stats is None else _pkl_stats(latent_stats, z_dim)
    latent_net, stats = _latent(latent, autoencoder, pkl_stats, log) if latent is not None else (None, None)
    clf, info = _classifier(classifier, z_dim, pkl_stats) if classifier is not None else (None, {})
    if clf is not None:
        for name, other in (("the latent checkpoint", stats), ("--latent-stats", pkl_stats)):
            if other is not None and (diff := _max_diff(clf.conds_mean, other[0])) > 1e-5:
                log(f"warning: the classifier's conds_mean differs from {name}'s (max |Δ| {diff:.3g}): "
                    "were they made for the same autoencoder?")

    cfg = autoencoder.cfg
    config = ModelConfig(preset or preset_name(cfg), cfg, latent_net=latent_net.cfg if latent_net else None)
    pipe = DiffAEPipeline(config, autoencoder, classifier=clf, latent_net=latent_net, latent_stats=stats,
                          attribute_info=info, device="cpu", dtype=torch.float32)
    out.mkdir(parents=True, exist_ok=True)
    for name in _OUTPUT_FILES:  # a stale file from an earlier conversion must not be picked up
        (out / name).unlink(missing_ok=True)
    pipe.save_pretrained(out)
    mode = (out / "config.json").stat().st_mode & 0o777  # safetensors writes 0600 whatever the umask
    for written in out.glob("*.safetensors"):
        written.chmod(mode)
    loaded = DiffAEPipeline.from_pretrained(out, device="cpu", dtype=torch.float32)
    _verify(pipe, loaded, out)
    return loaded


def _autoencoder(path: Path, image_size: int | None, log: Callable[[str], None]) -> tuple[DiffAEUNet, bool]:
    """(the EMA autoencoder, whether the file also holds a latent DPM)."""
    state = state_dict_of(load_checkpoint(path), path)
    tensors, size = autoencoder_tensors(state, path, image_size)
    what = f"{path} (ema_model.*)"
    try:
        cfg = infer_autoencoder_config(_shapes(tensors), size, log=log)
    except ConversionError as e:
        raise ConversionError(f"{what}: {e}") from None
    autoencoder: DiffAEUNet = _materialize(lambda: DiffAEUNet(cfg))
    load_strict(autoencoder, tensors, what)
    return autoencoder, any(k.startswith(_LATENT_PREFIX) for k in state)


def _pkl_stats(path: Path, z_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    pkl = load_checkpoint(path)
    if not isinstance(pkl, Mapping):
        raise ConversionError(f"{path}: holds a {type(pkl).__name__}, not the latent.pkl dict")
    return z_stats(pkl, z_dim, str(path))


def _latent(
    path: Path, autoencoder: DiffAEUNet, pkl_stats: tuple[torch.Tensor, torch.Tensor] | None,
    log: Callable[[str], None],
) -> tuple[LatentMLP, tuple[torch.Tensor, torch.Tensor]]:
    """(the EMA latent MLP, its z statistics (D,), (D,)) from a latent DPM checkpoint."""
    state = state_dict_of(load_checkpoint(path), path)
    tensors = latent_net_tensors(state, path)
    what = f"{path} (ema_model.latent_net.*)"
    try:
        cfg = infer_latent_config(_shapes(tensors))
    except ConversionError as e:
        raise ConversionError(f"{what}: {e}") from None
    z_dim = autoencoder.cfg.z_dim
    if cfg.num_channels != z_dim:
        raise ConversionError(f"{what}: the latent DPM works on z of size {cfg.num_channels} "
                              f"(time_embed.0.weight) but the autoencoder's z_dim is {z_dim}")
    net: LatentMLP = _materialize(lambda: LatentMLP(cfg))
    load_strict(net, tensors, what, LatentMLP.ALIASES)
    has_stats = "conds_mean" in state or "conds_std" in state
    stats = z_stats(state, z_dim, str(path)) if has_stats or pkl_stats is None else pkl_stats
    _warn_if_other_encoder(state, autoencoder, path, log)
    return net, stats


def _classifier(
    path: Path, z_dim: int, pkl_stats: tuple[torch.Tensor, torch.Tensor] | None
) -> tuple[AttributeClassifier, dict[str, Any]]:
    """(the non-EMA attribute classifier, attribute_info recording where it came from)."""
    checkpoint = load_checkpoint(path)
    tensors = classifier_tensors(state_dict_of(checkpoint, path), z_dim,
                                 f"{path} (classifier checkpoint)", pkl_stats)
    clf: AttributeClassifier = _materialize(lambda: AttributeClassifier(CELEBA_ATTRIBUTES, z_dim))
    load_strict(clf, tensors, f"{path} (classifier.*)")
    info = {**_source_info(checkpoint, path),
            "weights": "classifier.* (non-EMA, as the official manipulation; OFFICIAL.md §5.1)"}
    return clf, info


def _warn_if_other_encoder(lstate: Tensors, autoencoder: DiffAEUNet, path: Path,
                           log: Callable[[str], None]) -> None:
    """The latent DPM was trained on one encoder's z; its checkpoint carries that encoder."""
    theirs = {k.removeprefix("ema_model.encoder."): v for k, v in lstate.items()
              if k.startswith("ema_model.encoder.")}
    ours = autoencoder.encoder.state_dict()
    if theirs and (theirs.keys() != ours.keys() or any(not torch.equal(theirs[k], ours[k]) for k in ours)):
        log(f"warning: the semantic encoder stored in {path} differs from --autoenc's: the latent DPM "
            "may have been trained on another autoencoder")


def _verify(pipe: DiffAEPipeline, loaded: DiffAEPipeline, out: Path) -> None:
    pairs = [("autoencoder", pipe.autoencoder, loaded.autoencoder),
             ("classifier", pipe.classifier, loaded.classifier),
             ("latent_net", pipe.latent_net, loaded.latent_net)]
    for name, a, b in pairs:
        if (a is None) != (b is None):
            raise ConversionError(f"{out}: {name} did not survive save/load")
        if a is not None and b is not None:
            sa, sb = canonical_state(a, LatentMLP.ALIASES), canonical_state(b, LatentMLP.ALIASES)
            if sa.keys() != sb.keys() or any(not torch.equal(sa[k], sb[k]) for k in sa):
                raise ConversionError(f"{out}: {name} tensors changed on save/load")


def summary(pipe: DiffAEPipeline, out: Path) -> str:
    def count(module: nn.Module) -> str:
        return f"{sum(p.numel() for p in module.parameters()):,}"

    cfg = pipe.config.autoencoder
    lines = [
        f"converted to {out}: preset {pipe.config.preset!r}, {cfg.image_size} px, z_dim {cfg.z_dim}",
        f"  autoencoder  {count(pipe.autoencoder)} parameters "
        f"(semantic encoder {count(pipe.autoencoder.encoder)}), EMA weights",
        f"  latent DPM   {count(pipe.latent_net) + ' parameters' if pipe.latent_net else 'none'}; "
        f"can sample: {'yes' if pipe.can_sample else 'no'}",
    ]
    if pipe.attributes:
        shown = ", ".join(pipe.attributes[:6])
        lines.append(f"  classifier   {len(pipe.attributes)} attributes ({shown}, …)")
    else:
        lines.append("  classifier   none (no attribute editing)")
    lines.append("  verified: from_pretrained reloads every tensor unchanged")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m models.conversion.convert",
        description="Convert official DiffAE checkpoints (PyTorch-Lightning last.ckpt) into a "
                    "DiffAEPipeline.from_pretrained directory.",
    )
    p.add_argument("--autoenc", type=Path, required=True, help="autoencoder last.ckpt (e.g. ffhq256_autoenc)")
    p.add_argument("--latent", type=Path, help="latent DPM last.ckpt (e.g. ffhq256_autoenc_latent)")
    p.add_argument("--classifier", type=Path, help="classifier last.ckpt (e.g. ffhq256_autoenc_cls)")
    p.add_argument("--latent-stats", type=Path, help="latent.pkl with conds_mean/conds_std (optional)")
    p.add_argument("--out", type=Path, required=True, help="output model directory")
    p.add_argument("--preset-name", help="name stored in config.json (default: inferred)")
    p.add_argument("--image-size", type=int, help="only for a checkpoint without the x_T buffer")
    p.add_argument("--overwrite", action="store_true", help="replace a model already in --out")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        pipe = convert(args.autoenc, args.out, latent=args.latent, classifier=args.classifier,
                       latent_stats=args.latent_stats, preset=args.preset_name,
                       image_size=args.image_size, overwrite=args.overwrite)
    except (ConversionError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(summary(pipe, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
