"""Quality and speed of the samplers on the served model, in the app's protocol: a face is inverted
once (with the encode's solver, grid and steps) and rendered on every slider move (with the edit's).

For each configuration (solver, grid, E inversion steps, R render steps), over aligned real faces:

- recon: SSIM of the reconstruction (amount 0) against the aligned input;
- recon/ref, edit/ref: SSIM of the reconstruction and of the edits (Smiling +0.3, Young −0.3,
  Male +0.3) against the same face rendered by DDIM with 100 inversion and 100 render steps;
- edit/2M-100: the same against DPM-Solver++(2M) with 100 + 100 steps on the quadratic grid, a
  closer approximation of the ODE's own solution than DDIM-100 (a check that edit/ref does not
  reward a configuration for sharing DDIM-100's own discretisation error);
- evals: network evaluations per render (R) and per encode (E + R, inversion + reconstruction);
- s/render, s/encode: median seconds of one batch-1 render (one edit) and one encode, all
  configurations timed side by side in interleaved rounds in this process, with the load average.

Faces: `skimage.data.astronaut()` aligned by the service's aligner (`backend.faces.align_face`),
plus the aligned faces in `$DIFFAE_SHARED/reference/data/*.png` (read here, never copied; skipped
when absent), each also mirrored. Then the cheapest configuration (fewest evaluations per render,
then per encode) that reaches today's default (DDIM-50 uniform inversion + DDIM-20 render) on both
recon and edit/ref is named.

    .venv/bin/python -m scripts.solver_quality [--threads 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from models import DiffAEPipeline
from models.evaluation.metrics import ssim, to_unit
from models.images import batch_to_tensor

MODEL = "models/weights/faces64"
EDITS = ({"Smiling": 0.3}, {"Young": -0.3}, {"Male": 0.3})
REFERENCE_STEPS = 100


@dataclass(frozen=True)
class Config:
    solver: str
    grid: str
    encode_steps: int
    render_steps: int

    @property
    def name(self) -> str:
        return f"{self.solver} {self.grid} {self.encode_steps}/{self.render_steps}"


def configs() -> list[Config]:
    rows = [Config("ddim", "uniform", 50, r) for r in (5, 10, 20, 50)]  # today's inversion
    rows += [Config("ddim", "uniform", t, t) for t in (5, 10, 20)]
    rows += [Config("ddim", g, t, t) for g in ("quadratic", "logsnr") for t in (5, 10, 20, 50)]
    for grid in ("uniform", "quadratic", "logsnr"):
        rows += [Config("dpm++2m", grid, t, t) for t in (5, 10, 20)]
        rows += [Config("dpm++2m", grid, 10, 5)] + [Config("dpm++2m", grid, 20, r) for r in (5, 10)]
    return rows


TODAY = Config("ddim", "uniform", 50, 20)


def faces(size: int, shared: Path | None, mirror: bool) -> tuple[list[str], torch.Tensor]:
    """(names, (N, 3, size, size) in [-1, 1]): the astronaut aligned like an upload, the reference
    folder's aligned faces resized with LANCZOS, and (with `mirror`) each mirrored."""
    import skimage.data

    from backend.faces import align_face

    names = ["astronaut"]
    images = [align_face(Image.fromarray(skimage.data.astronaut()), size).image]
    folder = shared / "reference" / "data" if shared is not None else None
    if folder is not None and folder.is_dir():
        for path in sorted(folder.glob("*.png")):
            names.append(path.stem)
            images.append(Image.open(path).convert("RGB").resize((size, size), Image.Resampling.LANCZOS))
    if mirror:
        names += [f"{n} (mirrored)" for n in names]
        images += [im.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for im in images]
    return names, batch_to_tensor(np.stack([np.asarray(im) for im in images]))


def render_all(pipe: DiffAEPipeline, cfg: Config, x: torch.Tensor) -> torch.Tensor:
    """(1 + len(EDITS), N, 3, H, W): the reconstruction, then every edit, of each face."""
    z, x_T = pipe.encode(x, cfg.encode_steps, solver=cfg.solver, grid=cfg.grid)
    zs = torch.cat([z] + [pipe.manipulate(z, e) for e in EDITS])
    x_Ts = x_T.repeat(1 + len(EDITS), 1, 1, 1)
    out = pipe.decode(zs, x_Ts, cfg.render_steps, solver=cfg.solver, grid=cfg.grid)
    return out.reshape(1 + len(EDITS), *x.shape)


@dataclass
class Row:
    config: str
    solver: str
    grid: str
    encode_steps: int
    render_steps: int
    recon: float
    recon_ref: float
    edit_ref: float
    edit_ref_min: float
    edit_fine: float
    evals_render: int
    evals_encode: int
    s_render: float = float("nan")
    s_encode: float = float("nan")


