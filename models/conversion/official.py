"""Reading the official DiffAE checkpoint files: a safe load, and the split of their state dicts
into the tensors of our networks.

What is taken from each file (the layouts: docs/official.md, "Checkpoint files"):
- autoencoder (`ffhq256_autoenc/last.ckpt`): the EMA weights `ema_model.*` (all official inference
  uses them); `x_T` only for the image size (its shape is (B, 3, H, W)); `model.*` (raw weights)
  is ignored.
- latent DPM: `ema_model.latent_net.*` (the aliased `cond_layers.1.*` keys must equal their
  `linear_emb.*` twins) and `conds_mean`/`conds_std` (1, D), stored as the latent statistics.
- classifier: exactly `conds_mean`, `conds_std`, `classifier.*`, `ema_classifier.*`. The
  official manipulation uses the non-EMA `classifier.weight`, so that is what is kept, with the
  40 CelebA-HQ names in the official order.
- `latent.pkl` ({conds, conds_mean, conds_std}): the z statistics, (D,).

Reading the files safely: `load_checkpoint` unpickles with `models.conversion.safe_pickle.SafePickle`,
whose only way to reach code is an allow-list of tensor-rebuilding globals (see that module).
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from models.checkpoint import check_layout
from models.classifier import CELEBA_ATTRIBUTES
from models.conversion.safe_pickle import SafePickle
from models.latent_net import LatentMLP

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


def source_info(checkpoint: Mapping[str, Any], path: Path) -> dict[str, Any]:
    info: dict[str, Any] = {"file": f"{path.parent.name}/{path.name}"}
    for key, out in (("global_step", "global_step"), ("epoch", "epoch"),
                     ("pytorch-lightning_version", "pytorch_lightning_version")):
        if isinstance(checkpoint.get(key), (int, str)):
            info[out] = checkpoint[key]
    return info


def shapes_of(tensors: Mapping[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in tensors.items()}


def _check_top_level(state: Mapping[str, Any], path: Path) -> None:
    """An autoencoder or latent checkpoint holds `x_T`, `conds_*`, `model.*`, `ema_model.*` only."""
    stray = sorted(k for k in state if k not in _BUFFERS and not k.startswith(("model.", "ema_model.")))
    if stray:
        raise ConversionError(f"{path}: unexpected tensors besides x_T, conds_mean, conds_std, model.*, "
                              f"ema_model.*: {', '.join(stray[:12])}")


# ------------------------------------------------------------------ splitting the state dicts
_BUFFERS = ("x_T", "conds_mean", "conds_std")
LATENT_PREFIX = "ema_model.latent_net."


def autoencoder_tensors(state: Tensors, path: Path, image_size: int | None = None) -> tuple[Tensors, int]:
    """(EMA autoencoder tensors without the `ema_model.` prefix, image size from `x_T`)."""
    tensors = {k.removeprefix("ema_model."): v for k, v in state.items()
               if k.startswith("ema_model.") and not k.startswith(LATENT_PREFIX)}
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
    tensors = {k.removeprefix(LATENT_PREFIX): v for k, v in state.items() if k.startswith(LATENT_PREFIX)}
    if not tensors:
        raise ConversionError(f"{path}: no {LATENT_PREFIX}* tensors (not a latent DPM checkpoint)")
    orphans = sorted(k for k in tensors for alias, twin in LatentMLP.ALIASES.items()
                     if alias in k and k.replace(alias, twin) not in tensors)
    if orphans:  # load_strict would fail on the missing twin with a bare KeyError
        raise ConversionError(f"{path}: unexpected alias tensors without their twin: "
                              f"{', '.join(LATENT_PREFIX + k for k in orphans[:12])}")
    return tensors


def classifier_layout(
    n_attributes: int, z_dim: int, *, with_stats: bool = True
) -> dict[str, tuple[int, ...]]:
    """The exact key/shape set of an official classifier checkpoint's state_dict (docs/official.md,
    "Checkpoint files")."""
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
    check_layout(layout, shapes_of(state), source)
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
