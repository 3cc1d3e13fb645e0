"""Procedural cartoon portraits with CelebA-named continuous attributes (the `demo64` data).

    python -m models.facegen.drawn [--out docs/facegen/grid.png] [--n 64] [--strips] [--salience]

No face dataset can be downloaded here, so the demo model is trained on faces drawn from a
seed. Every face is a `FaceParams` (all latent factors: 13 labelled attributes plus nuisance
such as skin tone, pose, lighting and background; `models.facegen.face`), sampled here from its
seed; `render` (`models.facegen.render`) draws it with Pillow at `size * supersample` pixels and
box-downsamples, which anti-aliases every shape. This module re-exports `render` and
`landmarks`, so that it is the one import for drawn faces.

Composition follows an FFHQ-aligned crop: face centred, eyes at ~42 % of the height, mouth at
~68 %, neck and shoulders at the bottom. Geometry is written in *face coordinates*: units of
the image width, origin at the face centre, y pointing down. Head roll rotates about the neck.

Labels are continuous in [0, 1] (binary label = value > 0.5) and every value maps smoothly to
pixels, so `with_attribute` moves one attribute and leaves the rest of the face alone.
"""

from __future__ import annotations

import argparse
import colorsys
import math
import multiprocessing
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from models.facegen.face import HAIR_COLOURS, RGB, FaceParams, landmarks
from models.facegen.render import render

ATTRIBUTES: tuple[str, ...] = (
    "Young", "Male", "Smiling", "Wavy_Hair", "Straight_Hair", "Blond_Hair", "Black_Hair",
    "Brown_Hair", "Gray_Hair", "Bangs", "Eyeglasses", "No_Beard", "Wearing_Lipstick",
)
TRAIN_SEEDS = range(0, 10_000_000)
TEST_SEEDS = range(10_000_000, 10_100_000)

_HAIR_LABEL = {"Black_Hair": 0, "Brown_Hair": 1, "Blond_Hair": 2, "Gray_Hair": 3}
# Colours a sampled main colour may blend with; red + black or red + brown would read as brown.
_HAIR_BLEND = {0: (1, 3), 1: (0, 2, 4), 2: (1, 3, 4), 3: (0, 1, 2), 4: (2, 3)}
_SKIN_RGB = np.array(
    [(255, 226, 204), (246, 206, 176), (232, 182, 146), (212, 158, 118), (186, 128, 90),
     (150, 98, 66), (116, 72, 48), (84, 53, 37)], dtype=float,
)
_EYE_RGB = ((92, 56, 30), (58, 36, 22), (122, 96, 52), (78, 118, 70), (70, 112, 172),
            (112, 122, 134))
_FRAME_RGB = ((22, 22, 26), (72, 40, 24), (26, 36, 74), (112, 22, 32), (40, 40, 44))
_LIPSTICK_RGB = ((204, 16, 40), (170, 8, 52), (226, 30, 92), (150, 10, 30))
_FIELD_OF = {"Young": "young", "Male": "male", "Smiling": "smiling", "Wavy_Hair": "wavy",
             "Straight_Hair": "straight", "Bangs": "bangs", "Eyeglasses": "eyeglasses",
             "No_Beard": "beard", "Wearing_Lipstick": "lipstick"}

def _label(rng: np.random.Generator, p: float, gap: float = 0.1) -> float:
    """A continuous label that is positive (> 0.5) with probability p, kept `gap` off 0.5."""
    if rng.random() < p:
        return float(rng.uniform(0.5 + gap, 1.0))
    return float(rng.uniform(0.0, 0.5 - gap))


def _hsv(rng: np.random.Generator, s: tuple[float, float], v: tuple[float, float]) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(*s), rng.uniform(*v))
    return (255 * r, 255 * g, 255 * b)


