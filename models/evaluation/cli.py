"""Evaluate a DiffAE model on held-out generated faces and write the report.

    python -m models.evaluation --model models/weights/demo64 [--out docs/evaluation] [--n 64]
        [--steps 10,20,50,100] [--amount 0.3] [--edit-steps 20] [--seed 0]

Writes `metrics.json`, `README.md` and PNGs (`reconstruction.png`, `samples.png`,
`edits_<i>.png`) into `--out`. What is measured: `models.evaluation.evaluate`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import torch

from models.evaluation.evaluate import evaluate
from models.evaluation.report import write_report
from models.pipeline import DiffAEPipeline, default_device, fast_dtype


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m models.evaluation", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="a from_pretrained model directory")
    p.add_argument("--out", default="docs/evaluation", help="where metrics.json, README.md, PNGs go")
    p.add_argument("--n", type=int, default=64, help="held-out faces")
    p.add_argument("--steps", type=_ints, default=[10, 20, 50, 100], help="T values, e.g. 10,20,50,100")
    p.add_argument("--amount", type=_floats, default=[0.3], help="edit amplitude(s), e.g. 0.3 or 0.2,0.4")
    p.add_argument("--edit-steps", type=int, default=20, help="T for edits, strips and samples")
    p.add_argument("--edit-n", type=int, default=None,
                   help="faces for the edit metrics (default: all --n); edits dominate the cost")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=32, help="images per network call")
    p.add_argument("--strip-faces", type=int, default=2, help="faces with an edit-strip figure")
    p.add_argument("--strip-max", type=float, default=0.5, help="strip amounts span ±this")
    p.add_argument("--strip-columns", type=int, default=7, help="amounts per strip row")
    p.add_argument("--samples", type=int, default=16, help="unconditional samples (0: none)")
    p.add_argument("--latent-steps", type=int, default=200, help="latent DDIM T for samples")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")
    p.add_argument("--fast", action="store_true",
                   help="bf16/fp16 autocast (default fp32, the exact path)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    p.add_argument("--workers", type=int, default=1, help="processes rendering the faces")
    p.add_argument("--quiet", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device) if args.device else default_device()
    dtype = fast_dtype(device) if args.fast else torch.float32
    pipe = DiffAEPipeline.from_pretrained(args.model, device=device, dtype=dtype)
    c = args.strip_columns
    strip = [args.strip_max * (2 * i / (c - 1) - 1) for i in range(c)] if c > 1 else [args.strip_max]
    ev = evaluate(pipe, args.n, args.steps, args.amount, args.edit_steps, args.seed,
                  batch=args.batch, edit_n=args.edit_n, strip_faces=args.strip_faces, strip_amounts=strip,
                  samples=args.samples, latent_steps=args.latent_steps, workers=args.workers,
                  verbose=not args.quiet)
    ev.metrics["model"]["path"] = str(args.model)
    for path in write_report(ev, args.out):
        print(path)
    return 0

