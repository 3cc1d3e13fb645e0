"""A contact sheet of brush-limited edits on a real photo (issue #17 item 2), to look at:

    python -m models.evaluation.brush --model models/weights/faces64 --out docs/evaluation_photos/brush.jpg

The astronaut (`skimage.data.astronaut()`, a real unaligned photo that ships offline) is aligned as
an upload is, inverted (50 steps) and edited at 20 steps along two directions: hair colour and
smile. Each row: the aligned face, its reconstruction, the plain edit, the edit limited to a hair
painting (the top and the sides of the crop, as a person would paint it on the page), and limited
to that painting plus the landmarks' mouth region — the masks `POST /manipulate` takes as `brush`
and `region`.
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

EDITS = ({"Blond_Hair": 0.6}, {"Smiling": 0.8})
TILE = 192


def hair_painting(side: int = 256) -> bytes:
    """The painting: the top of the crop and its sides down to the eyes (PNG, alpha)."""
    paint = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(paint)
    for box in ((0, 0, side, 0.27 * side), (0, 0, 0.2 * side, 0.6 * side), (0.8 * side, 0, side, 0.6 * side)):
        draw.rectangle(box, fill=(255, 0, 0, 255))
    out = io.BytesIO()
    paint.save(out, "PNG")
    return out.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    from skimage import data

    from backend.settings import Settings
    from backend.upload import prepare_upload
    from models.images import to_image, to_tensor
    from models.pipeline import DiffAEPipeline
    from models.regions import brush_mask, read_brush, region_mask

    p = argparse.ArgumentParser(prog="python -m models.evaluation.brush",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--out", type=Path, default=Path("docs/evaluation_photos/brush.jpg"))
    args = p.parse_args(argv)
    pipe = DiffAEPipeline.from_pretrained(args.model)
    size = pipe.image_size
    photo = io.BytesIO()
    Image.fromarray(data.astronaut()).save(photo, "PNG")
    upload = prepare_upload(photo.getvalue(), 0, size, Settings(model_dir=args.model))
    x = to_tensor(Image.open(io.BytesIO(upload.aligned_png)))
    z, x_T = pipe.encode(x, 50)
    brush = torch.from_numpy(brush_mask(read_brush(hair_painting(), size), size))
    mouth = torch.from_numpy(region_mask(np.asarray(upload.landmarks), "mouth", size))
    rows = []
    for edits in EDITS:
        codes = torch.cat([pipe.manipulate(z, edits), z])  # the edit, then the unedited row
        noise = x_T.expand(2, -1, -1, -1)
        plain = pipe.decode(codes, noise, 20)
        painted = pipe.decode(codes, noise, 20, region=(brush, 1))
        both = pipe.decode(codes, noise, 20, region=(torch.maximum(brush, mouth), 1))
        outside = (brush < 1e-3).numpy()
        change = np.abs(np.asarray(to_image(painted[0]), float) - np.asarray(to_image(painted[1]), float))
        print(f"{edits}: mean |Δ| outside the painting {change[outside].mean():.3f}, inside "
              f"{change[(brush > 0.5).numpy()].mean():.2f} (0-255)")
        rows.append([to_image(t) for t in (x[0], plain[1], plain[0], painted[0], both[0])])
    sheet = Image.new("RGB", (len(rows[0]) * TILE, len(rows) * TILE))
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            sheet.paste(image.resize((TILE, TILE), Image.Resampling.LANCZOS), (c * TILE, r * TILE))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, quality=90)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
