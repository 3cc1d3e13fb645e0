"""Speed of the DiffAE networks: seconds per UNet step and per edit, three ways.

    python -m models.evaluation.bench [--sizes 64,128,256] [--steps 20] [--repeats N] [--threads N]
        [--json PATH]

For each size the matching preset (demo64, ffhq128, ffhq256: official-size networks) is built
with random weights — the zero-initialised layers re-initialised so that outputs are
non-trivial — and timed at batch 1 on:

- naive: fp32, evaluated the way the official code does it: `unet(x_t, t, z_sem)` recomputes the
  z-conditioning of every ResBlock at every step; contiguous memory; `torch.no_grad`;
- fp32: `DiffAEPipeline(dtype=torch.float32)`, the exact path (z-scales computed once per decode,
  `torch.inference_mode`); its outputs equal naive's;
- fast: `DiffAEPipeline` with the fast dtype (bf16 on CPUs that have it): autocast + channels_last.

An edit is `decode` with T steps (a slider move); `encode` is DDIM inversion with the same T.
The output difference is measured on the decoded image ([-1, 1] units) from the same (z_sem, x_T).
Times are medians over repeats after a warm-up, with `time.perf_counter` (wall) and, in
brackets, `time.process_time` (CPU time of this process): on a shared machine with `--threads 1`
the CPU time is what a core spends, whatever else runs. Figures only: this is not a unit test.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models.config import ModelConfig, preset
from models.ddim import ddim_invert, ddim_sample
from models.pipeline import DiffAEPipeline, fast_dtype
from models.schedule import Schedule
from models.unet import DiffAEUNet

PRESET_BY_SIZE = {64: "demo64", 128: "ffhq128", 256: "ffhq256"}
DEFAULT_REPEATS = {64: (5, 3), 128: (3, 1), 256: (2, 1)}  # (per step, per edit): 256 px is slow
DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


PATHS = ("naive", "fp32", "fast")
Seconds = dict[str, dict[str, float]]  # {"step" | "encode" | "decode": {path: seconds}}


@dataclass
class Result:
    preset: str
    size: int
    params_m: float
    steps: int
    step_repeats: int
    edit_repeats: int
    fast_dtype: str
    wall_s: Seconds  # time.perf_counter
    cpu_s: Seconds  # time.process_time: with --threads 1, insensitive to other processes' load
    naive_vs_fp32_max_abs: float  # decoded image: the exact path must equal the naive one
    fast_vs_fp32_max_abs: float
    fast_vs_fp32_mean_abs: float
    eps_fast_vs_fp32_rel: float  # one ε̂ evaluation: max-abs error / max-abs value


def random_autoencoder(config: ModelConfig, seed: int = 0) -> DiffAEUNet:
    """The preset's network with default-initialised weights, except that the zero-initialised
    layers (each ResBlock's last conv, attention `proj_out`, the output conv) get a default init
    too: with them at zero, ε̂ would be 0 and every path trivially equal."""
    torch.manual_seed(seed)
    unet = DiffAEUNet(config.autoencoder)
    for module in unet.modules():
        if isinstance(module, nn.Conv1d | nn.Conv2d) and not module.weight.any():
            module.reset_parameters()
    return unet.eval()


def smooth_images(n: int, size: int, seed: int = 0) -> torch.Tensor:
    """(n, 3, size, size) in [-1, 1]: upsampled low-resolution noise, a stand-in for a photo."""
    low = torch.randn(n, 3, 8, 8, generator=torch.Generator().manual_seed(seed))
    return torch.nn.functional.interpolate(low, size=size, mode="bicubic", align_corners=False).tanh()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class Timing:
    wall: float  # median seconds, time.perf_counter
    cpu: float  # median seconds of process CPU time (all threads)
    out: Any  # the last result


def timed(fns: dict[str, Callable[[], Any]], repeats: int, warmup: int,
          device: torch.device) -> dict[str, Timing]:
    """Medians over `repeats` rounds, after `warmup` rounds. Rounds interleave the functions so
    that a load change on a shared machine hits every path alike."""
    outs: dict[str, Any] = {}
    for _ in range(warmup):
        for name, fn in fns.items():
            outs[name] = fn()
    wall: dict[str, list[float]] = {name: [] for name in fns}
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            _sync(device)
            start, start_cpu = time.perf_counter(), time.process_time()
            outs[name] = fn()
            _sync(device)
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return {name: Timing(statistics.median(wall[name]), statistics.median(cpu[name]), outs[name])
            for name in fns}


def _log_line(what: str, timings: dict[str, Timing]) -> str:
    return f"  {what}: " + "  ".join(f"{k} {v.wall:.3f}s (cpu {v.cpu:.3f}s)" for k, v in timings.items())


def bench_size(size: int, steps: int, step_repeats: int, edit_repeats: int,
               dtype: torch.dtype, device: torch.device, log: Callable[[str], None]) -> Result:
    config = preset(PRESET_BY_SIZE[size])
    unet = random_autoencoder(config).to(device)
    params = sum(p.numel() for p in unet.parameters()) / 1e6
    exact = DiffAEPipeline(config, unet, device=device, dtype=torch.float32)
    fast = DiffAEPipeline(config, copy.deepcopy(unet), device=device, dtype=dtype)  # goes channels_last
    x_0 = smooth_images(1, size).to(device)
    sched = Schedule.create(config.diffusion.beta_schedule, steps, config.diffusion.num_timesteps)
    t = torch.full((1,), 500, device=device)
    log(f"{config.preset} {size}px: {params:.1f}M parameters, fast dtype {dtype}")

    with torch.inference_mode():
        z_sem = exact.encode_semantic(x_0)
        fast.encode_semantic(x_0)  # warm-up of the channels_last encoder kernels
        x_t = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(1)).to(device)

    def naive_eps(x: torch.Tensor, tt: torch.Tensor) -> torch.Tensor:
        return unet(x, tt, z_sem)  # z-conditioning recomputed on every call, as officially

    def naive(fn: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            with torch.no_grad():
                return fn()
        return run

    def exact_mode(fn: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            with torch.inference_mode():
                return fn()
        return run

    with torch.inference_mode():
        fp32_fn, fast_fn, x_fast = exact._eps_fn(z_sem), fast._eps_fn(z_sem), fast._prepare(x_t)
    step = timed({
        "naive": naive(lambda: naive_eps(x_t, t)),
        "fp32": exact_mode(lambda: fp32_fn(x_t, t)),
        "fast": exact_mode(lambda: fast_fn(x_fast, t)),
    }, step_repeats, 1, device)
    log(_log_line("step", step))

    def naive_encode() -> torch.Tensor:
        z = unet.encode(x_0)
        return ddim_invert(lambda x, tt: unet(x, tt, z), x_0, sched)

    enc = timed({
        "naive": naive(naive_encode),
        "fp32": lambda: exact.encode(x_0, steps),
        "fast": lambda: fast.encode(x_0, steps),
    }, edit_repeats, 0, device)
    log(_log_line(f"encode T={steps}", enc))
    x_T = enc["fp32"].out[1]
    dec = timed({
        "naive": naive(lambda: ddim_sample(naive_eps, x_T, sched)),
        "fp32": lambda: exact.decode(z_sem, x_T, steps),
        "fast": lambda: fast.decode(z_sem, x_T, steps),
    }, edit_repeats, 0, device)
    log(_log_line(f"decode T={steps}", dec))

    img_naive, img_fp32, img_fast = (dec[k].out for k in PATHS)
    eps_fp32, eps_fast = step["fp32"].out, step["fast"].out
    stages = {"step": step, "encode": enc, "decode": dec}
    diff = (img_fast - img_fp32).abs()
    return Result(
        preset=config.preset, size=size, params_m=round(params, 1), steps=steps,
        step_repeats=step_repeats, edit_repeats=edit_repeats, fast_dtype=str(dtype).removeprefix("torch."),
        wall_s={k: {p: v.wall for p, v in t.items()} for k, t in stages.items()},
        cpu_s={k: {p: v.cpu for p, v in t.items()} for k, t in stages.items()},
        naive_vs_fp32_max_abs=float((img_naive - img_fp32).abs().max()),
        fast_vs_fp32_max_abs=float(diff.max()), fast_vs_fp32_mean_abs=float(diff.mean()),
        eps_fast_vs_fp32_rel=float((eps_fast - eps_fp32).abs().max() / eps_fp32.abs().max()),
    )


def format_tables(results: list[Result]) -> str:
    """Two markdown tables — per UNet step; per encode/decode with the fast-vs-exact output
    difference. Cells are "wall (cpu)" seconds; speedups are naive time / path time."""

    def cell(r: Result, stage: str, path: str, digits: int) -> str:
        return f"{r.wall_s[stage][path]:.{digits}f} s ({r.cpu_s[stage][path]:.{digits}f})"

    def speedup(r: Result, path: str) -> str:
        wall, cpu = r.wall_s["step"], r.cpu_s["step"]
        return f"{wall['naive'] / wall[path]:.2f}× ({cpu['naive'] / cpu[path]:.2f}×)"

    lines = [
        "| preset | px | params | step naive | step fp32 | step fast | fp32 speedup | fast speedup |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.preset} | {r.size} | {r.params_m:.1f}M | {cell(r, 'step', 'naive', 3)} "
            f"| {cell(r, 'step', 'fp32', 3)} | {cell(r, 'step', 'fast', 3)} {r.fast_dtype} "
            f"| {speedup(r, 'fp32')} | {speedup(r, 'fast')} |"
        )
    lines += [
        "",
        "| preset | T | encode naive | encode fp32 | encode fast | decode naive | decode fp32 | decode fast "
        "| naive−fp32 max | fast−fp32 max / mean | ε̂ fast−fp32 (rel) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        times = " | ".join(cell(r, stage, path, 2) for stage in ("encode", "decode") for path in PATHS)
        lines.append(
            f"| {r.preset} | {r.steps} | {times} | {r.naive_vs_fp32_max_abs:.1e} "
            f"| {r.fast_vs_fp32_max_abs:.3f} / {r.fast_vs_fp32_mean_abs:.4f} | {r.eps_fast_vs_fp32_rel:.1e} |"
        )
    return "\n".join(lines)


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.evaluation.bench",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="64,128,256",
                        help=f"comma-separated resolutions, each picks a preset: {PRESET_BY_SIZE}")
    parser.add_argument("--steps", type=int, default=20, help="DDIM steps T for encode and decode")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed repeats per measurement (default per step / per edit: "
                             "5 / 3 at 64 px, 3 / 1 at 128 px, 2 / 1 at 256 px)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--fast-dtype", choices=["auto", *DTYPES], default="auto",
                        help="dtype of the fast path; auto = models.pipeline.fast_dtype(device)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)

    sizes = [int(s) for s in args.sizes.split(",") if s]
    unknown = sorted(set(sizes) - set(PRESET_BY_SIZE))
    if unknown:
        parser.error(f"unknown sizes {unknown}; available: {sorted(PRESET_BY_SIZE)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtype = fast_dtype(device) if args.fast_dtype == "auto" else DTYPES[args.fast_dtype]

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    load_before = os.getloadavg()
    log(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {_cpu_name()}, "
        f"load average {load_before[0]:.2f}")
    results = []
    for size in sizes:
        default_step, default_edit = DEFAULT_REPEATS.get(size, (2, 1))
        step_repeats = args.repeats or default_step
        edit_repeats = args.repeats or default_edit
        results.append(bench_size(size, args.steps, step_repeats, edit_repeats, dtype, device, log))
    load_after = os.getloadavg()
    print(format_tables(results))
    print(f"\ntorch {torch.__version__} on {device} ({_cpu_name()}), {torch.get_num_threads()} threads; "
          f"batch 1; load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    if args.json:
        meta = {"torch": torch.__version__, "device": str(device), "cpu": _cpu_name(),
                "threads": torch.get_num_threads(), "argv": sys.argv[1:] if argv is None else argv,
                "load_average_before": load_before, "load_average_after": load_after}
        args.json.write_text(json.dumps({"meta": meta, "results": [asdict(r) for r in results]},
                                        indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
