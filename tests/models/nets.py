"""Helpers shared by the model tests."""

from __future__ import annotations

from typing import TypeVar

import torch

M = TypeVar("M", bound=torch.nn.Module)


def perturbed(module: M, seed: int) -> M:
    """Random weights with the zero-initialised layers made non-zero (as GOLDEN.md does)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.02 * torch.randn(p.shape, generator=g))
    return module
