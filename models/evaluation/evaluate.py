"""Evaluate a DiffAE model on held-out generated faces: the paper's reconstruction table, attribute
classifier AUROC, edit success and leakage, and figures.

    python -m models.evaluation.evaluate --model models/weights/demo64 [--out docs/evaluation] [--n 64]
        [--steps 10,20,50,100] [--amount 0.3] [--edit-steps 20] [--seed 0]

Faces are `facegen` TEST_SEEDS (never seen in training) at the model's image size. Writes
`metrics.json`, `README.md` and PNGs (`reconstruction.png`, `samples.png`, `edits_<i>.png`).

Metrics (OFFICIAL.md §8): SSIM (11×11 Gaussian window, σ = 1.5, zero padding, C1 = 0.01², C2 = 0.03²)
and MSE on images mapped to [0, 1], one value per image, averaged. Reconstruction at each T:
"inverted" = encode(x, T) then decode(z_sem, x_T, T); "random" = decode(z_sem, x_T ~ N(0, I), T);
"fine_inverted" (a diagnostic, not in the paper) = decode(z_sem, x_T from the largest T's inversion, T).

Edits (official recipe, OFFICIAL.md §5.1): x_T is inverted from the original z_sem with T_edit steps,
the edited z_sem' is decoded from that x_T, and the result is re-encoded to read the classifier's
logits. Every change is relative to the re-encoded logits of the unedited reconstruction decoded the
same way. Changes are in log-odds, the classifier's own unit.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from sklearn.metrics import roc_auc_score
from torch import nn

from models.evaluation.diagnostics import PROBE_TIMESTEPS, semantic_reliance
from models.facegen import drawn as facegen
from models.layers import AttentionBlock
from models.pipeline import DiffAEPipeline, default_device, fast_dtype

SSIM_C1, SSIM_C2 = 0.01**2, 0.03**2
FIGURE_FACES = 8  # columns of the reconstruction figure


# ---------------------------------------------------------------------------------- metrics
def gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """(size, size) float32 Gaussian window summing to 1 (outer product of the 1-D one)."""
    x = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return torch.outer(g, g).float()


def ssim_map(x: torch.Tensor, y: torch.Tensor, size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """The SSIM map (B, C, H, W) of images x, y (B, C, H, W) in [0, 1]: local statistics from a
    depthwise Gaussian conv with zero padding (size // 2), so the map has the input's size."""
    if x.shape != y.shape or x.dim() != 4:
        raise ValueError(f"expected two (B, C, H, W) tensors of one shape, got {tuple(x.shape)}, "
                         f"{tuple(y.shape)}")
    c = x.shape[1]
    w = gaussian_window(size, sigma).to(x.device, x.dtype).expand(c, 1, size, size)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, w, padding=size // 2, groups=c)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    return ((2 * mu_x * mu_y + SSIM_C1) * (2 * cov + SSIM_C2)) / (
        (mu_x**2 + mu_y**2 + SSIM_C1) * (var_x + var_y + SSIM_C2)
    )


def ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM (B,) of (B, C, H, W) images in [0, 1]: the map averaged over C, H, W."""
    return ssim_map(x, y).mean(dim=(1, 2, 3))


def mse(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image mean squared error (B,) of (B, C, H, W) images in [0, 1]."""
    return (x - y).pow(2).mean(dim=(1, 2, 3))


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] model range → [0, 1], clamped."""
    return ((x.float() + 1) / 2).clamp(0, 1)


def auroc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC AUC of scores against binary labels; None when the labels hold a single class."""
    if labels.all() or not labels.any():
        return None
    return float(roc_auc_score(labels, scores))


