"""GPU check: convert random official-layout weights, then time one edit per precision on CUDA.

    python -m scripts.gpu_check [--preset ffhq256] [--steps 20] [--device cuda] [--budget-s 420]

Installs and downloads nothing. Steps:
1. random weights of the preset's network (zero-initialised output layers re-initialised, so that
   outputs are not trivially equal) saved in the official Lightning layout (`state_dict` with
   `ema_model.*` and `x_T`), converted with `python -m models.conversion` (the user's path);
2. the converted model on `--device`: an encode (DDIM inversion, T steps) once, then per path a
   slider edit = decode at T (DDIM) and with the served solver (DPM-Solver++(2M), quadratic grid,
   T/4 steps): fp32, fp16 autocast, bf16 autocast, and fp16 with `torch.compile` (inductor) and
   with CUDA graphs (`mode="reduce-overhead"`), each skipped with a line when it fails or when
   the time budget is spent;
3. prints a markdown table: median seconds per edit, speedup over fp32, first-call cost, and the
   decoded image's difference from fp32 (max-abs, PSNR; random weights exaggerate it).

On a CPU (`--device cpu --preset demo64 --steps 4`) it runs the same way, as a smoke test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from models.checkpoint import canonical_state
from models.config import preset
from models.conversion.cli import main as convert_main
from models.evaluation.bench import random_autoencoder, smooth_images
from models.pipeline import DiffAEPipeline


def official_checkpoint(name: str, path: Path) -> Path:
    """Random weights of preset `name` as the official code saves them."""
    config = preset(name)
    unet = random_autoencoder(config)
    size = config.autoencoder.image_size
    state = {f"ema_model.{k}": v for k, v in canonical_state(unet).items()}
    state["x_T"] = torch.randn(1, 3, size, size)
    torch.save({"state_dict": state, "global_step": 0}, path)
    return path


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(fn: Callable[[], torch.Tensor], device: torch.device,
                   repeats: int) -> tuple[float, torch.Tensor]:
    times, out = [], None
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        out = fn()
        sync(device)
        times.append(time.perf_counter() - start)
    assert out is not None
    return statistics.median(times), out


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.float() - b.float()) ** 2).mean())
    return float("inf") if mse == 0 else 10 * torch.log10(torch.tensor(4.0 / mse)).item()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m scripts.gpu_check", description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="ffhq256")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--device", default="cuda")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--budget-s", type=float, default=420.0, help="skip the remaining paths after this")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("error: CUDA is not available to torch", torch.__version__, file=sys.stderr)
        return 2
    began = time.perf_counter()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"# gpu_check: {args.preset}, T={args.steps}, {name}, torch {torch.__version__}, "
          f"load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = official_checkpoint(args.preset, Path(tmp) / "last.ckpt")
        start = time.perf_counter()
        if convert_main(["--autoenc", str(ckpt), "--out", str(Path(tmp) / "model")]) != 0:
            print("error: conversion failed", file=sys.stderr)
            return 1
        took = time.perf_counter() - start
        print(f"converted random official-layout {args.preset} weights in {took:.1f} s")
        pipes = {dtype: DiffAEPipeline.from_pretrained(Path(tmp) / "model", device=device, dtype=dtype)
                 for dtype in (torch.float32, torch.float16, torch.bfloat16)}
    exact = pipes[torch.float32]
    size = exact.image_size
    x0 = smooth_images(1, size).to(device)
    z, x_T = exact.encode(x0, args.steps)
    solver_steps = max(2, args.steps // 4)

    def edit(pipe: DiffAEPipeline, solver: str) -> Callable[[], torch.Tensor]:
        if solver == "ddim":
            return lambda: pipe.decode(z, x_T, args.steps)
        return lambda: pipe.decode(z, x_T, solver_steps, solver="dpm++2m", grid="quadratic")

    rows: list[tuple[str, float, float, torch.Tensor]] = []  # (path, seconds, first call, image)

    def measure(label: str, fn: Callable[[], torch.Tensor]) -> None:
        if time.perf_counter() - began > args.budget_s:
            print(f"skipped {label}: time budget of {args.budget_s:.0f} s spent")
            return
        try:
            sync(device)
            start = time.perf_counter()
            fn()
            sync(device)
            first = time.perf_counter() - start
            seconds, out = median_seconds(fn, device, args.repeats)
        except Exception as exc:
            print(f"skipped {label}: {type(exc).__name__}: {str(exc)[:200]}")
            return
        rows.append((label, seconds, first, out))
        print(f"  {label}: {seconds * 1000:.1f} ms per edit (first call {first:.1f} s)", flush=True)

    for solver in ("ddim", "dpm++2m"):
        for dtype, label in ((torch.float32, "fp32"), (torch.float16, "fp16"), (torch.bfloat16, "bf16")):
            measure(f"{label} {solver}", edit(pipes[dtype], solver))
    if device.type == "cuda":
        for mode in ("default", "reduce-overhead"):
            compiled = pipes[torch.float16]
            eager_net = compiled.autoencoder
            compiled.autoencoder = torch.compile(eager_net, mode=mode)  # type: ignore[assignment]
            label = "fp16 compile" + (" + CUDA graphs" if mode == "reduce-overhead" else "")
            for solver in ("ddim", "dpm++2m"):
                measure(f"{label} {solver}", edit(compiled, solver))
            compiled.autoencoder = eager_net

    reference = {solver: next((r for r in rows if r[0] == f"fp32 {solver}"), None)
                 for solver in ("ddim", "dpm++2m")}
    base = reference["ddim"]
    print(f"\n| path | steps | ms / edit | × fp32 DDIM-{args.steps} | first call s | max-abs vs fp32 "
          "| PSNR dB |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for label, seconds, first, out in rows:
        solver = label.split()[-1]
        ref = reference[solver]
        diff = float((out.float() - ref[3].float()).abs().max()) if ref else float("nan")
        db = psnr(out, ref[3]) if ref else float("nan")
        speed = base[1] / seconds if base else float("nan")
        steps = args.steps if solver == "ddim" else solver_steps
        print(f"| {label} | {steps} | {seconds * 1000:.1f} | {speed:.2f}× | {first:.1f} | {diff:.3f} "
              f"| {db:.1f} |")
    print(f"\ntotal {time.perf_counter() - began:.0f} s")
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
