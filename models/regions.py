"""Regions of an aligned face, from its 68 landmarks: the masks that limit an edit to the mouth,
the eyes, the face or the hair ("only the mouth, keep the rest").

Landmarks are dlib's 68 points (iBUG 300-W order: jaw 0-16, brows 17-26, nose 27-35, eyes 36-47,
mouth 48-67) in crop units: (x, y) with (0, 0) the crop's top-left and (1, 1) its bottom-right,
so one set serves every resolution. A mask is 1 where the edit applies and 0 where the face
keeps its own trajectory (`DiffAEPipeline.decode(..., region=...)`), feathered so that the
boundary does not show.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

Region = Literal["mouth", "eyes", "face", "hair"]

#: The regions an edit can be limited to, with what each covers.
REGIONS: dict[str, str] = {
    "mouth": "the lips and around them",
    "eyes": "the eyes and eyebrows",
    "face": "the face from chin to forehead",
    "hair": "everything but the face: hair, ears, neck and background",
}

_JAW, _BROWS = range(0, 17), range(17, 27)
_LEFT_EYE, _RIGHT_EYE = [*range(36, 42), *range(17, 22)], [*range(42, 48), *range(22, 27)]
_LIPS = range(48, 60)
#: Supersampling of the drawn polygons before the blur and the downscale (smooth edges).
_SUPER = 4


def _hull(points: np.ndarray) -> np.ndarray:
    """Convex hull (K, 2) of points (N, 2), counter-clockwise (Andrew's monotone chain)."""
    pts = sorted(map(tuple, points.tolist()))

    def half(seq: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        for p in seq:
            while len(out) >= 2 and ((out[-1][0] - out[-2][0]) * (p[1] - out[-2][1])
                                     - (out[-1][1] - out[-2][1]) * (p[0] - out[-2][0])) <= 0:
                out.pop()
            out.append(p)
        return out

    lower, upper = half(pts), half(pts[::-1])
    return np.array(lower[:-1] + upper[:-1])


def _grown(points: np.ndarray, factor: float) -> np.ndarray:
    """Points scaled by `factor` about their centroid."""
    centre = points.mean(0)
    return centre + factor * (points - centre)


def _polygons(landmarks: np.ndarray, region: str) -> list[np.ndarray]:
    """The polygons (crop units) whose union is the region (for "hair": the face, inverted)."""
    if region == "mouth":
        return [_hull(_grown(landmarks[list(_LIPS)], 1.6))]
    if region == "eyes":
        return [_hull(_grown(landmarks[idx], 1.4)) for idx in (_LEFT_EYE, _RIGHT_EYE)]
    if region in ("face", "hair"):
        jaw, brows = landmarks[list(_JAW)], landmarks[list(_BROWS)]
        # The forehead: the brows raised by a third of the brow-to-chin height.
        height = float(jaw[:, 1].max() - brows[:, 1].min())
        forehead = brows - np.array([0.0, height / 3])
        return [_hull(np.concatenate([jaw, brows, forehead]))]
    raise ValueError(f"unknown region {region!r}; one of {', '.join(REGIONS)}")


def region_mask(
    landmarks: np.ndarray, region: str, size: int, margin: float = 0.04, feather: float = 1 / 32
) -> np.ndarray:
    """The mask (size, size) float32 in [0, 1] of `region` of a face with (68, 2) `landmarks` in
    crop units: 1 inside (the landmarks' polygons grown by `margin` × size pixels, room for what
    an edit moves: a smile widens the mouth), 0 outside, a Gaussian edge of `feather` × size
    pixels (σ).

    Raises:
        ValueError: an unknown region, or landmarks that are not (68, 2).
    """
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (68, 2):
        raise ValueError(f"a region needs the 68 landmarks, got an array of shape {points.shape}")
    big = size * _SUPER
    canvas = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(canvas)
    for polygon in _polygons(points, region):
        draw.polygon([(float(x) * big, float(y) * big) for x, y in polygon], fill=255)
    grow = 2 * round(margin * big) + 1  # an odd window: a dilation by `margin` each way
    if grow > 1:
        canvas = canvas.filter(ImageFilter.MaxFilter(grow))
    if feather > 0:
        canvas = canvas.filter(ImageFilter.GaussianBlur(feather * big))
    mask = np.asarray(canvas.resize((size, size), Image.Resampling.BOX), dtype=np.float32) / 255.0
    return 1.0 - mask if region == "hair" else mask


def crop_units(points: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """Photo points (N, 2) in crop units, for the crop cut from `quad` (4, 2): the photo corners
    that became the crop's (0, 0), (0, 1), (1, 1), (1, 0) (`backend.faces.AlignedFace.quad`)."""
    q = np.asarray(quad, dtype=np.float64)
    across, down = q[3] - q[0], q[1] - q[0]  # the crop's x and y axes, in the photo
    basis = np.stack([across, down], axis=1)  # (2, 2): crop units → photo offsets
    return np.linalg.solve(basis, (np.asarray(points, dtype=np.float64) - q[0]).T).T


#: The largest side of a brush mask a client may send (it is shrunk to the model's size anyway).
BRUSH_MAX_SIDE = 1024


def read_brush(png: bytes, size: int) -> np.ndarray:
    """A painted brush mask (PNG, square, any side up to BRUSH_MAX_SIDE) as the (size, size)
    uint8 mask on the aligned face: its alpha where it has one (a canvas painted on a transparent
    layer), else its grey level; 255 = edit here. Shrunk by area averaging, unfeathered.

    Raises:
        ValueError: not a PNG, not square, too large, or nothing painted.
    """
    import io

    try:
        with Image.open(io.BytesIO(png)) as image:
            if image.format != "PNG":
                raise ValueError(f"the brush mask must be a PNG image, got {image.format}")
            w, h = image.size
            if w != h:
                raise ValueError(f"the brush mask must be square (the aligned face), got {w}×{h}")
            if not 8 <= w <= BRUSH_MAX_SIDE:
                raise ValueError(f"the brush mask's side must be 8 to {BRUSH_MAX_SIDE} px, got {w}")
            # a palette or grey PNG with a transparent colour: its alpha, as RGBA has
            full = image.convert("RGBA") if "transparency" in image.info else image
            layer = full.getchannel("A") if "A" in full.getbands() else full.convert("L")
            layer.load()
    except ValueError:
        raise
    except Exception as exc:  # PIL's errors for broken data are of many types
        raise ValueError("the brush mask is not a readable PNG image") from exc
    mask = np.asarray(layer.resize((size, size), Image.Resampling.BOX), dtype=np.uint8)
    if int(mask.max()) < 128:
        raise ValueError("the brush mask is empty: paint where the edit should apply")
    return mask


def brush_mask(painted: np.ndarray, size: int, feather: float = 1 / 32) -> np.ndarray:
    """The feathered (size, size) float32 mask in [0, 1] of a brush mask from `read_brush`
    (`painted` uint8, (size, size)): a Gaussian edge of `feather` × size pixels (σ), as a
    landmark region's."""
    big = size * _SUPER
    canvas = Image.fromarray(np.asarray(painted, dtype=np.uint8), "L")
    canvas = canvas.resize((big, big), Image.Resampling.BILINEAR)
    if feather > 0:
        canvas = canvas.filter(ImageFilter.GaussianBlur(feather * big))
    return np.asarray(canvas.resize((size, size), Image.Resampling.BOX), dtype=np.float32) / 255.0
