r"""Golden-vector parity against the official implementation.

    python -m models.conversion.parity golden_small.pt

A golden file holds a small model of the official architecture (its official config, state
dicts and inputs) and every output the official code computed from them: z_sem, ε, DDIM render,
inversion and reconstruction (with trajectories), latent ε and latent sampling, the sampled
image, and the schedules (layout: docs/official.md, "Golden vectors"). `run_parity` rebuilds the
networks from the file's `config`, loads its state dicts strictly, recomputes every stored
output from the stored inputs (each stage from the *stored* inputs of that stage: the
reconstruction from the stored inversion, the sampled image from the stored latent sample) and
reports max-abs / mean-abs errors; the CLI exits 0 only if every row passes. It works for any
file of the golden layout (sizes, heads, attention resolutions and step counts are read from
the file).

Tolerances (`_tolerance`), max-abs unless stated; float noise measured on the official code
itself (1 thread against 2, an independent re-derivation, 1e-6 input perturbations) is well
below each bound, and real bugs are far above (sin/cos swapped in the time embedding moves ε by
0.066, t + 1 by 0.014):

| quantity | bound |
|---|---|
| z_sem, ε, latent ε | 5e-5 |
| inversion (and its trajectory) | 1e-3 |
| render, sampled image (and the render trajectory) | 5e-3, and 1e-4 mean-abs |
| reconstruction (DDIM amplifies float noise chaotically) | 2e-2, and 1e-3 mean-abs |
| latent sample (values ~±200 for random weights) | 1e-4 × max \|reference\| |
| schedules | 1e-12 |
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from models.checkpoint import load_strict
from models.config import autoencoder_from_official, latent_net_from_official
from models.ddim import ddim_invert, ddim_sample
from models.latent_net import LatentMLP
from models.schedule import Schedule, alphas_cumprod, make_betas, respaced_timesteps
from models.unet import DiffAEUNet


@dataclass(frozen=True)
class Row:
    name: str
    max_abs: float
    mean_abs: float
    max_bound: float
    mean_bound: float | None = None

    @property
    def ok(self) -> bool:
        mean_ok = self.mean_bound is None or self.mean_abs <= self.mean_bound
        return self.max_abs <= self.max_bound and mean_ok


def _tolerance(name: str, ref: torch.Tensor) -> tuple[float, float | None]:
    """The bounds (max-abs, optional mean-abs) of an output key (module docstring)."""
    base = name.split("[")[0]
    if base.startswith("latent_sample"):
        return 1e-4 * float(ref.abs().max()), None
    if base.startswith("recon"):
        return 2e-2, 1e-3
    if base.startswith(("render", "sample_img")):
        return 5e-3, 1e-4
    if base.startswith("encode"):
        return 1e-3, None
    if base.startswith("schedule."):
        return 1e-12, None
    return 5e-5, None  # z_sem, eps, latent_eps


def _compare(name: str, got: torch.Tensor, ref: torch.Tensor) -> Row:
    if got.shape != ref.shape:
        raise ValueError(f"{name}: shape {tuple(got.shape)} != golden {tuple(ref.shape)}")
    diff = (got.double() - ref.double()).abs()
    max_b, mean_b = _tolerance(name, ref)
    return Row(name, float(diff.max()), float(diff.mean()), max_b, mean_b)


def _collector(store: list[torch.Tensor]) -> Callable[[int, int, torch.Tensor, torch.Tensor], None]:
    return lambda _i, _n, x, _x0: store.append(x.clone())


def run_parity(golden: dict[str, Any]) -> list[Row]:
    """Recompute every output of a golden dict (module docstring) and compare."""
    cfg = golden["config"]
    inputs, outputs, sched = golden["inputs"], golden["outputs"], golden["schedule"]
    torch.manual_seed(0)
    unet = DiffAEUNet(autoencoder_from_official(cfg["autoencoder"])).eval()
    load_strict(unet, golden["state_dict"], "golden state_dict")
    latent = LatentMLP(latent_net_from_official(cfg["latent_net"])).eval()
    load_strict(latent, golden["latent_state_dict"], "golden latent_state_dict", LatentMLP.ALIASES)
    diff_cfg, lat_cfg = cfg["diffusion"], cfg["latent_diffusion"]
    T = diff_cfg["T"]
    rows: list[Row] = []

    def eps_fn(z: torch.Tensor) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        return lambda x, t: unet(x, t, z)

    def lat_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return latent(x, t)

    # Schedules: full-length betas / ᾱ and every stored respacing.
    betas = make_betas(diff_cfg["beta_schedule"], T)
    lat_betas = make_betas(lat_cfg["beta_schedule"], lat_cfg["T"])
    for key, mine in (("betas", betas),
                      ("alphas_cumprod", alphas_cumprod(diff_cfg["beta_schedule"], T)),
                      ("latent_betas", lat_betas),
                      ("latent_alphas_cumprod", alphas_cumprod(lat_cfg["beta_schedule"], lat_cfg["T"]))):
        rows.append(_compare(f"schedule.{key}", torch.from_numpy(mine), torch.as_tensor(sched[key])))
    for key in sorted(sched):
        m = re.fullmatch(r"timesteps_T(\d+)", key)
        if not m:
            continue
        n = int(m.group(1))
        img = Schedule.create(diff_cfg["beta_schedule"], n, T)
        lat = Schedule.create(lat_cfg["beta_schedule"], n, lat_cfg["T"])
        got_tau = torch.from_numpy(respaced_timesteps(n, T))
        rows.append(_compare(f"schedule.timesteps_T{n}", got_tau, torch.as_tensor(sched[key])))
        for name, mine in ((f"alphas_cumprod_T{n}", img.alphas_cumprod), (f"betas_T{n}", img.betas),
                           (f"latent_alphas_cumprod_T{n}", lat.alphas_cumprod)):
            if name in sched:
                rows.append(_compare(f"schedule.{name}", torch.from_numpy(mine),
                                     torch.as_tensor(sched[name])))

    with torch.no_grad():
        z_ref = outputs["z_sem"]
        rows.append(_compare("z_sem", unet.encode(inputs["x"]), z_ref))
        rows.append(_compare("eps", unet(inputs["x_t"], inputs["t"], z_ref), outputs["eps"]))
        rows.append(_compare("latent_eps", latent(inputs["latent_x"], inputs["latent_t"]),
                             outputs["latent_eps"]))
        for key in sorted(outputs):
            m = re.fullmatch(r"render_T(\d+)", key)
            if not m:
                continue
            n = int(m.group(1))
            s = Schedule.create(diff_cfg["beta_schedule"], n, T)
            clip = diff_cfg.get("clip_denoised", True)
            traj: list[torch.Tensor] = []
            got = ddim_sample(eps_fn(z_ref), inputs["x_T"], s, clip=clip, callback=_collector(traj))
            rows.append(_compare(f"render_T{n}", got, outputs[key]))
            if f"render_T{n}_traj" in outputs:
                rows.append(_compare(f"render_T{n}_traj", torch.stack(traj),
                                     outputs[f"render_T{n}_traj"]))
            traj = []
            got = ddim_invert(eps_fn(z_ref), inputs["x"], s, clip=clip, callback=_collector(traj))
            rows.append(_compare(f"encode_T{n}", got, outputs[f"encode_T{n}"]))
            if f"encode_T{n}_traj" in outputs:
                rows.append(_compare(f"encode_T{n}_traj", torch.stack(traj),
                                     outputs[f"encode_T{n}_traj"]))
            got = ddim_sample(eps_fn(z_ref), outputs[f"encode_T{n}"], s, clip=clip)
            rows.append(_compare(f"recon_T{n}", got, outputs[f"recon_T{n}"]))
            ls = Schedule.create(lat_cfg["beta_schedule"], n, lat_cfg["T"])
            z_n = ddim_sample(lat_fn, inputs["latent_noise"], ls,
                              clip=lat_cfg.get("clip_denoised", False))
            rows.append(_compare(f"latent_sample_T{n}_normalized", z_n,
                                 outputs[f"latent_sample_T{n}_normalized"]))
            z = z_n * inputs["conds_std"] + inputs["conds_mean"]
            rows.append(_compare(f"latent_sample_T{n}", z, outputs[f"latent_sample_T{n}"]))
            got = ddim_sample(eps_fn(outputs[f"latent_sample_T{n}"]), inputs["sample_x_T"], s,
                              clip=clip)
            rows.append(_compare(f"sample_img_T{n}", got, outputs[f"sample_img_T{n}"]))
    return rows


def format_table(rows: list[Row]) -> str:
    lines = [
        "| quantity | max-abs | mean-abs | bound (max / mean) | ok |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        bound = f"{r.max_bound:.1e}" + (f" / {r.mean_bound:.1e}" if r.mean_bound is not None else "")
        lines.append(f"| {r.name} | {r.max_abs:.2e} | {r.mean_abs:.2e} | {bound} | "
                     f"{'pass' if r.ok else 'FAIL'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.conversion.parity",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("golden", type=Path, help="a golden file (module docstring)")
    args = parser.parse_args(argv)
    golden = torch.load(args.golden, map_location="cpu", weights_only=True)
    rows = run_parity(golden)
    print(format_table(rows))
    failed = [r.name for r in rows if not r.ok]
    print(f"\n{len(rows) - len(failed)} of {len(rows)} checks pass"
          + (f"; failing: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
