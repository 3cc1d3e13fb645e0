"""Convert the official DiffAE checkpoints into a `DiffAEPipeline.from_pretrained` directory.

    python -m models.conversion --autoenc ffhq256_autoenc/last.ckpt \
        [--latent ffhq256_autoenc_latent/last.ckpt] [--classifier ffhq256_autoenc_cls/last.ckpt] \
        [--latent-stats latent.pkl] --out DIR [--preset-name NAME] [--overwrite]

`--latent-stats` is the official `latent.pkl`, used for the z statistics when a latent or
classifier checkpoint lacks them, and cross-checked otherwise. Exit 0: converted and verified;
1: an input that cannot be converted (one `error:` line on stderr naming the file and the keys).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from models.checkpoint import CheckpointError
from models.conversion.convert import convert, summary
from models.conversion.official import ConversionError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m models.conversion",
        description="Convert official DiffAE checkpoints (PyTorch-Lightning last.ckpt) into a "
                    "DiffAEPipeline.from_pretrained directory.",
    )
    p.add_argument("--autoenc", type=Path, required=True, help="autoencoder last.ckpt (e.g. ffhq256_autoenc)")
    p.add_argument("--latent", type=Path, help="latent DPM last.ckpt (e.g. ffhq256_autoenc_latent)")
    p.add_argument("--classifier", type=Path, help="classifier last.ckpt (e.g. ffhq256_autoenc_cls)")
    p.add_argument("--latent-stats", type=Path, help="latent.pkl with conds_mean/conds_std (optional)")
    p.add_argument("--out", type=Path, required=True, help="output model directory")
    p.add_argument("--preset-name", help="name stored in config.json (default: inferred)")
    p.add_argument("--image-size", type=int, help="only for a checkpoint without the x_T buffer")
    p.add_argument("--overwrite", action="store_true", help="replace a model already in --out")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        pipe = convert(args.autoenc, args.out, latent=args.latent, classifier=args.classifier,
                       latent_stats=args.latent_stats, preset=args.preset_name,
                       image_size=args.image_size, overwrite=args.overwrite)
    except (ConversionError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(summary(pipe, args.out))
    return 0

