"""Face detection on big photos: the full-photo dlib scan against a scan of a shrunk copy.

    python -m scripts.bench_detect [--max-pixels 4194304] [--repeats 3]
        [--reference ../shared/reference]

Builds 12-Mpx photos from real faces that ship offline (`skimage.data.astronaut()`, upscaled so
the face is big, and pasted at its own size into a 4000×3000 canvas so the face is small) and,
when ../shared/reference/data is present, from its faces (read there, never written here). For
each it prints the median time of `DlibDetector.detect` both ways, their ratio, how far the 68
landmarks move (pixels and share of the eye distance) and how much the aligned 256-px crop changes.
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

from backend.alignment import align_landmarks, fast_transform_size
from backend.landmarks import DlibDetector, Face
from scripts.alignment_demo import median_seconds

REPO = Path(__file__).resolve().parents[1]


def photos(reference: Path) -> list[tuple[str, Image.Image]]:
    astronaut = Image.fromarray(skimage.data.astronaut())
    canvas = Image.new("RGB", (4000, 3000), (96, 104, 112))
    canvas.paste(astronaut, (1700, 1200))
    out = [
        ("astronaut upscaled to 3464² (face ~700 px)",
         astronaut.resize((3464, 3464), Image.Resampling.LANCZOS)),
        ("astronaut 512² in a 4000×3000 canvas (face ~110 px)", canvas),
    ]
    data = reference / "data"
    for name in ("sandy.png", "1_a.png", "1_b.png"):
        if (data / name).is_file():
            face = Image.open(data / name).convert("RGB")
            out.append((f"{name} upscaled to 3464²", face.resize((3464, 3464), Image.Resampling.LANCZOS)))
    return out


def eye_distance(face: Face) -> float:
    lm = face.landmarks
    return float(np.linalg.norm(lm[42:48].mean(0) - lm[36:42].mean(0)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-pixels", type=int, default=2048 * 2048)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reference", type=Path, default=REPO.parent / "shared" / "reference")
    args = parser.parse_args()

    full, shrunk = DlibDetector(), DlibDetector(max_detect_pixels=args.max_pixels)
    full.load()
    print(f"dlib, 1 upsample; shrunk copy ≤ {args.max_pixels / 1e6:.1f} Mpx; median of {args.repeats}")
    for label, photo in photos(args.reference):
        a, b = full.detect(photo), shrunk.detect(photo)
        t_full = median_seconds(partial(full.detect, photo), args.repeats)
        t_small = median_seconds(partial(shrunk.detect, photo), args.repeats)
        print(f"{label}: {photo.width}×{photo.height} = {photo.width * photo.height / 1e6:.1f} Mpx")
        print(f"  faces: full scan {len(a)}, shrunk scan {len(b)}")
        print(f"  detect + landmarks: full {t_full:.2f} s, shrunk {t_small:.2f} s "
              f"(×{t_full / t_small:.1f} faster)")
        if not a or not b:
            continue
        moved = np.linalg.norm(a[0].landmarks - b[0].landmarks, axis=1)
        eyes = eye_distance(a[0])
        print(f"  landmark shift: mean {moved.mean():.2f} px, max {moved.max():.2f} px "
              f"(eye distance {eyes:.0f} px: mean {100 * moved.mean() / eyes:.2f} %, "
              f"max {100 * moved.max() / eyes:.2f} %); boxes {a[0].box} vs {b[0].box}")
        size = 256
        crops = [np.asarray(align_landmarks(photo, f.landmarks, size,
                                            transform_size=fast_transform_size(size))[0], np.int16)
                 for f in (a[0], b[0])]
        diff = np.abs(crops[0] - crops[1])
        print(f"  aligned {size}-px crop: mean |diff| {diff.mean():.2f}, max {diff.max()} of 255")


if __name__ == "__main__":
    main()
