"""FFHQ face alignment geometry (as DiffAE's `align.py` / FFHQ's `recreate_aligned_images`) and
paste-back: pure functions of a photo and landmarks, no detection (that is `backend.faces`).

Alignment maps an oriented square `quad`, built from the eye and mouth landmarks, onto the
output square. The quad is returned in the original photo's pixel coordinates, so that
`paste_back` can warp an edited crop back into the photo with the inverse mapping.

Coordinates: pixel centres at integers (as landmarks are), so pixel `i` covers
``[i - 0.5, i + 0.5]``; quad corners are ordered upper-left, lower-left, lower-right,
upper-right of the aligned output (PIL's QUAD order).

CLI (detection + alignment of a photo file, `backend.faces.main`):
``python -m backend.alignment IN OUT [--size N] [--face K] [--backend dlib]``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np
import scipy.ndimage
from PIL import Image

#: The official intermediate resolution of the QUAD warp, before the LANCZOS downscale.
TRANSFORM_SIZE = 4096


def fast_transform_size(size: int) -> int:
    """An intermediate warp size of 4 × `size` (at most the official 4096).

    After FFHQ's shrink step the quad is less than 4 × `size` source pixels wide, so a 4×
    warp already samples every source pixel; the output then differs from the official
    4096 warp by at most 2 of 255 levels (mean ≈ 0.1; tested), at ~1/16 of the cost for
    256-px crops.
    """
    return min(TRANSFORM_SIZE, 4 * size)


def _rot90(v: np.ndarray) -> np.ndarray:
    """(x, y) → (−y, x): a quarter turn (clockwise on screen, where y points down)."""
    return np.array([-v[1], v[0]])


def ffhq_quad(landmarks: np.ndarray) -> tuple[np.ndarray, float]:
    """The FFHQ crop square from 68 landmarks.

    Args:
        landmarks: (68, 2) ``(x, y)`` points in the iBUG order.

    Returns:
        ``(quad, qsize)``: (4, 2) corners upper-left, lower-left, lower-right, upper-right,
        and the side length of the square.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (68, 2):
        raise ValueError(f"expected (68, 2) landmarks, got shape {lm.shape}")
    eye_left = lm[36:42].mean(axis=0)
    eye_right = lm[42:48].mean(axis=0)
    eye_avg = (eye_left + eye_right) * 0.5
    eye_to_eye = eye_right - eye_left
    mouth_avg = (lm[48] + lm[54]) * 0.5
    eye_to_mouth = mouth_avg - eye_avg

    # x: half the square's horizontal side, mixing the eye line with the face's vertical axis.
    x = eye_to_eye - _rot90(eye_to_mouth)
    x /= np.hypot(*x)
    x *= max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = _rot90(x)
    c = eye_avg + eye_to_mouth * 0.1
    quad = np.stack([c - x - y, c - x + y, c + x + y, c + x - y])
    return quad, float(np.hypot(*x) * 2)


def _bounds(quad: np.ndarray) -> tuple[int, int, int, int]:
    return (
        int(np.floor(quad[:, 0].min())),
        int(np.floor(quad[:, 1].min())),
        int(np.ceil(quad[:, 0].max())),
        int(np.ceil(quad[:, 1].max())),
    )


def _pad_reflect_blurred(img: Image.Image, pad: tuple[int, int, int, int], qsize: float) -> Image.Image:
    """Reflect-pad by ``(left, top, right, bottom)`` and fade the padding to blur and median."""
    left, top, right, bottom = pad
    pixels = np.asarray(img, dtype=np.float32)
    arr = np.pad(pixels, ((top, bottom), (left, right), (0, 0)), "reflect")
    h, w, _ = arr.shape
    y_idx, x_idx, _ = np.ogrid[:h, :w, :1]
    xx, yy = x_idx.astype(np.float32), y_idx.astype(np.float32)
    # mask: 0 at the original image's edge, growing to 1 at the padded border (negative inside)
    mask = np.maximum(
        1.0 - np.minimum(xx / left, (w - 1 - xx) / right),
        1.0 - np.minimum(yy / top, (h - 1 - yy) / bottom),
    )
    sigma = qsize * 0.02
    blurred = scipy.ndimage.gaussian_filter(arr, [sigma, sigma, 0])
    arr += (blurred - arr) * np.clip(mask * 3.0 + 1.0, 0.0, 1.0)
    arr += (np.median(arr, axis=(0, 1)) - arr) * np.clip(mask, 0.0, 1.0)
    return Image.fromarray(np.uint8(np.clip(np.rint(arr), 0, 255)), "RGB")


