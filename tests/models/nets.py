"""Helpers shared by the model tests: the one tiny model configuration (use it unless a test needs
a particular shape) and random weights for it."""

from __future__ import annotations

from typing import TypeVar

import torch

from models.config import AutoencoderConfig, LatentNetConfig, ModelConfig

#: A 16-px model of the official layout, small enough for many tests (dropout off): every test
#: that does not need a particular shape builds this one.
TINY_SIZE, TINY_Z = 16, 32
TINY_CONFIG = ModelConfig(
    "tiny",
    AutoencoderConfig(image_size=TINY_SIZE, model_channels=32, channel_mult=(1, 1), num_res_blocks=1,
                      attention_resolutions=(8,), embed_channels=TINY_Z, enc_out_channels=TINY_Z,
                      enc_channel_mult=(1, 1), enc_num_res_blocks=1, dropout=0.0),
    latent_net=LatentNetConfig(num_channels=TINY_Z, num_hid_channels=32, num_layers=3, skip_layers=(1,),
                               num_time_emb_channels=16),
)

M = TypeVar("M", bound=torch.nn.Module)


def perturbed(module: M, seed: int) -> M:
    """Random weights with the zero-initialised layers made non-zero: every tensor gets
    0.02·N(0, 1) added, from a generator seeded with `seed` (how the official golden vectors'
    small model was perturbed)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.02 * torch.randn(p.shape, generator=g))
    return module
