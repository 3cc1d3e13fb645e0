"""The DiffAE autoencoder: UNet decoder ε_θ(x_t, t, z_sem) plus the semantic encoder.

Layout and parameter names follow the official `BeatGANsAutoencModel` (docs/official.md,
"UNet decoder" and "Checkpoint key layouts"):
`time_embed.time_embed.{0,2}`, `input_blocks.<i>.<j>`, `middle_block.<j>`, `output_blocks.<i>.<j>`,
`out.{0,2}`, `encoder.*`.
"""

from __future__ import annotations

import torch
from torch import nn

from models.config import AutoencoderConfig
from models.encoder import SemanticEncoder
from models.layers import AttentionBlock, GroupNorm32, ResBlock, timestep_embedding, zero_module


class CondSequential(nn.Sequential):
    """Runs ResBlocks with (emb, z-scale) and anything else on the features alone. The z-scales
    are consumed from an iterator in module order (see `DiffAEUNet.z_scales`)."""

    def forward(self, h: torch.Tensor, emb: torch.Tensor, z_scales) -> torch.Tensor:  # type: ignore[override]
        for layer in self:
            if isinstance(layer, ResBlock) and layer.conditioned:
                h = layer(h, emb, next(z_scales))
            else:
                h = layer(h)
        return h


class _TimeEmbed(nn.Module):
    """Mirrors the official `TimeStyleSeperateEmbed` so its weights sit at `time_embed.time_embed.*`
    (its style branch is the identity: z_sem enters the blocks unchanged)."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.time_embed = nn.Sequential(
            nn.Linear(in_channels, channels), nn.SiLU(), nn.Linear(channels, channels)
        )

    def forward(self, t_emb: torch.Tensor) -> torch.Tensor:
        return self.time_embed(t_emb)


class DiffAEUNet(nn.Module):
    """ε-prediction UNet conditioned on t and z_sem, with the semantic encoder as `.encoder`."""

    def __init__(self, cfg: AutoencoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        mc, emb_ch, z_ch = cfg.model_channels, cfg.embed_channels, cfg.z_dim
        self.time_embed = _TimeEmbed(mc, emb_ch)

        def res(c_in: int, c_out: int, **kw: bool) -> ResBlock:
            return ResBlock(c_in, c_out, emb_channels=emb_ch, cond_channels=z_ch,
                            dropout=cfg.dropout, **kw)

        def attn(c: int) -> AttentionBlock:
            return AttentionBlock(c, cfg.num_heads, cfg.num_head_channels)

        ch = cfg.channel_mult[0] * mc
        input_blocks = [CondSequential(nn.Conv2d(cfg.in_channels, ch, 3, padding=1))]
        lateral_channels = [ch]
        resolution = cfg.image_size
        for level, mult in enumerate(cfg.channel_mult):
            for _ in range(cfg.num_res_blocks):
                layers: list[nn.Module] = [res(ch, mult * mc)]
                ch = mult * mc
                if resolution in cfg.attention_resolutions:
                    layers.append(attn(ch))
                input_blocks.append(CondSequential(*layers))
                lateral_channels.append(ch)
            if level != len(cfg.channel_mult) - 1:
                input_blocks.append(CondSequential(res(ch, ch, down=True)))
                lateral_channels.append(ch)
                resolution //= 2
        self.input_blocks = nn.ModuleList(input_blocks)
        self.middle_block = CondSequential(res(ch, ch), attn(ch), res(ch, ch))

        output_blocks = []
        for level, mult in reversed(list(enumerate(cfg.channel_mult))):
            for i in range(cfg.num_res_blocks + 1):
                layers = [res(ch + lateral_channels.pop(), mult * mc)]
                ch = mult * mc
                if resolution in cfg.attention_resolutions:
                    layers.append(attn(ch))
                if level and i == cfg.num_res_blocks:
                    layers.append(res(ch, ch, up=True))
                    resolution *= 2
                output_blocks.append(CondSequential(*layers))
        self.output_blocks = nn.ModuleList(output_blocks)
        self.out = nn.Sequential(
            GroupNorm32(ch), nn.SiLU(), zero_module(nn.Conv2d(ch, cfg.out_channels, 3, padding=1))
        )
        self.encoder = SemanticEncoder(cfg)
        self._cond_blocks = [
            m for m in self.modules() if isinstance(m, ResBlock) and m.conditioned
        ]

    def z_scales(self, z_sem: torch.Tensor) -> list[torch.Tensor]:
        """Per-block z-scales s_z, in the order `forward` consumes them. They depend on z_sem
        only, so DDIM computes them once per decode instead of once per step."""
        return [block.z_scale(z_sem) for block in self._cond_blocks]

    def forward(
        self,
        x_t: torch.Tensor,
        t: torch.Tensor,
        z_sem: torch.Tensor | None = None,
        *,
        z_scales: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Predict ε.

        Args:
            x_t: (B, 3, H, W) noisy images.
            t: (B,) raw integer timesteps in 0..999.
            z_sem: (B, z_dim) semantic codes; or pass precomputed `z_scales` instead.
        Returns:
            ε̂: (B, 3, H, W).
        """
        if z_scales is None:
            if z_sem is None:
                raise ValueError("pass z_sem or z_scales")
            z_scales = self.z_scales(z_sem)
        scales = iter(z_scales)
        emb = self.time_embed(timestep_embedding(t, self.cfg.model_channels).to(x_t.dtype))
        laterals = []
        h = x_t
        for block in self.input_blocks:
            h = block(h, emb, scales)
            laterals.append(h)
        h = self.middle_block(h, emb, scales)
        for block in self.output_blocks:
            h = block(torch.cat([h, laterals.pop()], dim=1), emb, scales)
        return self.out(h)

    def encode(self, x_0: torch.Tensor) -> torch.Tensor:
        """z_sem = Enc(x_0); x_0 (B, 3, H, W) in [-1, 1] → (B, z_dim)."""
        return self.encoder(x_0)
