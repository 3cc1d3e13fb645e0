"""The options of each training command, one frozen dataclass each; the command line
(`models.training.cli`) parses its flags into them, and their defaults are the flags' defaults.

A run records its options in its checkpoint (`record`), and an export copies that record into
the model's `attributes.json` ("training" → "args"), so the field names are the flag names.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


class OptionsError(ValueError):
    """Options that contradict each other or the run they continue (the CLI exits with it)."""


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """What every command that reads training faces shares."""

    run: str  # run directory (checkpoints, logs)
    data: str = "facegen"  # "facegen" (drawn faces), "photofaces" (cached photoreal faces) or a folder
    num_images: int = 50_000  # training faces
    cache: str = "runs/cache"  # where generated faces are cached
    seed: int = 0
    threads: int = 0  # torch threads, set by the CLI (0: torch's default)
    quiet: bool = False  # no progress bar


@dataclass(frozen=True, kw_only=True)
class AutoencoderOptions(RunOptions):
    """`train_autoencoder`: the UNet decoder and the semantic encoder, jointly."""

    preset: str = "demo64"
    name: str | None = None  # the model's name (config preset) of a new run; default: preset's or init's
    steps: int = 200_000
    minutes: float | None = None  # stop (and checkpoint) after this
    batch: int = 32
    lr: float = 2e-4
    ema: float = 0.999
    grad_clip: float = 1.0
    bf16: bool = False  # bf16 autocast (CPUs with AVX-512 BF16, GPUs)
    flip: bool = True  # random horizontal flips
    ckpt_every: int = 200
    log_every: int = 20
    init: str | None = None  # start from this from_pretrained directory (fine-tune)
    warmup: int = 0  # linear learning-rate warm-up steps
    semantic_lr_mult: float = 1.0  # learning-rate factor of the encoder and the z_sem projections
    x0_weight_max: float = 0.0  # 0: plain ε-MSE (paper); W > 0: weight clamp(1/SNR, 1, W)
    prediction: str | None = None  # "eps" or "v"; default: the preset's, init's or checkpoint's


@dataclass(frozen=True, kw_only=True)
class LatentOptions(RunOptions):
    """`train_latent`: the latent DPM on the run's z_sem."""

    steps: int = 6000
    batch: int = 256
    lr: float = 1e-3
    ema: float = 0.999
    grad_clip: float = 1.0


@dataclass(frozen=True, kw_only=True)
class DirectionsOptions(RunOptions):
    """`fit_run_directions`: attribute directions by logistic regression on z_sem."""

    num_train: int = 10_000  # drawn faces to fit on
    num_test: int = 2_000  # held-out drawn faces to score on
    labels: str | None = None  # label CSV by seed, for data="photofaces"
    C: float = 0.1  # inverse L2 strength; smaller keeps edits on the data (models.training.directions)


@dataclass(frozen=True, kw_only=True)
class ExportOptions:
    """`export`: a run directory → a `from_pretrained` model directory."""

    run: str
    out: str
    encode_steps: int | None = None  # the model's default DDIM inversion steps; default: the run's
    threads: int = 0


def defaults(kind: type) -> dict[str, Any]:
    """Field name → default of an options class (fields without a default are left out)."""
    return {f.name: f.default for f in dataclasses.fields(kind) if f.default is not dataclasses.MISSING}


def record(command: str, options: Any) -> dict[str, Any]:
    """The options as a run records them: {"command": ..., field: value, ...}."""
    return {"command": command, **dataclasses.asdict(options)}
