"""Building a model's bundled labelled faces (`models.examples`) from the faces it was trained on:

    python -m models.facegen.examples --model models/weights/demo64 --n 200
    python -m models.facegen.examples --model models/weights/faces64 --n 300   # the training extra

demo64: drawn faces of held-out seeds with the labels they were drawn with; faces64 (and any
photoreal model): the MobileStyleGAN faces of the seeds labelled by eye (`models.facegen.labels`).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models.examples import FILE, Examples, save


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
    parser = argparse.ArgumentParser(prog="python -m models.facegen.examples",
                                     description=__doc__.split("\n\n")[0])
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