def align_landmarks(
    photo: Image.Image,
    landmarks: np.ndarray,
    size: int,
    *,
    transform_size: int = TRANSFORM_SIZE,
    enable_padding: bool = True,
) -> tuple[Image.Image, np.ndarray]:
    """FFHQ-align one face given its 68 landmarks, step for step as FFHQ's
    `recreate_aligned_images` (shrink, crop, reflect-pad with blur, QUAD warp, downscale).

    Args:
        photo: RGB photo, upright.
        landmarks: (68, 2) landmarks of the face in `photo`.
        size: output side in pixels.
        transform_size: side of the intermediate QUAD warp (official: 4096); must be
            ≥ `size`. `fast_transform_size(size)` is ~16× faster at 256 px and differs by at
            most 2/255 levels; far smaller values soften the crop.
        enable_padding: reflect-pad faces near the photo border (official: True).

    Returns:
        ``(image, quad)``: the ``size × size`` RGB crop and the (4, 2) quad in `photo`
        coordinates it was sampled from.
    """
    if not 1 <= size <= transform_size:
        raise ValueError(f"size must be in [1, transform_size={transform_size}], got {size}")
    img = photo.convert("RGB")
    quad, qsize = ffhq_quad(landmarks)

    # 1. Shrink large faces first, so the warp never minifies by more than 2×.
    scale = np.ones(2)
    shrink = int(np.floor(qsize / size * 0.5))
    if shrink > 1:
        rsize = (int(np.rint(img.size[0] / shrink)), int(np.rint(img.size[1] / shrink)))
        scale = np.array(img.size, dtype=np.float64) / rsize
        img = img.resize(rsize, Image.Resampling.LANCZOS)
        quad = quad / shrink
        qsize /= shrink
    # The warp samples (quad + 0.5) in this image's edge coordinates; in the photo that is:
    photo_quad = (quad + 0.5) * scale - 0.5

    # 2. Crop to the quad's bounding box plus a border.
    border = max(int(np.rint(qsize * 0.1)), 3)
    x0, y0, x1, y1 = _bounds(quad)
    crop = (
        max(x0 - border, 0),
        max(y0 - border, 0),
        min(x1 + border, img.size[0]),
        min(y1 + border, img.size[1]),
    )
    if crop[2] - crop[0] < img.size[0] or crop[3] - crop[1] < img.size[1]:
        img = img.crop(crop)
        quad = quad - crop[:2]

    # 3. Pad where the bordered quad leaves the image.
    x0, y0, x1, y1 = _bounds(quad)
    pad = (
        max(-x0 + border, 0),
        max(-y0 + border, 0),
        max(x1 - img.size[0] + border, 0),
        max(y1 - img.size[1] + border, 0),
    )
    if enable_padding and max(pad) > border - 4:
        min_pad = int(np.rint(qsize * 0.3))
        pad = (max(pad[0], min_pad), max(pad[1], min_pad), max(pad[2], min_pad), max(pad[3], min_pad))
        img = _pad_reflect_blurred(img, pad, qsize)
        quad = quad + pad[:2]

    # 4. Warp the quad onto the square, then downscale.
    img = img.transform(
        (transform_size, transform_size),
        Image.Transform.QUAD,
        tuple((quad + 0.5).flatten()),
        Image.Resampling.BILINEAR,
    )
    if size < transform_size:
        img = img.resize((size, size), Image.Resampling.LANCZOS)
    return img, photo_quad


# ----------------------------------------------------------------------------- paste-back


def perspective_coefficients(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 8 coefficients of the projective map sending the 4 `src` points onto `dst`.

    ``u = (a x + b y + c) / (g x + h y + 1)``, ``v = (d x + e y + f) / (g x + h y + 1)``
    with ``(x, y)`` in `src` and ``(u, v)`` in `dst` — PIL's PERSPECTIVE layout.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    rows = []
    rhs = []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -x * u, -y * u])
        rows.append([0, 0, 0, x, y, 1, -x * v, -y * v])
        rhs += [u, v]
    return np.linalg.solve(np.array(rows), np.array(rhs))


