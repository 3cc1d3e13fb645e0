"""Building blocks shared by the UNet decoder and the semantic encoder.

Module and parameter names mirror the official checkpoints (docs/official.md, "Building blocks"
and "Checkpoint key layouts"), so official state dicts load with `strict=True`. Shapes:
images/features are (B, C, H, W).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class GroupNorm32(nn.GroupNorm):
    """GroupNorm(min(32, C), C) computed in float32 and cast back (stable under autocast)."""

    def __init__(self, channels: int) -> None:
        super().__init__(min(32, channels), channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.group_norm(
            x.float(), self.num_groups, self.weight, self.bias, self.eps
        ).to(x.dtype)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of raw integer timesteps, cos first then sin, as the
    official code does (docs/official.md, "Time embedding").

    Args:
        t: (B,) timesteps in the original 0..999 range (not rescaled).
        dim: embedding width.
    Returns:
        (B, dim) float32.
    """
    half = dim // 2
    freqs = torch.exp(
        -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half
    )
    args = t[:, None].float() * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb


def zero_module(module: nn.Module) -> nn.Module:
    """Zero-initialise every parameter (the official `resnet_use_zero_module` output layers)."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


def _resample(x: torch.Tensor, up: bool, down: bool) -> torch.Tensor:
    if up:
        return F.interpolate(x, scale_factor=2.0, mode="nearest")
    if down:
        return F.avg_pool2d(x, kernel_size=2, stride=2)
    return x


class ResBlock(nn.Module):
    """Residual block with optional up/down sampling and the DiffAE two-condition AdaGN.

    Conditioned (UNet) blocks compute
        h = GN(conv(SiLU(GN(x))));  h = h·(1 + s_t) + b_t;  h = h·(1 + s_z);  out = conv(SiLU(h))
    where (s_t, b_t) = Linear(SiLU(emb)) and s_z = Linear(SiLU(z_sem)). Unconditioned (encoder)
    blocks stop after the first conv: out = skip(x) + conv(SiLU(GN(x))) (the official encoder
    blocks have no embedding, output or dropout layers).
    """

    def __init__(
        self,
        channels: int,
        out_channels: int,
        *,
        emb_channels: int | None = None,
        cond_channels: int | None = None,
        dropout: float = 0.0,
        up: bool = False,
        down: bool = False,
    ) -> None:
        super().__init__()
        self.up, self.down = up, down
        self.conditioned = emb_channels is not None
        self.in_layers = nn.Sequential(
            GroupNorm32(channels), nn.SiLU(), nn.Conv2d(channels, out_channels, 3, padding=1)
        )
        if self.conditioned:
            assert emb_channels is not None and cond_channels is not None
            self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb_channels, 2 * out_channels))
            self.cond_emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(cond_channels, out_channels))
            self.out_layers = nn.Sequential(
                GroupNorm32(out_channels),
                nn.SiLU(),
                nn.Dropout(p=dropout),
                zero_module(nn.Conv2d(out_channels, out_channels, 3, padding=1)),
            )
        self.skip_connection: nn.Module = (
            nn.Identity() if channels == out_channels else nn.Conv2d(channels, out_channels, 1)
        )

    def z_scale(self, z_sem: torch.Tensor) -> torch.Tensor:
        """s_z for this block, (B, C_out, 1, 1). Depends on z only, so a sampler computes it once."""
        return self.cond_emb_layers(z_sem)[:, :, None, None]

    def forward(
        self,
        x: torch.Tensor,
        emb: torch.Tensor | None = None,
        z_scale: torch.Tensor | None = None,
    ) -> torch.Tensor:
        h = self.in_layers[1](self.in_layers[0](x))
        h = self.in_layers[2](_resample(h, self.up, self.down))
        x = self.skip_connection(_resample(x, self.up, self.down))
        if not self.conditioned:
            return x + h
        assert emb is not None and z_scale is not None
        scale, shift = self.emb_layers(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.out_layers[0](h) * (1 + scale) + shift
        h = h * (1 + z_scale)
        h = self.out_layers[3](self.out_layers[2](self.out_layers[1](h)))
        return x + h


class AttentionBlock(nn.Module):
    """Spatial self-attention with the legacy qkv layout: per head, [q | k | v] are contiguous
    in the 3C channels of the qkv projection, as in the official checkpoints."""

    def __init__(self, channels: int, num_heads: int = 1, num_head_channels: int = -1) -> None:
        super().__init__()
        if num_head_channels != -1:
            if channels % num_head_channels:
                raise ValueError(f"{channels} channels not divisible by head width {num_head_channels}")
            num_heads = channels // num_head_channels
        self.num_heads = num_heads
        self.norm = GroupNorm32(channels)
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.proj_out = zero_module(nn.Conv1d(channels, channels, 1))

    def forward(self, x: torch.Tensor, *_: object) -> torch.Tensor:
        B, C, H, W = x.shape
        qkv = self.qkv(self.norm(x).reshape(B, C, H * W))  # (B, 3C, HW)
        d = C // self.num_heads
        q, k, v = qkv.reshape(B, self.num_heads, 3 * d, H * W).transpose(2, 3).split(d, dim=3)
        # (B, heads, HW, d) each; softmax(q·kᵀ/√d) — the official scales q and k by d^(-1/4) each.
        h = F.scaled_dot_product_attention(q, k, v)
        h = h.transpose(2, 3).reshape(B, C, H * W)
        return x + self.proj_out(h).reshape(B, C, H, W)