def sample_params(seed: int) -> FaceParams:
    """Draw one face from `numpy.random.default_rng(seed)`; seed must be a non-negative int.

    Correlations are deliberately weak so that attribute directions can be told apart: grey
    hair is likelier when old, beards when male, lipstick when female (|r| ~0.2-0.27 between
    binary labels); the four hair colours and the two textures are near-exclusive (r ~ -0.3).
    """
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    rng = np.random.default_rng(int(seed))
    young = _label(rng, 0.62, 0.05)
    male = _label(rng, 0.47, 0.05)
    smiling = _label(rng, 0.48, 0.05)
    wavy = _label(rng, 0.36)
    straight = _label(rng, 0.2 if wavy > 0.5 else 0.42)
    if rng.random() < 0.1 + 0.3 * (1 - young):
        main = 3
    else:
        main = int(rng.choice([0, 1, 2, 4], p=[0.30, 0.31, 0.29, 0.10]))
    second = int(rng.choice(_HAIR_BLEND[main]))
    mix = [0.0] * 5
    mix[main] = float(rng.uniform(0.62, 1.0))
    mix[second] = 1.0 - mix[main]
    bangs = _label(rng, 0.33)
    eyeglasses = _label(rng, 0.3, 0.15)
    beard = _label(rng, 0.08 + 0.45 * male)
    if beard < 0.5:
        beard *= male * float(rng.random() < 0.3)  # mostly clean-shaven, stubble on men
    lipstick = _label(rng, 0.55 - 0.4 * male)
    if lipstick < 0.5:
        lipstick *= 1 - male
    tone = rng.random() * (len(_SKIN_RGB) - 1)
    i = min(int(tone), len(_SKIN_RGB) - 2)
    skin = _SKIN_RGB[i] + (tone - i) * (_SKIN_RGB[i + 1] - _SKIN_RGB[i])
    skin = np.clip(skin + rng.uniform(-7, 7, 3), 0, 255)
    tint = rng.uniform(-12, 12, 3) + rng.uniform(-12, 12)  # hue jitter plus brightness
    blobs: list[tuple[float, ...]] = []
    if rng.random() < 0.4:
        for _ in range(int(rng.integers(1, 5))):
            blobs.append((float(rng.random()), float(rng.uniform(0, 0.8)),
                          float(rng.uniform(0.06, 0.22)), *_hsv(rng, (0.2, 0.7), (0.3, 1)),
                          float(rng.uniform(70, 170))))
    return FaceParams(
        young=young, male=male, smiling=smiling, wavy=wavy, straight=straight,
        hair_mix=(mix[0], mix[1], mix[2], mix[3], mix[4]), bangs=bangs,
        eyeglasses=eyeglasses, beard=beard, lipstick=lipstick,
        skin=(float(skin[0]), float(skin[1]), float(skin[2])),
        hair_tint=(float(tint[0]), float(tint[1]), float(tint[2])),
        hair_fallback=second, hair_length=float(rng.uniform(-0.25, 0.2)),
        hair_volume=float(rng.random()), parting=float(rng.uniform(-0.05, 0.05)),
        wave_phase=float(rng.uniform(0, 2 * math.pi)),
        face_width=float(rng.uniform(0.19, 0.225)), face_length=float(rng.uniform(0.29, 0.32)),
        jaw=float(rng.uniform(-1, 1)), eye_rgb=_EYE_RGB[int(rng.integers(len(_EYE_RGB)))],
        eye_size=float(rng.uniform(0.85, 1.15)), eye_spacing=float(rng.uniform(0.085, 0.1)),
        nose_width=float(rng.uniform(0.85, 1.2)), nose_length=float(rng.uniform(-1, 1)),
        lip_fullness=float(rng.uniform(0.8, 1.25)), yaw=float(rng.uniform(-1, 1)),
        roll=float(rng.uniform(-0.14, 0.14)),
        shift=(float(rng.uniform(-0.03, 0.03)), float(rng.uniform(-0.03, 0.03))),
        scale=float(rng.uniform(0.97, 1.09)), light_angle=float(rng.uniform(0, 2 * math.pi)),
        light_strength=float(rng.uniform(0, 0.22)),
        background=(_hsv(rng, (0.05, 0.6), (0.35, 0.95)), _hsv(rng, (0.05, 0.6), (0.35, 0.95))),
        background_angle=float(rng.uniform(0, 2 * math.pi)), blobs=tuple(blobs),
        clothing=_hsv(rng, (0.1, 0.85), (0.2, 0.9)), neckline=float(rng.random()),
        frame_rgb=_FRAME_RGB[int(rng.integers(len(_FRAME_RGB)))],
        frame_shape=float(rng.uniform(2, 5)),
        lipstick_rgb=_LIPSTICK_RGB[int(rng.integers(len(_LIPSTICK_RGB)))],
    )


