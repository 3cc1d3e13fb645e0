"""Speed at equal output, side by side in one process: every path of the networks, every solver.

    python -m models.evaluation.bench [--quick] [--models faces64,ffhq128] [--steps 20]
        [--paths fp32,bf16,onnxruntime-float32,...] [--repeats N] [--threads N] [--json PATH]

A model is a shipped or converted model directory (`models/weights/<name>` or a path: trained
weights, where the output difference means something) or a preset name (`demo64`, `ffhq128`,
`ffhq256`: the official-size networks with random weights, the zero-initialised layers
re-initialised so that outputs are non-trivial; random weights amplify rounding chaotically, so
their difference column is a worst case, not a verdict). Batch 1. Paths:

- naive: fp32 the way the official code evaluates it (`unet(x_t, t, z_sem)`, the z-conditioning
  recomputed at every step, `torch.no_grad`): per step only;
- fp32: `DiffAEPipeline(dtype=torch.float32)`, the exact path, today's eager default before #15;
- bf16: eager bf16 autocast + channels_last (only where the CPU has native bf16);
- onnxruntime-float32, openvino-float32, openvino-bfloat16: the engines of `models.engine`, built
  in a fresh cache directory so that their first-call cost (export + compile) is measured.

Per path: one UNet step; an encode (DDIM inversion, T steps); an edit = decode with DDIM at T and
with the served solver (DPM-Solver++(2M), quadratic grid, T/4 steps: at T = 20 the 5 steps that
reach DDIM-20's edit quality on the served model, docs/benchmarks.md). Speedups are against the
fp32 path's DDIM-T edit, measured in the same run, rounds interleaved so that a load change hits
every path alike; the difference is PSNR of the decoded image against fp32 with the same solver
and steps (>= 40 dB: equal output). Wall time (`time.perf_counter`) medians after a warm-up; CPU
time (`time.process_time`) beside it. Figures only: this is not a unit test.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models.config import ModelConfig, preset
from models.engine import build_engine
from models.pipeline import DiffAEPipeline, fast_dtype
from models.unet import DiffAEUNet

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
PRESETS = ("demo64", "ffhq128", "ffhq256")
PATHS = ("fp32", "bf16", "onnxruntime-float32", "openvino-float32", "openvino-bfloat16")
QUICK = {"models": "faces64", "steps": 20, "repeats": 3}
SOLVER = {"solver": "dpm++2m", "grid": "quadratic"}
# The 2026-11 bench's spelling, before the solver and the engines: still accepted.
PRESET_BY_SIZE = {64: "demo64", 128: "ffhq128", 256: "ffhq256"}


@dataclass
class Row:
    path: str
    first_call_s: float  # building the path: engine export + compile (0 for eager)
    wall_s: dict[str, float] = field(default_factory=dict)  # step, encode, ddim, solver
    cpu_s: dict[str, float] = field(default_factory=dict)
    psnr_db: dict[str, float] = field(default_factory=dict)  # ddim, solver: vs fp32, same steps


@dataclass
class Result:
    model: str
    trained: bool
    size: int
    params_m: float
    steps: int
    solver_steps: int
    rows: list[Row]
    naive_step_s: float
    failures: dict[str, str]


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


def _face(size: int) -> torch.Tensor:
    """The astronaut (a real photo), aligned as the service aligns uploads; a smooth stand-in when
    the aligner cannot run (no landmark model)."""
    try:
        import skimage.data
        from PIL import Image

        from models.evaluation.photos import align_photos, to_model

        with tempfile.TemporaryDirectory() as tmp:
            photo = Path(tmp) / "astronaut.png"
            Image.fromarray(skimage.data.astronaut()).save(photo)
            _, faces, _ = align_photos([photo])
        return to_model(faces, size)
    except Exception:
        return smooth_images(1, size)


def load(model: str) -> tuple[str, bool, DiffAEPipeline]:
    """(name, trained?, exact fp32 pipeline) for a model directory, a shipped model or a preset."""
    path = Path(model) if Path(model).is_dir() else WEIGHTS / model
    if (path / "config.json").is_file():
        return path.name, True, DiffAEPipeline.from_pretrained(path, device="cpu", dtype=torch.float32)
    if model not in PRESETS:
        raise SystemExit(f"unknown model {model!r}: not a model directory, a shipped model "
                         f"or one of {PRESETS}")
    config = preset(model)
    return model, False, DiffAEPipeline(config, random_autoencoder(config), device="cpu", dtype=torch.float32)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a - b) ** 2).mean())
    return float("inf") if mse == 0 else 10 * float(torch.log10(torch.tensor(4.0 / mse)))


def _interleaved(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, tuple[float, float, Any]]:
    """{name: (median wall s, median CPU s, last output)} after one warm-up round."""
    outs = {name: fn() for name, fn in fns.items()}
    wall: dict[str, list[float]] = {n: [] for n in fns}
    cpu: dict[str, list[float]] = {n: [] for n in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            outs[name] = fn()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return {n: (statistics.median(wall[n]), statistics.median(cpu[n]), outs[n]) for n in fns}


def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[[], Any]:
    return lambda: fn(*args, **kwargs)


def _step_of(pipe: DiffAEPipeline, z: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> Callable[[], Any]:
    """One network evaluation the way the samplers call it (engine or eager)."""
    def step() -> torch.Tensor:
        with torch.inference_mode():
            return pipe._eps_fn(z)(pipe._prepare(x_t), t)
    return step


def bench_model(model: str, steps: int, paths: list[str], repeats: int,
                log: Callable[[str], None]) -> Result:
    name, trained, exact = load(model)
    size = exact.image_size
    params = sum(p.numel() for p in exact.autoencoder.parameters()) / 1e6
    solver_steps = max(2, steps // 4)
    log(f"{name} ({'trained' if trained else 'random weights'}) {size}px, {params:.1f}M parameters")
    pipes: dict[str, DiffAEPipeline] = {}
    rows: dict[str, Row] = {}
    failures: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as cache:
        for path in paths:
            start = time.perf_counter()
            try:
                if path == "fp32":
                    pipe = exact
                elif path == "bf16":
                    if fast_dtype(torch.device("cpu")) != torch.bfloat16:
                        raise RuntimeError("this CPU has no native bf16")
                    pipe = DiffAEPipeline(exact.config, exact.autoencoder, classifier=exact.classifier,
                                          device="cpu", dtype=torch.bfloat16)
                else:
                    engine_name, precision = path.split("-")
                    pipe = copy.copy(exact)
                    pipe.use_engine(build_engine(engine_name, exact.autoencoder, Path(cache),
                                                 precision=precision))
            except Exception as exc:
                failures[path] = f"{type(exc).__name__}: {exc}"[:200]
                log(f"  {path}: not measured ({failures[path]})")
                continue
            pipes[path] = pipe
            rows[path] = Row(path, 0.0 if path in ("fp32", "bf16") else time.perf_counter() - start)
            log(f"  {path}: ready in {rows[path].first_call_s:.1f} s")

    x_0 = _face(size)
    with torch.inference_mode():
        z = exact.encode_semantic(x_0)
        x_t = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(1))
        t = torch.full((1,), 500)
        unet = exact.autoencoder

        def naive() -> torch.Tensor:
            return unet(x_t, t, z)

        fns: dict[str, Callable[[], Any]] = {"naive": naive}
        fns.update({p: _step_of(pipe, z, x_t, t) for p, pipe in pipes.items()})
        steps_timed = _interleaved(fns, repeats * 3)
    naive_step = steps_timed.pop("naive")[0]
    for p, (wall, cpu, _) in steps_timed.items():
        rows[p].wall_s["step"], rows[p].cpu_s["step"] = wall, cpu
    log("  step: " + ", ".join(f"{p} {rows[p].wall_s['step'] * 1000:.1f} ms" for p in pipes) +
        f", naive {naive_step * 1000:.1f} ms")

    encoded = _interleaved({p: _call(pipe.encode, x_0, steps) for p, pipe in pipes.items()}, repeats)
    x_T = next(iter(encoded.values()))[2][1]  # fp32's: it comes first
    stages = {
        "encode": encoded,
        "ddim": _interleaved({p: _call(pipe.decode, z, x_T, steps) for p, pipe in pipes.items()}, repeats),
        "solver": _interleaved({p: _call(pipe.decode, z, x_T, solver_steps, **SOLVER)
                                for p, pipe in pipes.items()}, repeats),
    }
    for stage, timed in stages.items():
        for p, (wall, cpu, out) in timed.items():
            rows[p].wall_s[stage], rows[p].cpu_s[stage] = wall, cpu
            if stage != "encode":
                rows[p].psnr_db[stage] = psnr(out, timed["fp32"][2])
        log(f"  {stage}: " + ", ".join(f"{p} {timed[p][0]:.3f} s" for p in timed))
    return Result(name, trained, size, round(params, 1), steps, solver_steps, list(rows.values()),
                  naive_step, failures)


def format_tables(results: list[Result]) -> str:
    """One markdown table per model: seconds "wall (CPU)", speedups against fp32 DDIM-T's edit."""
    out = []
    for r in results:
        base = next((row for row in r.rows if row.path == "fp32"), None)
        out += [
            f"**{r.model}** ({'trained' if r.trained else 'random weights'}, {r.size} px, {r.params_m}M "
            f"parameters; naive fp32 step {r.naive_step_s * 1000:.1f} ms)",
            "",
            f"| path | first call | step | encode T={r.steps} | edit DDIM-{r.steps} | × | PSNR | "
            f"edit 2M-{r.solver_steps} | × | PSNR |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in r.rows:
            def cell(stage: str, row: Row = row) -> str:
                return f"{row.wall_s[stage]:.3f} s ({row.cpu_s[stage]:.3f})"

            def ratio(stage: str, row: Row = row, base: Row | None = base) -> str:
                return f"{base.wall_s['ddim'] / row.wall_s[stage]:.2f}×" if base else "–"

            def db(stage: str, row: Row = row) -> str:
                value = row.psnr_db.get(stage)
                return "–" if value is None else ("exact" if value == float("inf") else f"{value:.1f} dB")

            out.append(
                f"| {row.path} | {row.first_call_s:.1f} s | {row.wall_s['step'] * 1000:.1f} ms "
                f"| {cell('encode')} | {cell('ddim')} | {ratio('ddim')} | {db('ddim')} | {cell('solver')} "
                f"| {ratio('solver')} | {db('solver')} |"
            )
        for path, why in r.failures.items():
            out.append(f"\n{path}: not measured ({why})")
        out.append("")
    return "\n".join(out)


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
    parser.add_argument("--quick", action="store_true",
                        help=f"the served model only, few repeats ({QUICK}); a minute or two")
    parser.add_argument("--models", default="faces64,ffhq128",
                        help=f"comma-separated model dirs, shipped model names or presets {PRESETS}")
    parser.add_argument("--sizes", default=None, help="presets by resolution (64, 128, 256), as before")
    parser.add_argument("--steps", type=int, default=20, help="T of the encode and of the DDIM edit")
    parser.add_argument("--paths", default=",".join(PATHS), help=f"comma-separated subset of {PATHS}")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds per measurement")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    if args.quick:
        args.models, args.steps, args.repeats = QUICK["models"], QUICK["steps"], QUICK["repeats"]
    models = [m for m in args.models.split(",") if m]
    if args.sizes:
        models = [PRESET_BY_SIZE[int(s)] for s in args.sizes.split(",") if s]
    paths = [p for p in args.paths.split(",") if p]
    unknown = sorted(set(paths) - set(PATHS))
    if unknown or "fp32" not in paths:
        parser.error(f"--paths must include fp32 (the baseline) and only {PATHS}; got {paths}")
    if args.threads:
        torch.set_num_threads(args.threads)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    load_before = os.getloadavg()
    log(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {_cpu_name()}, "
        f"load average {load_before[0]:.2f}")
    results = [bench_model(m, args.steps, paths, args.repeats, log) for m in models]
    load_after = os.getloadavg()
    print(format_tables(results))
    print(f"torch {torch.__version__} on cpu ({_cpu_name()}), {torch.get_num_threads()} threads; batch 1; "
          f"load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    if args.json:
        meta = {"torch": torch.__version__, "cpu": _cpu_name(), "threads": torch.get_num_threads(),
                "argv": sys.argv[1:] if argv is None else argv,
                "load_average_before": load_before, "load_average_after": load_after}
        args.json.write_text(json.dumps({"meta": meta, "results": [asdict(r) for r in results]},
                                        indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
