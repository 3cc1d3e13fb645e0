"""Image ↔ tensor conversion, in one place: uint8 RGB pixels ↔ float32 in [-1, 1], channels first."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def to_tensor(image: Image.Image | np.ndarray) -> torch.Tensor:
    """One RGB image (PIL, or uint8 (H, W, 3)) → (1, 3, H, W) float32 in [-1, 1]."""
    pixels = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image, dtype=np.uint8)
    return batch_to_tensor(pixels[None])


def batch_to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) → (N, 3, H, W) float32 in [-1, 1] (x / 127.5 − 1)."""
    # a read-only array (np.asarray of a PIL image) is copied: torch warns on non-writable memory
    pixels = np.require(pixels, np.uint8, ["C_CONTIGUOUS", "WRITEABLE"])
    return torch.from_numpy(pixels).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def to_uint8(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """(3, H, W) or (N, 3, H, W) in [-1, 1] (a tensor, or a float array such as a generator's
    output) → uint8 (H, W, 3) or (N, H, W, 3): clipped, (x + 1)·127.5, rounded half to even."""
    pixels = ((torch.as_tensor(x).detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return pixels.movedim(-3, -1).numpy()


def to_image(x: torch.Tensor) -> Image.Image:
    """(3, H, W) in [-1, 1] → an RGB PIL image."""
    return Image.fromarray(to_uint8(x), "RGB")
