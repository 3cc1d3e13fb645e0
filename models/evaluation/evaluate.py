"""Evaluate a DiffAE model on held-out generated faces, in stages: the paper's reconstruction
table, how much the decoder relies on z_sem, attribute classifier AUROC, edit success and
leakage, edit strips and samples. The command line is `python -m models.evaluation`
(`models.evaluation.cli`); the report is written by `models.evaluation.report`.

Faces are the drawn faces' TEST_SEEDS (`models.facegen.drawn`, never seen in training) at the
model's image size.

Metrics (`models.evaluation.metrics`): SSIM and MSE on images mapped to [0, 1], one value per
image, averaged. Reconstruction at each T: "inverted" = encode(x, T) then decode(z_sem, x_T, T);
"random" = decode(z_sem, x_T ~ N(0, I), T); "fine_inverted" (a diagnostic, not in the paper) =
decode(z_sem, x_T from the largest T's inversion, T).

Edits (the official recipe): x_T is inverted from the original z_sem with T_edit steps, the
edited z_sem' is decoded from that x_T, and the result is re-encoded to read the classifier's
logits. Every change is relative to the re-encoded logits of the unedited reconstruction decoded
the same way. Changes are in log-odds, the classifier's own unit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image

from models.evaluation.batching import Batched, Meter, unet_gflops
from models.evaluation.diagnostics import PROBE_TIMESTEPS, semantic_reliance
from models.evaluation.metrics import auroc, mse, ssim, to_unit
from models.evaluation.report import image_grid
from models.facegen import drawn as facegen
from models.images import batch_to_tensor
from models.pipeline import DiffAEPipeline

FIGURE_FACES = 8  # columns of the reconstruction figure


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


# ---------------------------------------------------------------------------------- evaluation
@dataclass
class Evaluation:
    metrics: dict[str, Any]  # JSON-ready (metrics.json)
    figures: dict[str, Image.Image] = field(default_factory=dict)  # file name → image


def held_out_faces(n: int, size: int, workers: int = 1) -> tuple[torch.Tensor, np.ndarray]:
    """The first n drawn-face TEST_SEEDS faces: (N, 3, size, size) in [-1, 1] and (N, K) labels
    in [0, 1] in `facegen.ATTRIBUTES` order."""
    images, labels = facegen.generate(list(facegen.TEST_SEEDS[:n]), size=size, workers=workers)
    return batch_to_tensor(images), labels


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
    run = Batched(pipe, batch, Meter(cost["total"], verbose))

    x_0, values = held_out_faces(n, pipe.image_size, workers)
    x_rand = torch.randn(x_0.shape, generator=torch.Generator().manual_seed(seed))
    table, z_sem, base, figure = _reconstruction(run, x_0, x_rand, steps, edit_steps, edit_n)
    figures = {"reconstruction.png": figure}
    reliance = semantic_reliance(pipe, x_0, z_sem, seed=seed) if n >= 2 else []
    run.meter.add(cost["semantic_reliance"], "(semantic reliance)")
    if base is None and names:
        x_T = run.invert(x_0[:max(edit_n, strip_faces)], edit_steps)[1]
        base = (x_T, run.decode(z_sem[:edit_n], x_T[:edit_n], edit_steps, f"(baseline, T={edit_steps})"))
    attributes: dict[str, Any] = {}
    if names and base is not None:
        attributes = _attributes(run, z_sem, values, base, amounts, edit_steps, edit_n)
    if strip_faces and base is not None:
        figures.update(_strips(run, x_0, z_sem, base[0], strip_amounts, strip_faces, edit_steps))
    if samples:
        imgs = pipe.sample(samples, edit_steps, latent_steps,
                           generator=torch.Generator().manual_seed(seed)).cpu()
        run.meter.add(samples * edit_steps, "(samples)")
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
        "cost": {"unet_evaluations": cost, "unet_evaluations_run": run.meter.done, "unet_gflop": gflops,
                 "seconds": run.meter.seconds},
        "reconstruction": table,
        "semantic_reliance": reliance,
        "attributes": attributes,
        "summary": _summary(table, attributes, amounts),
    }
    log(f"done in {run.meter.seconds:.0f} s")
    return Evaluation(metrics, figures)


# ---------------------------------------------------------------------------------- stages
def _reconstruction(
    run: Batched, x_0: torch.Tensor, x_rand: torch.Tensor, steps: list[int], edit_steps: int, edit_n: int,
) -> tuple[list[dict[str, Any]], torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None, Image.Image]:
    """The reconstruction table: (rows per T, z_sem, (x_T, the unedited reconstructions of the
    first edit_n faces) when edit_steps is one of the T, the figure).

    "fine-inverted": x_T from the finest inversion of the table, decoded with each T. It tells
    the decoder's few-step error apart from the inversion's: at small T, DDIM inversion is the
    weaker half of the round trip (models/weights/demo64/README.md)."""
    x_unit = to_unit(x_0)
    recon_rows: list[tuple[str, torch.Tensor]] = [("original", x_0[:FIGURE_FACES])]
    rand_rows: list[tuple[str, torch.Tensor]] = []
    table: list[dict[str, Any]] = []
    base = None
    z_sem, x_T_fine = run.invert(x_0, steps[-1])  # z_sem is the same for every T
    for t in steps:
        x_T = x_T_fine if t == steps[-1] else run.invert(x_0, t)[1]
        inv = run.decode(z_sem, x_T, t, f"(inverted x_T, T={t})")
        rnd = run.decode(z_sem, x_rand, t, f"(random x_T, T={t})")
        fine = inv if t == steps[-1] else run.decode(z_sem, x_T_fine, t, f"(x_T from T={steps[-1]}, T={t})")
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
    return table, z_sem, base, image_grid(recon_rows + rand_rows)


def _attributes(
    run: Batched, z_sem: torch.Tensor, values: np.ndarray, base: tuple[torch.Tensor, torch.Tensor],
    amounts: Sequence[float], edit_steps: int, edit_n: int,
) -> dict[str, Any]:
    """Per attribute: the classifier's AUROC on every face, and the edit statistics at each
    amount on the first edit_n faces (re-encoded, against the unedited reconstruction `base`)."""
    pipe, names = run.pipe, run.pipe.attributes
    attributes: dict[str, Any] = {}
    scores = pipe.attribute_scores(z_sem).cpu().numpy()
    z_e, x_T_e = z_sem[:edit_n], base[0][:edit_n]
    s0 = pipe.attribute_scores(run.encode_semantic(base[1])).cpu()  # (edit_n, K)
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
        d = run.reencoded_scores(z_edit, x_T_e.repeat(2 * len(names), 1, 1, 1), edit_steps)
        d = d.view(len(names), 2, edit_n, len(names)) - s0  # vs the unedited reconstruction
        for k, name in enumerate(names):
            attributes[name]["edits"].append(_edit_stats(d[k], k, a, w))
    return attributes


def _strips(
    run: Batched, x_0: torch.Tensor, z_sem: torch.Tensor, x_T: torch.Tensor,
    strip_amounts: Sequence[float], strip_faces: int, edit_steps: int,
) -> dict[str, Image.Image]:
    """`edits_<f>.png` for the first strip_faces faces: one row per attribute, one column per amount."""
    pipe, names = run.pipe, run.pipe.attributes
    z_f, x_T_f = z_sem[:strip_faces], x_T[:strip_faces]
    grid = [(name, pipe.manipulate(z_f, {name: float(a)}).cpu())
            for name in names for a in strip_amounts]  # [k][column] → (F, D)
    z_strip = torch.stack([z for _, z in grid], dim=1)  # (F, K·C, D)
    figures = {}
    for f in range(strip_faces):
        x = run.decode(z_strip[f], x_T_f[f:f + 1].expand(len(grid), -1, -1, -1), edit_steps,
                       f"(edit strip {f})")
        x = x.view(len(names), len(strip_amounts), *x.shape[1:])
        rows = [(name, torch.cat([x_0[f:f + 1], x[k]])) for k, name in enumerate(names)]
        header = ["original", *(f"{a:+.2f}" for a in strip_amounts)]
        figures[f"edits_{f}.png"] = image_grid(rows, header)
    return figures


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
