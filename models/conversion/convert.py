"""Convert the official DiffAE checkpoints into a `DiffAEPipeline.from_pretrained` directory.

`convert` reads the files (`models.conversion.official`), infers the configuration from the
tensor shapes (`models.conversion.infer_config`), builds the networks and loads them strictly, so
any difference is an error naming the keys; it then writes the model directory and reloads it to
check that every tensor survived. The command line: `python -m models.conversion`
(`models.conversion.cli`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models.checkpoint import canonical_state, load_strict
from models.classifier import CELEBA_ATTRIBUTES, AttributeClassifier
from models.config import ModelConfig
from models.conversion.infer_config import infer_autoencoder_config, infer_latent_config, preset_name
from models.conversion.official import (
    LATENT_PREFIX,
    ConversionError,
    Tensors,
    autoencoder_tensors,
    classifier_tensors,
    latent_net_tensors,
    load_checkpoint,
    shapes_of,
    source_info,
    state_dict_of,
    z_stats,
)
from models.latent_net import LatentMLP
from models.pipeline import DiffAEPipeline
from models.unet import DiffAEUNet


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
        cfg = infer_autoencoder_config(shapes_of(tensors), size, log=log)
    except ConversionError as e:
        raise ConversionError(f"{what}: {e}") from None
    autoencoder: DiffAEUNet = _materialize(lambda: DiffAEUNet(cfg))
    load_strict(autoencoder, tensors, what)
    return autoencoder, any(k.startswith(LATENT_PREFIX) for k in state)


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
        cfg = infer_latent_config(shapes_of(tensors))
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
    info = {**source_info(checkpoint, path),
            "weights": "classifier.* (non-EMA, as the official manipulation; docs/official.md)"}
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
