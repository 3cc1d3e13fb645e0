"""Training state: the EMA of the weights, atomic checkpoints, the random generators' state (so
that a resumed run continues bit for bit), and the EMA autoencoder of a run directory."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models.config import ModelConfig
from models.unet import DiffAEUNet


class EMA:
    """Exponential moving average of a module's parameters, with the usual warm-up
    (decay grows as (1 + n)/(10 + n)) so that short runs are not dominated by the init."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        for e, p in zip(self.model.parameters(), model.parameters(), strict=True):
            e.lerp_(p.detach(), 1 - d)


def save_atomic(obj: Any, path: Path) -> None:
    """torch.save to a temporary file, then rename: a checkpoint is never half written."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def rng_state(gen: torch.Generator) -> dict[str, Any]:
    return {"data": gen.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(gen: torch.Generator, state: dict[str, Any]) -> None:
    gen.set_state(state["data"])
    torch.set_rng_state(state["torch"])


def load_run_autoencoder(run: Path) -> tuple[dict[str, Any], ModelConfig, DiffAEUNet]:
    """(the checkpoint `run/autoencoder.pt`, its model config, its EMA autoencoder)."""
    ae = torch.load(run / "autoencoder.pt", weights_only=False)
    config = ModelConfig.from_dict(ae["config"])
    unet = DiffAEUNet(config.autoencoder)
    unet.load_state_dict(ae["ema"])
    return ae, config, unet