def attribute_values(params: FaceParams) -> np.ndarray:
    """The labels of `params`: (len(ATTRIBUTES),) float32 in [0, 1], ordered as ATTRIBUTES."""
    p = params
    mix = p.hair_mix
    values = (p.young, p.male, p.smiling, p.wavy, p.straight, mix[2], mix[0], mix[1], mix[3],
              p.bangs, p.eyeglasses, 1.0 - p.beard, p.lipstick)
    return np.clip(np.array(values, dtype=np.float32), 0.0, 1.0)


def with_attribute(params: FaceParams, name: str, value: float) -> FaceParams:
    """The same face with attribute `name` set to `value` in [0, 1], everything else kept.

    A hair colour takes weight `value` and the other colours share the rest in their old
    proportions (or `hair_fallback` takes it all when no other colour was present).
    """
    if name not in ATTRIBUTES:
        raise ValueError(f"unknown attribute {name!r}; allowed: {', '.join(ATTRIBUTES)}")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    value = float(value)
    if name in _HAIR_LABEL:
        k = _HAIR_LABEL[name]
        rest = [w if i != k else 0.0 for i, w in enumerate(params.hair_mix)]
        total = sum(rest)
        if total <= 1e-9:
            fallback = params.hair_fallback if params.hair_fallback != k else (k + 1) % 5
            rest = [1.0 if i == fallback else 0.0 for i in range(5)]
            total = 1.0
        mix = [w / total * (1.0 - value) for w in rest]
        mix[k] = value
        return replace(params, hair_mix=(mix[0], mix[1], mix[2], mix[3], mix[4]))
    if name == "No_Beard":
        return replace(params, beard=1.0 - value)
    changes: dict[str, Any] = {_FIELD_OF[name]: value}
    return replace(params, **changes)