def _apply_perspective(coeffs: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b, c, d, e, f, g, h = coeffs
    w = g * x + h * y + 1.0
    return (a * x + b * y + c) / w, (d * x + e * y + f) / w


def _square(n: float) -> np.ndarray:
    return np.array([[0.0, 0.0], [0.0, n], [n, n], [n, 0.0]])


def paste_mask(
    photo_size: tuple[int, int], quad: np.ndarray, feather: float = 0.1
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The blend weight of the pasted crop, over the photo region the quad covers.

    The weight is 1 inside the square shrunk by `feather` × side, falls smoothly (smoothstep)
    to 0 at the square's edge, and is 0 outside it.

    Args:
        photo_size: (width, height) of the photo.
        quad: (4, 2) corners from `AlignedFace.quad`.
        feather: width of the soft edge as a fraction of the crop side, in (0, 0.5].

    Returns:
        ``(mask, region)``: float32 (h, w) weights in [0, 1] for the photo pixels in
        ``region = (left, top, right, bottom)``; pixels outside `region` have weight 0.
    """
    if not 0.0 < feather <= 0.5:
        raise ValueError(f"feather must be in (0, 0.5], got {feather}")
    quad = np.asarray(quad, dtype=np.float64)
    width, height = photo_size
    left = int(np.clip(np.floor(quad[:, 0].min()), 0, width))
    top = int(np.clip(np.floor(quad[:, 1].min()), 0, height))
    right = int(np.clip(np.ceil(quad[:, 0].max()) + 1, 0, width))
    bottom = int(np.clip(np.ceil(quad[:, 1].max()) + 1, 0, height))
    # photo pixel centres (edge coordinates) → unit-square coordinates of the crop
    to_unit = perspective_coefficients(quad + 0.5, _square(1.0))
    ys, xs = np.mgrid[top:bottom, left:right].astype(np.float64) + 0.5
    u, v = _apply_perspective(to_unit, xs, ys)
    edge_distance = np.minimum(np.minimum(u, 1.0 - u), np.minimum(v, 1.0 - v))
    t = np.clip(edge_distance / feather, 0.0, 1.0)
    mask = (t * t * (3.0 - 2.0 * t)).astype(np.float32)
    return mask, (left, top, right, bottom)


def _warp_into(
    face: Image.Image, quad: np.ndarray, region: tuple[int, int, int, int]
) -> np.ndarray:
    """The square crop warped onto the photo pixels of `region` (left, top, right, bottom):
    float32 (h, w, 3)."""
    face = face.convert("RGB")
    if face.size[0] != face.size[1]:
        raise ValueError(f"the aligned crop must be square, got {face.size[0]}×{face.size[1]}")
    # A plain warp aliases when it minifies by more than 2×; prefilter down to twice the
    # face's size in the photo (resizing all the way to 1× blurs: SSIM 0.984 vs 0.994).
    side_in_photo = float(np.mean(np.hypot(*(quad - np.roll(quad, 1, axis=0)).T)))
    if 2.0 * side_in_photo < face.size[0]:
        n = max(round(2.0 * side_in_photo), 1)
        face = face.resize((n, n), Image.Resampling.LANCZOS)
    n = face.size[0]
    left, top, right, bottom = region
    # region pixel edge coordinates → crop edge coordinates
    local_quad = quad + 0.5 - np.array([left, top])
    to_crop = perspective_coefficients(local_quad, _square(float(n)))
    warped = face.transform(
        (right - left, bottom - top), Image.Transform.PERSPECTIVE, tuple(to_crop), Image.Resampling.BICUBIC
    )
    return np.asarray(warped, dtype=np.float32)


def _blend(
    photo: Image.Image,
    quad: np.ndarray,
    feather: float,
    target: Callable[[np.ndarray, tuple[int, int, int, int]], np.ndarray],
) -> Image.Image:
    """The photo with `target(region_pixels, region)` (float32 (h, w, 3)) blended in under the
    feathered square mask; pixels where the mask is 0 are left bit-identical."""
    photo = photo.convert("RGB")
    mask, region = paste_mask(photo.size, quad, feather)
    if mask.size == 0 or not mask.any():
        return photo.copy()
    left, top, right, bottom = region
    out = np.array(photo)
    original = out[top:bottom, left:right].astype(np.float32)
    wanted = target(original, region)
    weight = mask[..., None]
    blended = np.clip(np.rint(original + (wanted - original) * weight), 0, 255).astype(np.uint8)
    out[top:bottom, left:right] = np.where(weight > 0, blended, out[top:bottom, left:right])
    return Image.fromarray(out, "RGB")


def paste_back(photo: Image.Image, face: Image.Image, quad: np.ndarray, feather: float = 0.1) -> Image.Image:
    """Warp an (edited) aligned crop back into the photo and blend it in with a soft edge.

    Args:
        photo: the RGB photo the face was aligned from.
        face: the aligned crop (any square size; an edited version of `AlignedFace.image`).
        quad: `AlignedFace.quad`.
        feather: soft-edge width as a fraction of the crop side (see `paste_mask`).

    Returns:
        A new RGB image of the photo's size. Pixels where the mask is 0 — everything outside
        the quad and a thin band just inside it — are bit-identical to `photo`.
    """
    quad = np.asarray(quad, dtype=np.float64)
    return _blend(photo, quad, feather, lambda _original, region: _warp_into(face, quad, region))


def paste_change(
    photo: Image.Image, edited: Image.Image, base: Image.Image, quad: np.ndarray, feather: float = 0.1
) -> Image.Image:
    """Add what an edit changed to the photo itself: photo + (edited − base), both crops warped
    back, under the same feathered mask as `paste_back`.

    `base` is the crop the edit started from (the unedited reconstruction, same x_T and steps).
    Where the edit changed nothing the photo keeps its own pixels — its full resolution and
    everything the model could not reconstruct — instead of an upscaled crop; where it changed
    something, the change is added. A change of shape (a mouth opening) can leave a faint trace
    of the old shape; `paste_back` replaces the face instead.

    Returns:
        A new RGB image of the photo's size; `paste_change(p, e, e, q) == p` exactly.
    """
    quad = np.asarray(quad, dtype=np.float64)

    def changed(original: np.ndarray, region: tuple[int, int, int, int]) -> np.ndarray:
        return original + (_warp_into(edited, quad, region) - _warp_into(base, quad, region))

    return _blend(photo, quad, feather, changed)


if __name__ == "__main__":  # the CLI detects faces too, so it lives with the detection
    from backend.faces import main

    sys.exit(main())
