"""The report of an evaluation on generated faces: labelled image grids, the markdown page and
the files (`metrics.json`, `README.md`, the PNGs)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from PIL import Image, ImageDraw

from models.images import to_uint8

if TYPE_CHECKING:
    from models.evaluation.evaluate import Evaluation


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
        for c, img in enumerate(to_uint8(x)):
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
        "Written by `python -m models.evaluation`; numbers in `metrics.json`.",
        "",
        "## Reconstruction",
        "",
        "SSIM (11×11 Gaussian window, σ = 1.5) and MSE on [0, 1] images, per image then averaged "
        '(docs/official.md, "Metrics"). *Inverted*: x_T from DDIM inversion with the same T; '
        "*random*: "
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
            "(`models/evaluation/diagnostics.py`): MSE against x_0 on [−1, 1], and *gain* = 1 − own/swapped, "
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