def make_face(seed: int, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(image (size, size, 3) uint8, attribute values (len(ATTRIBUTES),) float32) of a seed."""
    params = sample_params(seed)
    return render(params, size), attribute_values(params)


def _make_face_star(args: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    return make_face(*args)


def generate(
    seeds: Sequence[int], size: int = 64, workers: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Faces for `seeds`, in order: images (N, size, size, 3) uint8, labels (N, K) float32.

    workers > 1 renders in a multiprocessing Pool (the default start method); the output is
    identical to workers == 1.
    """
    jobs = [(int(s), size) for s in seeds]
    if workers > 1 and len(jobs) > 1:
        with multiprocessing.Pool(workers) as pool:
            out = pool.map(_make_face_star, jobs, chunksize=max(1, len(jobs) // (8 * workers)))
    else:
        out = [make_face(s, size) for s, _ in jobs]
    images = np.zeros((len(jobs), size, size, 3), np.uint8)
    labels = np.zeros((len(jobs), len(ATTRIBUTES)), np.float32)
    for i, (image, label) in enumerate(out):
        images[i], labels[i] = image, label
    return images, labels


# ---------------------------------------------------------------------------------------------
# Contact sheets


def contact_sheet(images: np.ndarray, columns: int = 8, zoom: int = 2) -> Image.Image:
    """Tile (N, H, W, 3) uint8 images row-major with a 2-pixel gap, upscaled with NEAREST."""
    n, h, w, _ = images.shape
    rows = -(-n // columns)
    sheet = np.full((rows * (h + 2) + 2, columns * (w + 2) + 2, 3), 255, np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        sheet[2 + r * (h + 2):2 + r * (h + 2) + h, 2 + c * (w + 2):2 + c * (w + 2) + w] = image
    out = Image.fromarray(sheet)
    return out.resize((out.width * zoom, out.height * zoom), Image.Resampling.NEAREST)


def attribute_strips(seed: int, size: int = 64, steps: int = 6) -> Image.Image:
    """One row per attribute: the face of `seed` with that attribute going 0 → 1, labelled."""
    base = sample_params(seed)
    values = np.linspace(0.0, 1.0, steps)
    rows = [np.stack([render(with_attribute(base, name, float(v)), size) for v in values])
            for name in ATTRIBUTES]
    sheet = contact_sheet(np.concatenate(rows), columns=steps)
    margin = 130
    out = Image.new("RGB", (sheet.width + margin, sheet.height), (255, 255, 255))
    out.paste(sheet, (margin, 0))
    draw = ImageDraw.Draw(out)
    row_h = sheet.height / len(ATTRIBUTES)
    for i, name in enumerate(ATTRIBUTES):
        draw.text((6, int(i * row_h + row_h / 2 - 6)), name, fill=(0, 0, 0))
    return out


def attribute_salience(seeds: Sequence[int], size: int = 64, lo: float = 0.2,
                       hi: float = 0.8) -> dict[str, float]:
    """Per attribute: the mean squared pixel change (on [-1, 1]) when it moves from `lo` to `hi`
    on each face of `seeds`, the rest of the face unchanged. How much of an image an attribute is:
    a model trained on MSE learns, and edits, the faint ones last."""
    out = {}
    for name in ATTRIBUTES:
        changes = []
        for seed in seeds:
            p = sample_params(seed)
            a, b = (render(with_attribute(p, name, v), size).astype(np.float64) / 127.5 for v in (lo, hi))
            changes.append(float(((a - b) ** 2).mean()))
        out[name] = float(np.mean(changes))
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m models.facegen.drawn",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="default docs/facegen/{grid,strips}.png")
    parser.add_argument("--n", type=int, default=64, help="faces in the grid")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--seed-start", type=int, default=TEST_SEEDS.start)
    parser.add_argument("--strips", action="store_true",
                        help="write attribute strips (0 → 1) for the face of --seed-start")
    parser.add_argument("--steps", type=int, default=6, help="columns per strip")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--salience", action="store_true",
                        help="print each attribute's mean squared pixel change (0.2 → 0.8) over --n faces")
    args = parser.parse_args(argv)
    if args.salience:
        table = attribute_salience(range(args.seed_start, args.seed_start + args.n), args.size)
        for name, value in sorted(table.items(), key=lambda kv: kv[1]):
            print(f"{name:18s} {value:.4f}")
        return
    if args.strips:
        sheet = attribute_strips(args.seed_start, args.size, args.steps)
    else:
        seeds = range(args.seed_start, args.seed_start + args.n)
        sheet = contact_sheet(generate(seeds, args.size, args.workers)[0])
    out = args.out or Path("docs/facegen") / ("strips.png" if args.strips else "grid.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, optimize=True)
    print(f"wrote {out} ({sheet.width}x{sheet.height})")


if __name__ == "__main__":
    main()


__all__ = [
    "ATTRIBUTES", "HAIR_COLOURS", "TEST_SEEDS", "TRAIN_SEEDS", "FaceParams", "attribute_salience",
    "attribute_strips",
    "attribute_values", "contact_sheet", "generate", "landmarks", "make_face", "render",
    "sample_params", "with_attribute",
]
