"""Frozen configuration dataclasses for the networks and diffusion processes, with presets.

Each network gets one small config. Field names follow the official
`BeatGANsAutoencConfig` / `MLPSkipNetConfig` where they exist, so a config read from an official
checkpoint or from `golden_small.pt` maps onto them one to one (`from_official_dict`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AutoencoderConfig:
    """UNet decoder ε_θ(x_t, t, z_sem) plus the semantic encoder z_sem = Enc(x_0).

    `embed_channels` is both the time-embedding width and the z_sem width: the official model
    feeds z_sem unchanged (identity "style" module) into every ResBlock's z-scale Linear, whose
    input width is `embed_channels`; so `enc_out_channels` must equal it.
    """

    image_size: int = 256
    in_channels: int = 3
    out_channels: int = 3
    model_channels: int = 128
    channel_mult: tuple[int, ...] = (1, 1, 2, 2, 4, 4)
    num_res_blocks: int = 2
    attention_resolutions: tuple[int, ...] = (16,)
    num_heads: int = 1
    num_head_channels: int = -1
    embed_channels: int = 512
    dropout: float = 0.1
    enc_channel_mult: tuple[int, ...] = (1, 1, 2, 2, 4, 4, 4)
    enc_num_res_blocks: int = 2
    enc_attention_resolutions: tuple[int, ...] | None = None  # None: same as the UNet's
    enc_out_channels: int = 512

    def __post_init__(self) -> None:
        if self.enc_out_channels != self.embed_channels:
            raise ValueError(
                f"enc_out_channels ({self.enc_out_channels}) must equal embed_channels "
                f"({self.embed_channels}): z_sem feeds the ResBlocks' z-scale layers directly"
            )
        levels = len(self.channel_mult)
        if self.image_size % 2 ** (max(levels, len(self.enc_channel_mult)) - 1):
            raise ValueError(f"image_size {self.image_size} is not divisible by the downsampling")
        for width in self.widths():
            if width > 32 and width % 32:
                raise ValueError(
                    f"channel width {width} (a level width or a decoder skip concatenation) must "
                    "be a multiple of 32 for GroupNorm32"
                )

    @property
    def z_dim(self) -> int:
        return self.enc_out_channels

    @property
    def encoder_attention(self) -> tuple[int, ...]:
        if self.enc_attention_resolutions is None:
            return self.attention_resolutions
        return self.enc_attention_resolutions

    def widths(self) -> set[int]:
        """Every channel count a GroupNorm sees, including the decoder's skip concatenations."""
        mc = self.model_channels
        widths = {m * mc for m in (*self.channel_mult, *self.enc_channel_mult)}
        laterals = [self.channel_mult[0] * mc]
        for level, mult in enumerate(self.channel_mult):
            laterals += [mult * mc] * (self.num_res_blocks + (level < len(self.channel_mult) - 1))
        ch = laterals[-1]
        for mult in reversed(self.channel_mult):
            for _ in range(self.num_res_blocks + 1):
                widths.add(ch + laterals.pop())
                ch = mult * mc
        return widths


@dataclass(frozen=True)
class LatentNetConfig:
    """The latent DPM: an MLP with skip connections predicting ε for the normalised z_sem."""

    num_channels: int = 512
    num_hid_channels: int = 2048
    num_layers: int = 10
    skip_layers: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8, 9)
    num_time_emb_channels: int = 64
    use_norm: bool = True
    condition_bias: float = 1.0
    dropout: float = 0.0


PREDICTIONS = ("eps", "v")


@dataclass(frozen=True)
class DiffusionConfig:
    """A 1000-step (by default) diffusion process sampled with DDIM (η = 0).

    `prediction` is what the network outputs: "eps" (ε, the paper's and every official
    checkpoint's choice) or "v" (v = √ᾱ ε − √(1−ᾱ) x_0, Salimans & Ho 2022). Samplers always see ε:
    the pipeline converts v with ε = √ᾱ v + √(1−ᾱ) x_t. v matters for small models at high noise,
    where an ε-network must reproduce x_t to ~0.1 % to say anything about x_0 (demo64's model card).
    """

    num_timesteps: int = 1000
    beta_schedule: str = "linear"  # "linear" (images) or "const0.008" (latent DPM)
    clip_denoised: bool = True  # clip x̂0 to [-1, 1]; images yes, latents no
    default_steps: int = 20  # T_eval
    prediction: str = "eps"  # "eps" or "v"
    # T_inv: DDIM inversion steps of an encode that names none; None: default_steps. The official
    # notebooks invert with 250 steps and render with 20-100: x_T is computed once per face, and a
    # finer inversion makes every later render of it more faithful (models/weights/demo64/README.md).
    encode_steps: int | None = None

    def __post_init__(self) -> None:
        if self.prediction not in PREDICTIONS:
            raise ValueError(f"prediction must be one of {PREDICTIONS}, got {self.prediction!r}")
        if self.encode_steps is not None and self.encode_steps < 1:
            raise ValueError(f"encode_steps must be ≥ 1 or None, got {self.encode_steps}")


