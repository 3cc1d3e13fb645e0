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
with the labels they were drawn from (`models.facegen.drawn`). Built by `models.facegen.examples`:
``python -m models.facegen.examples --model models/weights/faces64`` (or demo64).
"""

from __future__ import annotations

import json
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
