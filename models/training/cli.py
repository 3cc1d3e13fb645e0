"""Training: the autoencoder (UNet decoder + semantic encoder, jointly), the latent DPM, and the
attribute directions; then export to a `from_pretrained` directory.

    python -m models.training autoencoder --run runs/demo64 --preset demo64 --minutes 90 --bf16
    python -m models.training latent      --run runs/demo64 --steps 6000
    python -m models.training directions  --run runs/demo64
    python -m models.training export      --run runs/demo64 --out models/weights/demo64

Data: `--data facegen` (the drawn faces, `models.facegen.drawn`), `--data photofaces` (the
photoreal face cache, `models.facegen.photo`) or `--data DIR` (a folder of aligned face images,
resized and centre-cropped like the official ImageDataset). Each command's flags are the fields
of its options dataclass (`models.training.options`), which the loops take; a run can be
stopped and resumed at will (`models.training.autoencoder`).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from models.training.autoencoder import train_autoencoder
from models.training.directions import fit_run_directions
from models.training.export import export
from models.training.latent import train_latent
from models.training.options import (
    AutoencoderOptions,
    DirectionsOptions,
    ExportOptions,
    LatentOptions,
    OptionsError,
    RunOptions,
    defaults,
)

# command → (options class, what runs it)
COMMANDS: dict[str, tuple[type, Callable[[Any], Path]]] = {
    "autoencoder": (AutoencoderOptions, train_autoencoder),
    "latent": (LatentOptions, train_latent),
    "directions": (DirectionsOptions, fit_run_directions),
    "export": (ExportOptions, export),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m models.training", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        d = defaults(RunOptions)
        p.add_argument("--run", required=True, help="run directory (checkpoints, logs)")
        p.add_argument("--data", default=d["data"],
                       help="'facegen' (drawn faces), 'photofaces' (cached photoreal faces) "
                            "or a folder of images")
        p.add_argument("--num-images", type=int, default=d["num_images"], help="generated training faces")
        p.add_argument("--cache", default=d["cache"], help="where generated faces are cached")
        p.add_argument("--seed", type=int, default=d["seed"])
        p.add_argument("--threads", type=int, default=d["threads"], help="torch threads (0: default)")
        p.add_argument("--quiet", action="store_true")

    d = defaults(AutoencoderOptions)
    p = sub.add_parser("autoencoder", help="train the UNet decoder and semantic encoder")
    common(p)
    p.add_argument("--preset", default=d["preset"])
    p.add_argument("--name", default=d["name"], help="the model's name (config preset) of a new run; "
                                                      "default: --preset's or --init's")
    p.add_argument("--steps", type=int, default=d["steps"])
    p.add_argument("--minutes", type=float, default=d["minutes"], help="stop (and checkpoint) after this")
    p.add_argument("--batch", type=int, default=d["batch"])
    p.add_argument("--lr", type=float, default=d["lr"])
    p.add_argument("--ema", type=float, default=d["ema"])
    p.add_argument("--grad-clip", type=float, default=d["grad_clip"])
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (CPUs with AVX-512 BF16, GPUs)")
    p.add_argument("--no-flip", dest="flip", action="store_false")
    p.add_argument("--ckpt-every", type=int, default=d["ckpt_every"])
    p.add_argument("--log-every", type=int, default=d["log_every"])
    p.add_argument("--init", default=d["init"], help="start from this from_pretrained directory (fine-tune)")
    p.add_argument("--warmup", type=int, default=d["warmup"], help="linear learning-rate warm-up steps")
    p.add_argument("--semantic-lr-mult", type=float, default=d["semantic_lr_mult"],
                   help="learning-rate factor for the encoder and the z_sem projections")
    p.add_argument("--x0-weight-max", type=float, default=d["x0_weight_max"],
                   help="0: plain ε-MSE (paper); W>0: weight clamp(1/SNR, 1, W) (see loss_weights)")
    p.add_argument("--prediction", choices=("eps", "v"), default=d["prediction"],
                   help="network output; default: the preset's, --init's or the checkpoint's (eps)")

    d = defaults(LatentOptions)
    p = sub.add_parser("latent", help="train the latent DPM on z_sem")
    common(p)
    p.add_argument("--steps", type=int, default=d["steps"])
    p.add_argument("--batch", type=int, default=d["batch"])
    p.add_argument("--lr", type=float, default=d["lr"])
    p.add_argument("--ema", type=float, default=d["ema"])
    p.add_argument("--grad-clip", type=float, default=d["grad_clip"])

    d = defaults(DirectionsOptions)
    p = sub.add_parser("directions", help="fit attribute directions (logistic regression)")
    common(p)
    p.add_argument("--num-train", type=int, default=d["num_train"])
    p.add_argument("--num-test", type=int, default=d["num_test"])
    p.add_argument("--labels", default=d["labels"], help="label CSV by seed for --data photofaces")
    p.add_argument("--C", type=float, default=d["C"],
                   help="inverse L2 strength; smaller keeps edits on the data (training/directions.py)")

    d = defaults(ExportOptions)
    p = sub.add_parser("export", help="write the from_pretrained directory")
    p.add_argument("--run", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--encode-steps", type=int, default=d["encode_steps"],
                   help="the model's default DDIM inversion steps (config diffusion.encode_steps); "
                        "default: the run's (none: the default steps)")
    p.add_argument("--threads", type=int, default=d["threads"])
    return parser


def parse(argv: list[str] | None = None) -> tuple[str, Any]:
    """(command, its options) from command-line arguments."""
    args = build_parser().parse_args(argv)
    kind = COMMANDS[args.command][0]
    return args.command, kind(**{f.name: getattr(args, f.name) for f in dataclasses.fields(kind)})


def main(argv: list[str] | None = None) -> int:
    command, options = parse(argv)
    if options.threads:
        torch.set_num_threads(options.threads)
    try:
        print(COMMANDS[command][1](options))
    except OptionsError as e:
        raise SystemExit(str(e)) from None
    return 0