def quality(
    pipe: DiffAEPipeline, x: torch.Tensor, rows_to_run: list[Config], reference_steps: int
) -> list[Row]:
    ref = render_all(pipe, Config("ddim", "uniform", reference_steps, reference_steps), x)
    fine = render_all(pipe, Config("dpm++2m", "quadratic", reference_steps, reference_steps), x)
    def mean_ssim(a: torch.Tensor, b: torch.Tensor) -> float:
        return float(ssim(to_unit(a), to_unit(b)).mean())

    between = statistics.mean(mean_ssim(ref[i], fine[i]) for i in range(1, len(ref)))
    print(f"  references: DDIM-{reference_steps} recon {mean_ssim(ref[0], x):.4f}, "
          f"2M-{reference_steps} recon {mean_ssim(fine[0], x):.4f}, their edits against each other "
          f"{between:.4f}", flush=True)
    rows = []
    for cfg in rows_to_run:
        t0 = time.perf_counter()
        out = render_all(pipe, cfg, x)
        recon = ssim(to_unit(out[0]), to_unit(x))
        recon_ref = ssim(to_unit(out[0]), to_unit(ref[0]))
        edit_ref = torch.stack([ssim(to_unit(out[i]), to_unit(ref[i])) for i in range(1, len(out))])
        edit_fine = torch.stack([ssim(to_unit(out[i]), to_unit(fine[i])) for i in range(1, len(out))])
        rows.append(Row(cfg.name, cfg.solver, cfg.grid, cfg.encode_steps, cfg.render_steps,
                        float(recon.mean()), float(recon_ref.mean()), float(edit_ref.mean()),
                        float(edit_ref.min()), float(edit_fine.mean()), cfg.render_steps,
                        cfg.encode_steps + cfg.render_steps))
        print(f"  {cfg.name:28s} recon {rows[-1].recon:.4f}  edit/ref {rows[-1].edit_ref:.4f}"
              f"  ({time.perf_counter() - t0:.1f} s)", flush=True)
    return rows


def timing(pipe: DiffAEPipeline, x: torch.Tensor, rows: list[Row], rounds: int) -> list[float]:
    """Median seconds per batch-1 render and per encode of every row, interleaved; load averages."""
    x1 = x[:1]
    z, x_T = pipe.encode(x1, 10)
    z_edit = pipe.manipulate(z, EDITS[0])
    render: dict[str, list[float]] = {r.config: [] for r in rows}
    encode: dict[str, list[float]] = {r.config: [] for r in rows}
    loads = [os.getloadavg()[0]]
    pipe.decode(z_edit, x_T, 5)  # warm-up
    for _ in range(rounds):
        for r in rows:
            t0 = time.perf_counter()
            pipe.decode(z_edit, x_T, r.render_steps, solver=r.solver, grid=r.grid)
            render[r.config].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            zz, xx = pipe.encode(x1, r.encode_steps, solver=r.solver, grid=r.grid)
            pipe.decode(zz, xx, r.render_steps, solver=r.solver, grid=r.grid)
            encode[r.config].append(time.perf_counter() - t0)
        loads.append(os.getloadavg()[0])
    for r in rows:
        r.s_render = statistics.median(render[r.config])
        r.s_encode = statistics.median(encode[r.config])
    return loads


def cheapest(rows: list[Row]) -> tuple[Row, Row | None]:
    """Today's row, and the row with the fewest evaluations per render (then per encode, then the
    higher edit/ref) at least as good as today's on recon and on edit/ref."""
    today = next(r for r in rows if r.config == TODAY.name)
    good = [r for r in rows if r.recon >= today.recon and r.edit_ref >= today.edit_ref]
    good.sort(key=lambda r: (r.evals_render, r.evals_encode, -r.edit_ref))
    return today, (good[0] if good else None)


def table(rows: list[Row]) -> str:
    head = ("| solver | grid | inversion / render steps | recon SSIM | recon vs ref | edit vs ref (min) | "
            "edit vs 2M-100 | evals / render | evals / encode | s / render | s / encode |\n"
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    lines = [head]
    for r in rows:
        lines.append(f"| {r.solver} | {r.grid} | {r.encode_steps} / {r.render_steps} | {r.recon:.4f} | "
                     f"{r.recon_ref:.4f} | {r.edit_ref:.4f} ({r.edit_ref_min:.3f}) | {r.edit_fine:.4f} | "
                     f"{r.evals_render} | "
                     f"{r.evals_encode} | {r.s_render:.3f} | {r.s_encode:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=MODEL)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5, help="timing rounds (0: no timing)")
    parser.add_argument("--shared", type=Path, default=Path(os.environ.get("DIFFAE_SHARED", "/work/shared")))
    parser.add_argument("--no-mirror", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: today's row and one solver row, reference at 20 steps, no mirrors")
    args = parser.parse_args(argv)
    rows_to_run = configs() if not args.quick else [TODAY, Config("dpm++2m", "quadratic", 10, 10)]
    reference_steps = 20 if args.quick else REFERENCE_STEPS

    torch.set_num_threads(args.threads)
    pipe = DiffAEPipeline.from_pretrained(args.model, device="cpu")
    names, x = faces(pipe.image_size, args.shared, not (args.no_mirror or args.quick))
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    print(f"model {args.model} ({pipe.config.preset}, {pipe.dtype}), {len(names)} faces: {', '.join(names)}")
    print(f"reference: DDIM {reference_steps}/{reference_steps} uniform; edits {list(EDITS)}")
    print(f"CPU {cpu}, {os.cpu_count()} cores, torch {torch.__version__}, {args.threads} threads, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    with torch.inference_mode():
        rows = quality(pipe, x, rows_to_run, reference_steps)
        loads = timing(pipe, x, rows, args.rounds) if args.rounds else []
    print()
    print(table(rows))
    if loads:
        print(f"\ntiming: {args.rounds} interleaved rounds, 1-min load average "
              f"{min(loads):.2f}-{max(loads):.2f} (per round: {', '.join(f'{v:.2f}' for v in loads)})")
    today, best = cheapest(rows)
    print(f"today ({today.config}): recon {today.recon:.4f}, edit/ref {today.edit_ref:.4f}, "
          f"{today.evals_render} evals/render, {today.evals_encode} evals/encode")
    if best is None:
        print("no configuration reaches today's quality with fewer evaluations")
    else:
        print(f"cheapest at today's quality: {best.config}: recon {best.recon:.4f}, edit/ref "
              f"{best.edit_ref:.4f}, {best.evals_render} evals/render, {best.evals_encode} evals/encode")
    if args.json:
        args.json.write_text(json.dumps({"faces": names, "loads": loads, "rows": [asdict(r) for r in rows],
                                         "best": best.config if best else None}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
