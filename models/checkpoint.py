"""Strict state-dict loading that names what is wrong, and safetensors I/O.

A renamed layer must never load silently: every missing, unexpected or misshaped tensor is
listed by name in the error.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn


class CheckpointError(ValueError):
    """A state dict that does not match the network it is loaded into."""


def _listing(keys: Iterable[str], limit: int = 12) -> str:
    keys = sorted(keys)
    more = f" … and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def check_layout(
    expected: Mapping[str, tuple[int, ...]], got: Mapping[str, tuple[int, ...]], what: str
) -> None:
    """Raise CheckpointError naming missing, unexpected and misshaped keys."""
    missing = set(expected) - set(got)
    unexpected = set(got) - set(expected)
    misshaped = {
        k: (tuple(got[k]), tuple(expected[k]))
        for k in set(expected) & set(got)
        if tuple(got[k]) != tuple(expected[k])
    }
    problems = []
    if missing:
        problems.append(f"missing {len(missing)}: {_listing(missing)}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)}: {_listing(unexpected)}")
    if misshaped:
        shown = [f"{k} {g} (expected {e})" for k, (g, e) in sorted(misshaped.items())]
        problems.append(f"misshaped {len(misshaped)}: {_listing(shown)}")
    if problems:
        raise CheckpointError(f"{what}: state dict does not match the network; " + "; ".join(problems))


Aliases = Mapping[str, str]  # alias key fragment → canonical fragment, e.g. "cond_layers.1." → "linear_emb."


def _is_alias(key: str, aliases: Aliases) -> bool:
    return any(a in key for a in aliases)


def _twin(key: str, aliases: Aliases) -> str:
    for alias, canonical in aliases.items():
        if alias in key:
            return key.replace(alias, canonical)
    return key


def canonical_state(module: nn.Module, aliases: Aliases | None = None) -> dict[str, torch.Tensor]:
    """The module's state dict without alias keys (tensors saved twice under two names)."""
    aliases = aliases or {}
    return {k: v for k, v in module.state_dict().items() if not _is_alias(k, aliases)}


def load_strict(
    module: nn.Module,
    tensors: Mapping[str, torch.Tensor],
    what: str,
    aliases: Aliases | None = None,
) -> None:
    """Load `tensors` into `module`, refusing any difference in keys or shapes.

    Alias keys (the latent MLP's `cond_layers.1.*`, which the official checkpoints store as
    well as `linear_emb.*`) are optional; when present they must equal their twin.
    """
    aliases = aliases or {}
    expected = {k: tuple(v.shape) for k, v in canonical_state(module, aliases).items()}
    given = {k: v for k, v in tensors.items() if not _is_alias(k, aliases)}
    check_layout(expected, {k: tuple(v.shape) for k, v in given.items()}, what)
    for key, value in tensors.items():
        if not _is_alias(key, aliases):
            continue
        if _twin(key, aliases) not in tensors:
            raise CheckpointError(f"{what}: {key} has no twin {_twin(key, aliases)}")
        if not torch.equal(value, tensors[_twin(key, aliases)]):
            raise CheckpointError(f"{what}: {key} differs from its alias {_twin(key, aliases)}")
    state = module.state_dict()
    with torch.no_grad():
        for key, value in given.items():
            state[key].copy_(value.to(state[key].dtype))


def save_tensors(tensors: Mapping[str, torch.Tensor], path: str | Path) -> None:
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(path))
    # safetensors creates files 0600 whatever the umask; model files are meant to be shared
    # (a worker may run as another user), so give them the mode any other file would get.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def load_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found")
    return load_file(str(path))
