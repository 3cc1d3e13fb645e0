"""The bundled labelled faces of a model: faces its directions were fitted on, with their labels,
shipped beside the weights (`examples.safetensors`) so that a person teaching a slider
(`models.teach`) can mark faces besides their own uploads and faces drawn by the latent DPM, and
find faces that have a property by its label.

A model directory may hold one file:

- ``images``: (N, H, W, 3) uint8, the faces at the model's size, aligned as training saw them;
- ``labels``: (N, K) float32, 1 (has it), 0 (has not) or NaN (not labelled), K = the attribute
  names in the metadata (``attributes``, a JSON list), which need not be the model's own;
- metadata ``preset`` (the model it belongs to), ``source`` (where the faces and labels come
  from, in words) and ``seeds`` (JSON list: the generator seed of each face).

The faces are the training data's own (generated faces, never photos of people): ``faces64``'s
are MobileStyleGAN faces with labels by eye (`models.facegen.labels`), ``demo64``'s drawn faces
with the labels they were drawn from (`models.facegen.drawn`). Build with
``python -m models.examples --model models/weights/faces64`` (or demo64).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

FILE = "examples.safetensors"
#: The prefix of an example face's id in a teach request ("example:17": face 17 of the file).
EXAMPLE = "example:"


@dataclass(frozen=True)
class Examples:
    images: np.ndarray  # (N, H, W, 3) uint8
    labels: np.ndarray  # (N, K) float32: 1, 0 or NaN
    attributes: list[str]
    preset: str
    source: str
    seeds: list[int]

    def __len__(self) -> int:
        return len(self.images)

    def label_dict(self, i: int) -> dict[str, int]:
        """The labels of face `i`: attribute → 0/1, the unlabelled ones left out."""
        return {a: int(v) for a, v in zip(self.attributes, self.labels[i].tolist(), strict=True) if v == v}


def save(path: Path, ex: Examples) -> None:
    from safetensors.numpy import save_file

    if ex.images.ndim != 4 or ex.images.dtype != np.uint8 or ex.images.shape[-1] != 3:
        raise ValueError(f"images must be (N, H, W, 3) uint8, got {ex.images.shape} {ex.images.dtype}")
    if ex.labels.shape != (len(ex.images), len(ex.attributes)):
        raise ValueError(f"labels must be {(len(ex.images), len(ex.attributes))}, got {ex.labels.shape}")
    save_file({"images": np.ascontiguousarray(ex.images), "labels": ex.labels.astype(np.float32)}, str(path),
              metadata={"preset": ex.preset, "source": ex.source, "attributes": json.dumps(ex.attributes),
                        "seeds": json.dumps(ex.seeds)})
    path.chmod(0o644)  # safetensors writes 0600; model files are meant to be shared


@lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int) -> Examples:
    from safetensors import safe_open

    with safe_open(path, framework="numpy") as f:
        meta = f.metadata() or {}
        images, labels = f.get_tensor("images"), f.get_tensor("labels")
    attributes = json.loads(meta.get("attributes", "[]"))
    if images.ndim != 4 or images.dtype != np.uint8 or labels.shape != (len(images), len(attributes)):
        raise ValueError(f"{path}: images {images.shape} {images.dtype} and labels {labels.shape} "
                         f"of {len(attributes)} attributes do not agree")
    images.setflags(write=False)
    labels.setflags(write=False)
    return Examples(images=images, labels=labels, attributes=attributes, preset=meta.get("preset", ""),
                    source=meta.get("source", ""), seeds=json.loads(meta.get("seeds", "[]")))


def load(model_dir: str | Path) -> Examples | None:
    """The labelled faces of the model in `model_dir`, or None when it has none (kept in memory
    until the file changes).

    Raises:
        ValueError: a file whose parts do not agree.
    """
    path = Path(model_dir) / FILE
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return None
    return _load(str(path), mtime)


def parse_id(face_id: str) -> int | None:
    """The index of an example face id ("example:17" → 17), or None for any other id."""
    if not face_id.startswith(EXAMPLE):
        return None
    digits = face_id[len(EXAMPLE):]
    return int(digits) if digits.isdigit() and len(digits) <= 6 else None


# ----------------------------------------------------------------------------- building
def drawn_examples(preset: str, n: int, size: int) -> Examples:
    """`n` drawn faces from the held-out seeds (never trained on), labelled by what they were drawn
    with (a value > 0.5: has it)."""
    from models.facegen.drawn import ATTRIBUTES, TEST_SEEDS, make_face

    seeds = list(TEST_SEEDS[:n])
    faces = [make_face(s, size) for s in seeds]
    labels = np.stack([values for _, values in faces]) > 0.5
    return Examples(images=np.stack([img for img, _ in faces]), labels=labels.astype(np.float32),
                    attributes=list(ATTRIBUTES), preset=preset, seeds=seeds,
                    source=f"{n} drawn faces (models.facegen.drawn, held-out seeds from {seeds[0]}), "
                           "labelled by what they were drawn with")


def photo_examples(preset: str, size: int, seeds: Sequence[int]) -> Examples:
    """The MobileStyleGAN faces of `seeds` that were labelled by eye (`models.facegen.labels`), at
    `size` px (LANCZOS, as training saw them)."""
    from models.facegen.labels import ATTRIBUTES, read_labels
    from models.facegen.photo import PhotoFaceGenerator, resize_lanczos

    by_eye = read_labels()
    chosen = [s for s in seeds if s in by_eye]
    generator = PhotoFaceGenerator()
    images = np.stack([resize_lanczos(face, size) for _, face in generator.render(chosen)])
    labels = np.array([[by_eye[s].get(a, np.nan) for a in ATTRIBUTES] for s in chosen], dtype=np.float32)
    return Examples(images=images, labels=labels, attributes=list(ATTRIBUTES), preset=preset, seeds=chosen,
                    source=f"{len(chosen)} MobileStyleGAN faces (random-face, ψ = 0.8, seeds {chosen[0]}-"
                           f"{chosen[-1]}) of the training set, labelled by eye")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m models.examples", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, type=Path, help="a model directory (config.json)")
    parser.add_argument("--n", type=int, default=300, help="faces (drawn: the first n held-out seeds; "
                        "photoreal: the first n labelled seeds)")
    args = parser.parse_args(argv)
    config = json.loads((args.model / "config.json").read_text())
    preset, size = config["preset"], int(config["autoencoder"]["image_size"])
    if preset == "demo64":
        ex = drawn_examples(preset, args.n, size)
    else:
        ex = photo_examples(preset, size, range(args.n))
    save(args.model / FILE, ex)
    known = ~np.isnan(ex.labels)
    counts = ", ".join(f"{a} {int(np.nansum(ex.labels[:, k]))}/{int(known[:, k].sum())}"
                       for k, a in enumerate(ex.attributes))
    print(f"{args.model / FILE}: {len(ex)} faces; positives/labelled: {counts}")


if __name__ == "__main__":
    main()