# ---------------------------------------------------------------------------------- cost
def unet_evaluations(
    n: int, steps: Sequence[int], edit_steps: int, attributes: int, amounts: int, edit_n: int,
    strip_faces: int, strip_columns: int, samples: int,
) -> dict[str, int]:
    """UNet evaluations (images × DDIM steps) that `evaluate` will run, by part."""
    edit_n, strip_faces = (edit_n, strip_faces) if attributes else (0, 0)
    baseline = 0
    if edit_steps not in steps:  # x_T for edits and strips, and the unedited reconstruction
        baseline = (max(edit_n, strip_faces) + edit_n) * edit_steps
    parts = {
        # inversion + decode from it + from random x_T, and every T below the largest also decodes
        # the largest T's x_T ("fine-inverted")
        "reconstruction": 3 * n * sum(steps) + n * (sum(steps) - max(steps, default=0)),
        "edit_baseline": baseline,
        "edits": 2 * attributes * amounts * edit_n * edit_steps,
        "edit_strips": strip_faces * attributes * strip_columns * edit_steps,
        "samples": samples * edit_steps,
        "semantic_reliance": 2 * n * len(PROBE_TIMESTEPS) if n >= 2 else 0,  # own and swapped z_sem
    }
    return {**parts, "total": sum(parts.values())}


