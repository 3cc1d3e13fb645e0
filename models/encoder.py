"""The semantic encoder z_sem = Enc(x_0): a half-UNet of unconditioned ResBlocks, then
GN → SiLU → global average pool → 1×1 conv (the official "adaptivenonzero" head; docs/official.md,
"Semantic encoder")."""

from __future__ import annotations

import torch
from torch import nn

from models.config import AutoencoderConfig
from models.layers import AttentionBlock, GroupNorm32, ResBlock


class SemanticEncoder(nn.Module):
    def __init__(self, cfg: AutoencoderConfig) -> None:
        super().__init__()
        ch = cfg.enc_channel_mult[0] * cfg.model_channels
        blocks: list[nn.Module] = [nn.Sequential(nn.Conv2d(cfg.in_channels, ch, 3, padding=1))]
        resolution = cfg.image_size
        attn = cfg.encoder_attention
        for level, mult in enumerate(cfg.enc_channel_mult):
            for _ in range(cfg.enc_num_res_blocks):
                out = mult * cfg.model_channels
                layers: list[nn.Module] = [ResBlock(ch, out)]
                ch = out
                if resolution in attn:
                    layers.append(AttentionBlock(ch, cfg.num_heads, cfg.num_head_channels))
                blocks.append(nn.Sequential(*layers))
            if level != len(cfg.enc_channel_mult) - 1:
                blocks.append(nn.Sequential(ResBlock(ch, ch, down=True)))
                resolution //= 2
        self.input_blocks = nn.ModuleList(blocks)
        self.middle_block = nn.Sequential(
            ResBlock(ch, ch), AttentionBlock(ch, cfg.num_heads, cfg.num_head_channels), ResBlock(ch, ch)
        )
        self.out = nn.Sequential(
            GroupNorm32(ch), nn.SiLU(), nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(ch, cfg.enc_out_channels, 1), nn.Flatten(),
        )

    def forward(self, x_0: torch.Tensor) -> torch.Tensor:
        """x_0: (B, 3, H, W) in [-1, 1] → z_sem: (B, enc_out_channels), unbounded."""
        h = x_0
        for block in self.input_blocks:
            h = block(h)
        h = self.middle_block(h)
        return self.out(h)