@dataclass(frozen=True)
class ModelConfig:
    """Everything `from_pretrained` needs to rebuild a model directory (saved as config.json)."""

    preset: str
    autoencoder: AutoencoderConfig
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    latent_net: LatentNetConfig | None = None
    latent_diffusion: DiffusionConfig = field(
        default_factory=lambda: DiffusionConfig(beta_schedule="const0.008", clip_denoised=False)
    )

    def __post_init__(self) -> None:
        if self.latent_diffusion.prediction != "eps":
            raise ValueError("the latent DPM predicts ε (latent_diffusion.prediction must be 'eps')")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        latent = data.get("latent_net")
        return cls(
            preset=data["preset"],
            autoencoder=_build(AutoencoderConfig, data["autoencoder"]),
            diffusion=_build(DiffusionConfig, data.get("diffusion", {})),
            latent_net=None if latent is None else _build(LatentNetConfig, latent),
            latent_diffusion=_build(
                DiffusionConfig,
                data.get("latent_diffusion", {"beta_schedule": "const0.008", "clip_denoised": False}),
            ),
        )


def _build(kind: type, values: dict[str, Any]) -> Any:
    known = {f.name: f for f in dataclasses.fields(kind)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown {kind.__name__} fields {unknown}; allowed: {sorted(known)}")
    coerced = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return kind(**coerced)


def autoencoder_from_official(conf: dict[str, Any]) -> AutoencoderConfig:
    """Map an official `BeatGANsAutoencConfig` (as plain values) onto ours, refusing variants
    this implementation does not cover rather than silently building something else."""
    fixed = {
        "resnet_two_cond": True, "resblock_updown": True, "use_new_attention_order": False,
        "enc_pool": "adaptivenonzero", "dims": 2, "num_classes": None, "resnet_cond_channels": None,
        "num_input_res_blocks": None, "input_channel_mult": None, "time_embed_channels": None,
    }
    for key, want in fixed.items():
        if key in conf and conf[key] != want:
            raise ValueError(f"unsupported official setting {key}={conf[key]!r} (expected {want!r})")
    heads_up = conf.get("num_heads_upsample", -1)
    if heads_up not in (-1, conf.get("num_heads", 1)):
        raise ValueError(f"unsupported num_heads_upsample={heads_up}")
    enc_attn = conf.get("enc_attn_resolutions")
    return AutoencoderConfig(
        image_size=conf["image_size"],
        in_channels=conf.get("in_channels", 3),
        out_channels=conf.get("out_channels", 3),
        model_channels=conf["model_channels"],
        channel_mult=tuple(conf["channel_mult"]),
        num_res_blocks=conf["num_res_blocks"],
        attention_resolutions=tuple(conf["attention_resolutions"]),
        num_heads=conf.get("num_heads", 1),
        num_head_channels=conf.get("num_head_channels", -1),
        embed_channels=conf["embed_channels"],
        dropout=conf.get("dropout", 0.1),
        enc_channel_mult=tuple(conf["enc_channel_mult"]),
        enc_num_res_blocks=conf.get("enc_num_res_block", 2),
        enc_attention_resolutions=None if enc_attn is None else tuple(enc_attn),
        enc_out_channels=conf["enc_out_channels"],
    )


def latent_net_from_official(conf: dict[str, Any]) -> LatentNetConfig:
    fixed = {"activation": "silu", "last_act": "none", "num_time_layers": 2, "time_last_act": False}
    for key, want in fixed.items():
        if key in conf and conf[key] != want:
            raise ValueError(f"unsupported official setting {key}={conf[key]!r} (expected {want!r})")
    return LatentNetConfig(
        num_channels=conf["num_channels"],
        num_hid_channels=conf["num_hid_channels"],
        num_layers=conf["num_layers"],
        skip_layers=tuple(conf["skip_layers"]),
        num_time_emb_channels=conf["num_time_emb_channels"],
        use_norm=conf["use_norm"],
        condition_bias=float(conf["condition_bias"]),
        dropout=float(conf["dropout"]),
    )


FFHQ256 = AutoencoderConfig()  # the defaults are the official ffhq256_autoenc values
FFHQ128 = AutoencoderConfig(
    image_size=128, channel_mult=(1, 1, 2, 3, 4), enc_channel_mult=(1, 1, 2, 3, 4, 4)
)
# demo64: sized so that a T=20 slider edit decodes in well under a second on 2 CPU cores
# (1.5 GFLOP per UNet step, 0.2 GFLOP per encoding) and trains on a CPU in hours.
DEMO64 = AutoencoderConfig(
    image_size=64, model_channels=32, channel_mult=(1, 1, 2, 2), num_res_blocks=1,
    attention_resolutions=(16,), embed_channels=128, enc_out_channels=128,
    enc_channel_mult=(1, 1, 2, 4, 4), enc_num_res_blocks=1, dropout=0.0,
)
OFFICIAL_LATENT = LatentNetConfig()

PRESETS: dict[str, ModelConfig] = {
    "ffhq256": ModelConfig("ffhq256", FFHQ256, latent_net=OFFICIAL_LATENT),
    "ffhq128": ModelConfig("ffhq128", FFHQ128, latent_net=OFFICIAL_LATENT),
    "demo64": ModelConfig(
        "demo64", DEMO64,
        latent_net=LatentNetConfig(num_channels=128, num_hid_channels=512, num_layers=6,
                                   skip_layers=(1, 2, 3, 4, 5)),
    ),
}


def preset(name: str) -> ModelConfig:
    """Return a preset by name; an unknown name is refused with the allowed set."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; available: {sorted(PRESETS)}") from None
