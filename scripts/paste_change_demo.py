"""The two ways an edit goes back into the photo, on a real photo with the bundled model.

    python -m scripts.paste_change_demo [--model models/weights/demo64]
        [--out docs/alignment/paste_change_demo.jpg]

`skimage.data.astronaut()` is aligned and encoded (inversion 50, renders 20 steps); for three
edits each row shows the photo, the face replaced by the edited crop (`paste_back`,
`photo_replaced_url`) and the photo plus the edit's change from the unedited render
(`paste_change`, `photo_url`). Deterministic: it rewrites the same bytes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import skimage.data
import torch
from PIL import Image

from backend.alignment import fast_transform_size, paste_back, paste_change
from backend.faces import align_face
from backend.landmarks import get_detector
from models.images import to_image, to_tensor
from models.pipeline import DiffAEPipeline

REPO = Path(__file__).resolve().parents[1]
EDITS = (("Smiling", 0.4), ("Young", -0.4), ("Blond_Hair", 0.4))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=REPO / "models" / "weights" / "demo64")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "alignment" / "paste_change_demo.jpg")
    args = parser.parse_args()
    torch.manual_seed(0)
    pipe = DiffAEPipeline.from_pretrained(args.model, device="cpu", dtype=torch.float32)
    photo = Image.fromarray(skimage.data.astronaut())
    size = pipe.image_size
    aligned = align_face(photo, size, detector=get_detector("dlib"), transform_size=fast_transform_size(size))
    x = to_tensor(aligned.image)
    z, x_T = pipe.encode(x, 50)
    base = to_image(pipe.decode(z, x_T, 20)[0])
    window = (90, 10, 390, 290)  # the face and hair, cut out of the 512² photo for the figure
    rows = []
    for name, amount in EDITS:
        edited = to_image(pipe.decode(pipe.manipulate(z, {name: amount}), x_T, 20)[0])
        quad = aligned.quad
        panels = [photo, paste_back(photo, edited, quad), paste_change(photo, edited, base, quad)]
        rows.append(np.concatenate([np.asarray(p.crop(window)) for p in panels], axis=1))
        print(f"{name} {amount:+}: original | replace the face | add the change")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows, axis=0)).save(args.out, quality=90)  # .jpg: a photo figure
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