def unet_gflops(pipe: DiffAEPipeline) -> float:
    """GFLOP (2 × multiply-adds of convs, linears and attention products) of one UNet evaluation
    of one image; counted with forward hooks (torch's FlopCounterMode would import dynamo, ~4 s)."""
    flops = 0

    def conv_or_linear(m: nn.Module, _inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal flops
        if isinstance(m, nn.Linear):
            flops += 2 * out.numel() * m.in_features
        elif isinstance(m, nn.Conv1d | nn.Conv2d):
            flops += 2 * out.numel() * (m.in_channels // m.groups) * math.prod(m.kernel_size)

    def attention(_m: nn.Module, inp: tuple[torch.Tensor, ...], _out: torch.Tensor) -> None:
        nonlocal flops
        b, c, h, w = inp[0].shape
        flops += 4 * b * c * (h * w) ** 2  # q·kᵀ and softmax·v

    encoder = {id(m) for m in pipe.autoencoder.encoder.modules()}
    hooks = [m.register_forward_hook(attention if isinstance(m, AttentionBlock) else conv_or_linear)
             for m in pipe.autoencoder.modules()
             if isinstance(m, nn.Linear | nn.Conv1d | nn.Conv2d | AttentionBlock) and id(m) not in encoder]
    s = pipe.image_size
    try:
        with torch.inference_mode():
            pipe.autoencoder(torch.zeros(1, 3, s, s, device=pipe.device),
                             torch.zeros(1, dtype=torch.long, device=pipe.device),
                             torch.zeros(1, pipe.z_dim, device=pipe.device))
    finally:
        for h in hooks:
            h.remove()
    return flops / 1e9


class _Meter:
    """Counts UNet evaluations and prints progress with an ETA at most every few seconds."""

    def __init__(self, total: int, verbose: bool, every_s: float = 10.0) -> None:
        self.total, self.verbose, self.every_s = total, verbose, every_s
        self.done = 0
        self.t0 = self.last = time.perf_counter()

    def add(self, k: int, label: str = "") -> None:
        self.done += k
        now = time.perf_counter()
        if self.verbose and (now - self.last >= self.every_s or self.done >= self.total):
            self.last = now
            rate = self.done / max(now - self.t0, 1e-9)
            eta = (self.total - self.done) / rate if rate > 0 else math.inf
            print(f"  {self.done}/{self.total} UNet evaluations ({100 * self.done / self.total:.0f}%), "
                  f"{now - self.t0:.0f} s, {rate:.1f}/s, ETA {eta:.0f} s {label}", flush=True)

    def progress(self, batch: int, label: str) -> Callable[[int, int], None]:
        return lambda _done, _total: self.add(batch, label)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.t0


# ---------------------------------------------------------------------------------- batching
def _chunks(n: int, batch: int) -> list[slice]:
    return [slice(i, min(i + batch, n)) for i in range(0, n, batch)]


def _encode_semantic(pipe: DiffAEPipeline, x: torch.Tensor, batch: int) -> torch.Tensor:
    return torch.cat([pipe.encode_semantic(x[s]).cpu() for s in _chunks(len(x), batch)])


def _invert(pipe: DiffAEPipeline, x: torch.Tensor, steps: int, batch: int,
            meter: _Meter) -> tuple[torch.Tensor, torch.Tensor]:
    zs, xts = [], []
    for s in _chunks(len(x), batch):
        z, x_T = pipe.encode(x[s], steps, meter.progress(len(x[s]), f"(invert, T={steps})"))
        zs.append(z.cpu())
        xts.append(x_T.cpu())
    return torch.cat(zs), torch.cat(xts)


def _decode(pipe: DiffAEPipeline, z: torch.Tensor, x_T: torch.Tensor, steps: int, batch: int,
            meter: _Meter, label: str) -> torch.Tensor:
    return torch.cat([
        pipe.decode(z[s], x_T[s], steps, meter.progress(len(z[s]), label)).cpu()
        for s in _chunks(len(z), batch)
    ])


def _reencoded_scores(pipe: DiffAEPipeline, z: torch.Tensor, x_T: torch.Tensor, steps: int,
                      batch: int, meter: _Meter) -> torch.Tensor:
    """Classifier logits (N, K) of Enc(decode(z, x_T)), chunk by chunk (images are not kept)."""
    out = []
    for s in _chunks(len(z), batch):
        x = pipe.decode(z[s], x_T[s], steps, meter.progress(len(z[s]), f"(edits, T={steps})"))
        out.append(pipe.attribute_scores(pipe.encode_semantic(x)).cpu())
    return torch.cat(out)


# ---------------------------------------------------------------------------------- evaluation
@dataclass
class Evaluation:
    metrics: dict[str, Any]  # JSON-ready (metrics.json)
    figures: dict[str, Image.Image] = field(default_factory=dict)  # file name → image


def held_out_faces(n: int, size: int, workers: int = 1) -> tuple[torch.Tensor, np.ndarray]:
    """The first n facegen TEST_SEEDS faces: (N, 3, size, size) in [-1, 1] and (N, K) labels in
    [0, 1] in `facegen.ATTRIBUTES` order."""
    from models.training.cli import facegen_images, to_model_range

    images, labels = facegen_images(n, size, test=True, workers=workers)
    return to_model_range(images), labels


def evaluate(
    pipe: DiffAEPipeline,
    n: int = 64,
    steps: Sequence[int] = (10, 20, 50, 100),
    amounts: Sequence[float] = (0.3,),
    edit_steps: int = 20,
    seed: int = 0,
    *,
    batch: int = 32,
    edit_n: int | None = None,
    strip_faces: int = 1,
    strip_amounts: Sequence[float] = (-0.5, -1 / 3, -1 / 6, 0.0, 1 / 6, 1 / 3, 0.5),
    samples: int = 16,
    latent_steps: int = 200,
    workers: int = 1,
    verbose: bool = True,
) -> Evaluation:
    """Run the whole evaluation on the first n held-out faces.

    Args:
        pipe: the model; its classifier (if any) gives the attributes to evaluate.
        n: held-out faces. steps: T values of the reconstruction table.
        amounts: edit amplitudes a > 0; every edit is tried at +a and −a.
        edit_steps: T for inversion and decoding of edits, strips and samples.
        seed: seeds the random x_T of the "random" reconstruction and the samples.
        batch: images per network call. edit_n: faces for the edit metrics (the first edit_n;
            default all n): edits cost 2·K·len(amounts)·edit_steps UNet evaluations per face.
        strip_faces: faces with an edit-strip figure.
        strip_amounts: strip columns. samples: unconditional samples (if the model can sample).
    Returns:
        `Evaluation` with the JSON-ready metrics and the figures.
    """
    steps = sorted({int(t) for t in steps})
    amounts = [float(a) for a in amounts]
    for t in [*steps, edit_steps]:
        pipe.schedule(t)  # refuses an illegal step count before any work is done
    if n < 1 or (edit_n is not None and edit_n < 1) or not steps or not amounts or min(amounts) <= 0:
        raise ValueError(f"need n ≥ 1, edit_n ≥ 1, at least one T and amounts > 0; got n={n}, "
                         f"edit_n={edit_n}, steps={steps}, amounts={amounts}")
    names = pipe.attributes
    edit_n = min(n if edit_n is None else edit_n, n) if names else 0
    strip_faces = min(strip_faces, n) if names and strip_amounts else 0
    samples = samples if pipe.can_sample else 0
    cost = unet_evaluations(n, steps, edit_steps, len(names), len(amounts), edit_n, strip_faces,
                            len(strip_amounts), samples)
    gflops = unet_gflops(pipe)
    log = _printer(verbose)
    log(f"evaluating {pipe.config.preset!r} ({pipe.image_size} px, {pipe.dtype}) on {n} held-out faces: "
        f"{cost['total']} UNet evaluations ({gflops:.2f} GFLOP each, {cost['total'] * gflops / 1e3:.1f} "
        f"TFLOP): " + ", ".join(f"{k} {v}" for k, v in cost.items() if k != "total"))
    meter = _Meter(cost["total"], verbose)

    x_0, values = held_out_faces(n, pipe.image_size, workers)
    x_unit = to_unit(x_0)
    x_rand = torch.randn(x_0.shape, generator=torch.Generator().manual_seed(seed))
    figures: dict[str, Image.Image] = {}
    recon_rows: list[tuple[str, torch.Tensor]] = [("original", x_0[:FIGURE_FACES])]
    rand_rows: list[tuple[str, torch.Tensor]] = []

    # ---- reconstruction table
    # "fine-inverted": x_T from the finest inversion of the table, decoded with each T. It tells
    # the decoder's few-step error apart from the inversion's: at small T, DDIM inversion is the
    # weaker half of the round trip (models/weights/demo64/README.md).
    table: list[dict[str, Any]] = []
    base = None
    z_sem, x_T_fine = _invert(pipe, x_0, steps[-1], batch, meter)  # z_sem is the same for every T
    for t in steps:
        x_T = x_T_fine if t == steps[-1] else _invert(pipe, x_0, t, batch, meter)[1]
        inv = _decode(pipe, z_sem, x_T, t, batch, meter, f"(inverted x_T, T={t})")
        rnd = _decode(pipe, z_sem, x_rand, t, batch, meter, f"(random x_T, T={t})")
        fine = inv if t == steps[-1] else _decode(pipe, z_sem, x_T_fine, t, batch, meter,
                                                  f"(x_T from T={steps[-1]}, T={t})")
        row: dict[str, Any] = {"steps": t}
        for mode, x_hat in (("inverted", inv), ("random", rnd), ("fine_inverted", fine)):
            s, m = ssim(to_unit(x_hat), x_unit), mse(to_unit(x_hat), x_unit)
            psnr = -10 * torch.log10(m.clamp_min(1e-10))
            row[mode] = {"ssim": s.mean().item(), "mse": m.mean().item(), "psnr": psnr.mean().item()}
        table.append(row)
        recon_rows.append((f"inverted x_T, T={t}", inv[:FIGURE_FACES]))
        rand_rows.append((f"random x_T, T={t}", rnd[:FIGURE_FACES]))
        if t == edit_steps:
            base = (x_T, inv[:edit_n])
    figures["reconstruction.png"] = image_grid(recon_rows + rand_rows)
    reliance = semantic_reliance(pipe, x_0, z_sem, seed=seed) if n >= 2 else []
    meter.add(cost["semantic_reliance"], "(semantic reliance)")
    if base is None and names:
        x_T = _invert(pipe, x_0[:max(edit_n, strip_faces)], edit_steps, batch, meter)[1]
        base = (x_T, _decode(pipe, z_sem[:edit_n], x_T[:edit_n], edit_steps, batch, meter,
                             f"(baseline, T={edit_steps})"))

    # ---- attributes
    attributes: dict[str, Any] = {}
    if names and base is not None:
        scores = pipe.attribute_scores(z_sem).cpu().numpy()
        z_e, x_T_e = z_sem[:edit_n], base[0][:edit_n]
        s0 = pipe.attribute_scores(_encode_semantic(pipe, base[1], batch)).cpu()  # (edit_n, K)
        for k, name in enumerate(names):
            entry: dict[str, Any] = {"auroc": None, "positive_rate": None, "edits": []}
            if name in facegen.ATTRIBUTES:
                y = values[:, facegen.ATTRIBUTES.index(name)] > 0.5
                entry["auroc"], entry["positive_rate"] = auroc(y, scores[:, k]), float(y.mean())
            attributes[name] = entry
        w = pipe.classifier.weight.detach().cpu() if pipe.classifier is not None else None
        for a in amounts:
            # One batch holds every (attribute, sign, face): rows ordered [k][sign][face].
            z_edit = torch.cat([pipe.manipulate(z_e, {name: sign * a}).cpu()
                                for name in names for sign in (1.0, -1.0)])
            d = _reencoded_scores(pipe, z_edit, x_T_e.repeat(2 * len(names), 1, 1, 1),
                                  edit_steps, batch, meter)
            d = d.view(len(names), 2, edit_n, len(names)) - s0  # vs the unedited reconstruction
            for k, name in enumerate(names):
                attributes[name]["edits"].append(_edit_stats(d[k], k, a, w))

    # ---- figures
    if strip_faces and base is not None:
        z_f, x_T_f = z_sem[:strip_faces], base[0][:strip_faces]
        grid = [(name, pipe.manipulate(z_f, {name: float(a)}).cpu())
                for name in names for a in strip_amounts]  # [k][column] → (F, D)
        z_strip = torch.stack([z for _, z in grid], dim=1)  # (F, K·C, D)
        for f in range(strip_faces):
            x = _decode(pipe, z_strip[f], x_T_f[f:f + 1].expand(len(grid), -1, -1, -1),
                        edit_steps, batch, meter, f"(edit strip {f})")
            x = x.view(len(names), len(strip_amounts), *x.shape[1:])
            rows = [(name, torch.cat([x_0[f:f + 1], x[k]])) for k, name in enumerate(names)]
            header = ["original", *(f"{a:+.2f}" for a in strip_amounts)]
            figures[f"edits_{f}.png"] = image_grid(rows, header)
    if samples:
        imgs = pipe.sample(samples, edit_steps, latent_steps,
                           generator=torch.Generator().manual_seed(seed)).cpu()
        meter.add(samples * edit_steps, "(samples)")
        figures["samples.png"] = image_grid([("", imgs[i:i + 8]) for i in range(0, samples, 8)])

    metrics = {
        "model": {"preset": pipe.config.preset, "image_size": pipe.image_size, "z_dim": pipe.z_dim,
                  "dtype": str(pipe.dtype).removeprefix("torch."), "device": str(pipe.device),
                  "attributes": list(names), "can_sample": pipe.can_sample},
        "data": {"source": "facegen TEST_SEEDS", "seeds": [facegen.TEST_SEEDS.start,
                                                           facegen.TEST_SEEDS.start + n], "n": n},
        "settings": {"steps": steps, "fine_inversion_steps": steps[-1], "edit_steps": edit_steps,
                     "amounts": amounts, "edit_n": edit_n,
                     "seed": seed,
                     "strip_amounts": [float(a) for a in strip_amounts], "samples": samples,
                     "latent_steps": latent_steps},
        "cost": {"unet_evaluations": cost, "unet_evaluations_run": meter.done, "unet_gflop": gflops,
                 "seconds": meter.seconds},
        "reconstruction": table,
        "semantic_reliance": reliance,
        "attributes": attributes,
        "summary": _summary(table, attributes, amounts),
    }
    log(f"done in {meter.seconds:.0f} s")
    return Evaluation(metrics, figures)


def _printer(verbose: bool) -> Callable[[str], None]:
    return (lambda msg: print(msg, flush=True)) if verbose else (lambda _msg: None)


def _edit_stats(d: torch.Tensor, k: int, amount: float, weight: torch.Tensor | None) -> dict[str, Any]:
    """Statistics of one attribute's edit from logit changes d (2, N, K): [+a, −a] × faces."""
    push, pull = d[0, :, k], d[1, :, k]
    others = torch.cat([d[..., :k], d[..., k + 1:]], dim=-1)  # (2, N, K−1)
    target = (push.abs().mean() + pull.abs().mean()).item() / 2
    leakage = others.abs().mean().item() if others.numel() else 0.0
    out = {
        "amount": amount,
        "success": ((push > 0) & (pull < 0)).float().mean().item(),
        "push_success": (push > 0).float().mean().item(),
        "pull_success": (pull < 0).float().mean().item(),
        "target_change_push": push.mean().item(),
        "target_change_pull": pull.mean().item(),
        "target_change": target,
        "leakage": leakage,
        "leakage_ratio": leakage / target if target > 0 else None,
    }
    if weight is not None:
        # What the edit does to the logit before decoding: a·√D·‖w_k‖ (the linear classifier).
        out["latent_target_change"] = amount * math.sqrt(weight.shape[1]) * weight[k].norm().item()
    return out


def _mean(xs: Sequence[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return float(np.mean(vals)) if vals else None


def _summary(table: list[dict[str, Any]], attributes: dict[str, Any],
             amounts: Sequence[float]) -> dict[str, Any]:
    out: dict[str, Any] = {"auroc_mean": _mean([a["auroc"] for a in attributes.values()])}
    out["edits"] = [
        {"amount": a,
         "success_mean": _mean([v["edits"][i]["success"] for v in attributes.values()]),
         "leakage_ratio_mean": _mean([v["edits"][i]["leakage_ratio"] for v in attributes.values()])}
        for i, a in enumerate(amounts)
    ] if attributes else []
    out["best_inverted_ssim"] = max(r["inverted"]["ssim"] for r in table)
    return out


# ---------------------------------------------------------------------------------- figures
def _zoom(size: int) -> int:
    return max(1, 128 // size)


def image_grid(rows: Sequence[tuple[str, torch.Tensor]], header: Sequence[str] | None = None,
               gap: int = 2) -> Image.Image:
    """Rows of (label, (M, 3, H, W) images in [-1, 1]) as one labelled PNG; small images are
    upscaled (NEAREST) to ~128 px so they are viewable."""
    h, w = rows[0][1].shape[-2:]
    zoom = _zoom(max(h, w))
    cell_h, cell_w = h * zoom + gap, w * zoom + gap
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    labels = [label for label, _ in rows] + list(header or [])
    margin = int(max((probe.textlength(s) for s in labels if s), default=0)) + 12 if any(labels) else gap
    top = 16 if header else gap
    cols = max(len(x) for _, x in rows)
    out = Image.new("RGB", (margin + cols * cell_w, top + len(rows) * cell_h), (255, 255, 255))
    draw = ImageDraw.Draw(out)
    for c, text in enumerate(header or []):
        draw.text((margin + c * cell_w + 2, 2), text, fill=(0, 0, 0))
    for r, (label, x) in enumerate(rows):
        y0 = top + r * cell_h
        draw.text((4, y0 + cell_h // 2 - 6), label, fill=(0, 0, 0))
        arr = (to_unit(x).permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
        for c, img in enumerate(arr):
            tile = Image.fromarray(img).resize((w * zoom, h * zoom), Image.Resampling.NEAREST)
            out.paste(tile, (margin + c * cell_w, y0))
    return out


# ---------------------------------------------------------------------------------- report
def _fmt(x: float | None, spec: str = ".3f") -> str:
    return "–" if x is None else format(x, spec)


def render_markdown(metrics: dict[str, Any], figures: Sequence[str]) -> str:
    m, st = metrics["model"], metrics["settings"]
    cost = metrics["cost"]
    lines = [
        f"# Evaluation of `{m['preset']}`",
        "",
        f"{metrics['data']['n']} held-out generated faces ({metrics['data']['source']} "
        f"{metrics['data']['seeds'][0]}…{metrics['data']['seeds'][1] - 1}) at {m['image_size']} px; "
        f"{m['dtype']} on {m['device']}; {cost['unet_evaluations']['total']} UNet evaluations "
        f"({cost['unet_gflop']:.2f} GFLOP each) in {cost['seconds']:.0f} s. "
        "Written by `python -m models.evaluation.evaluate`; numbers in `metrics.json`.",
        "",
        "## Reconstruction",
        "",
        "SSIM (11×11 Gaussian window, σ = 1.5) and MSE on [0, 1] images, per image then averaged "
        "(OFFICIAL.md §8). *Inverted*: x_T from DDIM inversion with the same T; *random*: "
        f"x_T ~ N(0, I) (seed {st['seed']}), i.e. z_sem alone. *Fine-inverted* (not in the "
        f"paper): x_T from the T = {st['fine_inversion_steps']} inversion, decoded with T; it "
        "separates the decoder's few-step error from the inversion's.",
        "",
        "| T | SSIM inverted | MSE inverted | SSIM random | MSE random | SSIM fine-inverted | "
        "MSE fine-inverted |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in metrics["reconstruction"]:
        i, q, f = r["inverted"], r["random"], r["fine_inverted"]
        lines.append(f"| {r['steps']} | {i['ssim']:.4f} | {i['mse']:.5f} | {q['ssim']:.4f} | "
                     f"{q['mse']:.5f} | {f['ssim']:.4f} | {f['mse']:.5f} |")
    if metrics.get("semantic_reliance"):
        lines += [
            "",
            "## Does the decoder use z_sem?",
            "",
            "One-step estimate x̂_0 from x_t with the face's own z_sem and with another face's "
            "(`models/diagnostics.py`): MSE against x_0 on [−1, 1], and *gain* = 1 − own/swapped, "
            "the share of the error the right z_sem removes. Near 0 at every t means z_sem is "
            "ignored (and no z_sem edit can show).",
            "",
            "| t | MSE own z_sem | MSE swapped z_sem | gain |",
            "|---:|---:|---:|---:|",
        ]
        for r in metrics["semantic_reliance"]:
            lines.append(f"| {r['t']} | {r['mse_own']:.4f} | {r['mse_swapped']:.4f} | {r['gain']:.3f} |")
    attrs = metrics["attributes"]
    if attrs:
        lines += [
            "",
            "## Attributes",
            "",
            "AUROC of the classifier on the held-out faces' z_sem against the generator's labels "
            f"(value > 0.5), all {metrics['data']['n']} faces. Edits, on the first {st['edit_n']} "
            "faces: x_T inverted from the original z_sem with "
            f"T = {st['edit_steps']}, z_sem' decoded with the same x_T and T, then re-encoded. "
            "*Success*: share of faces whose re-encoded logit rises at +a **and** falls at −a, both "
            "relative to the re-encoded unedited reconstruction. *Δ target*: mean |logit change| "
            "of the attribute (log-odds); *leakage*: mean |logit change| of the other attributes; "
            "*ratio* = leakage / Δ target (lower is more disentangled). *Latent Δ*: the logit "
            "change the edit makes in z_sem before decoding (a·√D·‖w‖).",
        ]
        for i, a in enumerate(st["amounts"]):
            lines += [
                "",
                f"### a = ±{a:g}",
                "",
                "| attribute | AUROC | positive rate | success | push ↑ | pull ↓ | Δ target | latent Δ | "
                "leakage | ratio |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            ]
            for name, v in attrs.items():
                e = v["edits"][i]
                lines.append(
                    f"| {name} | {_fmt(v['auroc'])} | {_fmt(v['positive_rate'], '.2f')} | "
                    f"{e['success']:.2f} | {e['push_success']:.2f} | {e['pull_success']:.2f} | "
                    f"{e['target_change']:.3f} | {_fmt(e.get('latent_target_change'))} | "
                    f"{e['leakage']:.3f} | {_fmt(e['leakage_ratio'], '.2f')} |")
            s = metrics["summary"]["edits"][i]
            lines.append(f"| **mean** | {_fmt(metrics['summary']['auroc_mean'])} | | "
                         f"{_fmt(s['success_mean'], '.2f')} | | | | | | "
                         f"{_fmt(s['leakage_ratio_mean'], '.2f')} |")
        lines += ["", "AUROC is – where the held-out labels hold a single class."]
    captions = {
        "reconstruction.png": "Originals, reconstructions from inverted x_T, from random x_T "
                              "(one row per T).",
        "samples.png": f"Unconditional samples: latent DDIM (T = {st['latent_steps']}) → image DDIM "
                       f"(T = {st['edit_steps']}), seed {st['seed']}.",
    }
    lines += ["", "## Figures"]
    for name in figures:
        cap = captions.get(name, "Edit strips: original, then one column per amount "
                                 f"({', '.join(f'{a:+.2f}' for a in st['strip_amounts'])}); "
                                 f"x_T inverted with T = {st['edit_steps']}.")
        lines += ["", cap, "", f"![{name}]({name})"]
    return "\n".join(lines) + "\n"


def write_report(evaluation: Evaluation, out: str | Path) -> list[Path]:
    """Write metrics.json, README.md and the PNGs into `out`; returns the written paths."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    paths = [root / "metrics.json", root / "README.md"]
    paths[0].write_text(json.dumps(evaluation.metrics, indent=2) + "\n")
    paths[1].write_text(render_markdown(evaluation.metrics, sorted(evaluation.figures)))
    for name, img in sorted(evaluation.figures.items()):
        img.save(root / name)
        paths.append(root / name)
    return paths


# ---------------------------------------------------------------------------------- CLI
def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m models.evaluation.evaluate", description=__doc__.split("\n\n")[0])
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


if __name__ == "__main__":
    sys.exit(main())
