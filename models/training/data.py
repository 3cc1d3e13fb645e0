"""Training faces: the drawn faces (generated from seeds, cached on disk), the photoreal face
cache, or a folder of aligned images; batches of them in the model's range; their z_sem.

- `--data facegen`: `models.facegen.drawn` faces, rendered once and cached in an .npz keyed by
  the generator's source (`facegen_digest`), so a changed generator regenerates.
- `--data photofaces`: the shards of `models.facegen.photo` (render them first with
  `python -m models.facegen.photo generate`).
- `--data DIR`: every image under DIR, resized and centre-cropped like the official
  `ImageDataset`.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from models.images import batch_to_tensor
from models.training.options import RunOptions

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp")


def facegen_digest() -> str:
    """Hash of the drawn-face generator's source (sampling, face geometry and drawing): a changed
    generator regenerates."""
    from models.facegen import drawn, face, render

    h = hashlib.sha256()
    for module in (drawn, face, render):
        h.update(Path(str(module.__file__)).read_bytes())
    return h.hexdigest()[:12]


def facegen_images(n: int, size: int, *, test: bool = False, cache: Path | None = None,
                   workers: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(N, H, W, 3) uint8 faces and (N, K) attribute values from the generator's train or test
    seed range; cached on disk keyed by the generator's source, so a changed generator regenerates."""
    from models.facegen import drawn

    seeds = (drawn.TEST_SEEDS if test else drawn.TRAIN_SEEDS)[:n]
    digest = facegen_digest()
    path = cache / f"facegen{size}_{'test' if test else 'train'}_{n}_{digest}.npz" if cache else None
    if cache is not None:
        # Seeds are taken in order, so any larger cache of the same generator holds these faces.
        for cached in sorted(cache.glob(f"facegen{size}_{'test' if test else 'train'}_*_{digest}.npz")):
            if int(cached.stem.split("_")[2]) >= n:
                data = np.load(cached)
                return data["images"][:n], data["labels"][:n]
    images, labels = drawn.generate(list(seeds), size=size, workers=workers)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez(tmp, images=images, labels=labels)
        os.replace(tmp, path)
    return images, labels


def folder_images(root: Path, size: int) -> np.ndarray:
    """Every image under `root`: RGB, shorter side resized to `size`, centre-cropped."""
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTS)
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_EXTS)}) under {root}")
    out = np.empty((len(files), size, size, 3), dtype=np.uint8)
    for i, f in enumerate(files):
        img = Image.open(f).convert("RGB")
        scale = size / min(img.size)
        w, h = max(size, round(img.width * scale)), max(size, round(img.height * scale))
        img = img.resize((w, h), Image.Resampling.BILINEAR)
        left, top = (w - size) // 2, (h - size) // 2
        out[i] = np.asarray(img.crop((left, top, left + size, top + size)))
    return out


def photoface_images(n: int, size: int, cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """(seeds (N,), (N, H, W, 3) uint8) of the first n cached photoreal training faces."""
    from models.facegen.photo import FaceCache

    return FaceCache(cache).load("train", n, size)


def training_images(options: RunOptions, size: int) -> np.ndarray:
    """The training faces `options.data` names, at `size` px: (N, size, size, 3) uint8."""
    if options.data == "facegen":
        return facegen_images(options.num_images, size, cache=Path(options.cache))[0]
    if options.data == "photofaces":
        return photoface_images(options.num_images, size, Path(options.cache))[1]
    return folder_images(Path(options.data), size)


def sample_batch(images: np.ndarray, batch: int, gen: torch.Generator, flip: bool) -> torch.Tensor:
    """A random batch (B, 3, H, W) in [-1, 1], each image flipped left-right with probability
    1/2 when `flip`; draws from `gen` only."""
    idx = torch.randint(0, len(images), (batch,), generator=gen)
    x = batch_to_tensor(images[idx.numpy()])
    if flip:
        mask = torch.rand(batch, generator=gen) < 0.5
        x[mask] = x[mask].flip(-1)
    return x


def encode_images(encoder: nn.Module, images: np.ndarray, batch: int = 256) -> torch.Tensor:
    """z_sem (N, D) for uint8 images, float32, in inference mode."""
    out = []
    with torch.inference_mode():
        for i in range(0, len(images), batch):
            out.append(encoder(batch_to_tensor(images[i:i + batch])).float())
    return torch.cat(out)


def read_label_table(path: Path) -> tuple[list[str], dict[int, dict[str, float]]]:
    """(attribute names, {seed: {name: 1.0 / 0.0 / NaN}}) from a CSV with a `seed` column."""
    with path.open() as f:
        reader = csv.DictReader(f)
        names = [n for n in (reader.fieldnames or []) if n != "seed"]
        table = {int(r["seed"]): {n: float(r[n]) if r[n] != "" else math.nan for n in names} for r in reader}
    return names, table
