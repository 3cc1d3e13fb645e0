"""The latent DPM: an MLP with skip connections that predicts ε for normalised z_sem
(official class `MLPSkipNet`; docs/official.md, "Latent DPM")."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from models.config import LatentNetConfig
from models.layers import timestep_embedding


class MLPLayer(nn.Module):
    """Linear → [·(condition_bias + Linear_emb(SiLU(t_emb)))] → [LayerNorm] → [SiLU] → Dropout.

    The official checkpoints store the time-conditioning Linear twice, as `linear_emb` and as
    `cond_layers.1` (the same tensor): both names point at one module here too.
    """

    def __init__(self, c_in: int, c_out: int, *, cond_channels: int | None, norm: bool,
                 act: bool, condition_bias: float, dropout: float) -> None:
        super().__init__()
        self.linear = nn.Linear(c_in, c_out)
        self.condition_bias = condition_bias
        if cond_channels is not None:
            self.linear_emb = nn.Linear(cond_channels, c_out)
            self.cond_layers = nn.Sequential(nn.SiLU(), self.linear_emb)
        self.norm = nn.LayerNorm(c_out) if norm else None
        self.act = act
        self.dropout = dropout

    def forward(self, h: torch.Tensor, t_emb: torch.Tensor) -> torch.Tensor:
        h = self.linear(h)
        if hasattr(self, "cond_layers"):
            h = h * (self.condition_bias + self.cond_layers(t_emb))
        if self.norm is not None:
            h = self.norm(h)
        if self.act:
            h = F.silu(h)
        return F.dropout(h, self.dropout, self.training) if self.dropout else h


class LatentMLP(nn.Module):
    """ε_ψ(z_t, t) for the normalised latent z_n = (z_sem − μ)/σ."""

    # Keys saved twice in the official checkpoints; `checkpoint` drops and restores them.
    ALIASES: ClassVar[dict[str, str]] = {"cond_layers.1.": "linear_emb."}

    def __init__(self, cfg: LatentNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c, hid = cfg.num_channels, cfg.num_hid_channels
        self.time_embed = nn.Sequential(
            nn.Linear(cfg.num_time_emb_channels, c), nn.SiLU(), nn.Linear(c, c)
        )
        layers = []
        for i in range(cfg.num_layers):
            last = i == cfg.num_layers - 1
            c_in = c if i == 0 else hid + (c if i in cfg.skip_layers else 0)
            layers.append(MLPLayer(
                c_in, c if last else hid, cond_channels=None if last else c,
                norm=cfg.use_norm and not last, act=not last,
                condition_bias=cfg.condition_bias, dropout=0.0 if last else cfg.dropout,
            ))
        self.layers = nn.ModuleList(layers)

    def forward(self, z_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """z_t: (B, C) noisy normalised latents; t: (B,) raw timesteps → ε̂ (B, C)."""
        t_emb = self.time_embed(timestep_embedding(t, self.cfg.num_time_emb_channels))
        h = z_t
        for i, layer in enumerate(self.layers):
            if i in self.cfg.skip_layers:
                h = torch.cat([h, z_t], dim=1)
            h = layer(h, t_emb)
        return h
