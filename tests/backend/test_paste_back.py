"""Paste-back: the inverse warp puts an aligned crop back where it came from, blended with a
soft edge, and leaves every pixel outside the mask exactly as it was."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps
from skimage.metrics import structural_similarity

from backend.alignment import (
    _apply_perspective,
    paste_back,
    paste_change,
    paste_mask,
    perspective_coefficients,
)
from backend.faces import AlignedFace, align_face
from backend.landmarks import FaceDetector


def full_mask(photo: Image.Image, quad: np.ndarray, feather: float = 0.1) -> np.ndarray:
    """`paste_mask` spread over the whole photo."""
    mask, (left, top, right, bottom) = paste_mask(photo.size, quad, feather)
    full = np.zeros((photo.size[1], photo.size[0]), dtype=np.float32)
    full[top:bottom, left:right] = mask
    return full


@pytest.fixture(scope="module")
def aligned_astronaut_1024(astronaut: Image.Image, dlib_detector: FaceDetector) -> AlignedFace:
    return align_face(astronaut, 1024, detector=dlib_detector)


@pytest.mark.parametrize("crop", ["256", "1024"])
def test_unedited_crop_reproduces_the_photo(
    astronaut: Image.Image,
    aligned_astronaut: AlignedFace,
    aligned_astronaut_1024: AlignedFace,
    crop: str,
) -> None:
    aligned = aligned_astronaut if crop == "256" else aligned_astronaut_1024
    pasted = paste_back(astronaut, aligned.image, aligned.quad)
    assert pasted.size == astronaut.size and pasted.mode == "RGB"
    before, after = np.asarray(astronaut), np.asarray(pasted)
    mask = full_mask(astronaut, aligned.quad)
    inside = mask > 0
    assert inside.sum() > 0.08 * mask.size  # the face region is a real part of the photo
    assert (before[~inside] == after[~inside]).all()
    _, ssim_map = structural_similarity(before, after, channel_axis=2, full=True)
    assert ssim_map.mean(axis=2)[inside].mean() >= 0.98


def test_edited_crop_changes_only_the_masked_region(
    astronaut: Image.Image, aligned_astronaut: AlignedFace
) -> None:
    edited = ImageOps.invert(aligned_astronaut.image)
    pasted = np.asarray(paste_back(astronaut, edited, aligned_astronaut.quad), dtype=np.int16)
    before = np.asarray(astronaut, dtype=np.int16)
    mask = full_mask(astronaut, aligned_astronaut.quad)
    changed = (pasted != before).any(axis=2)
    assert changed.sum() > 0.9 * (mask > 0).sum()  # the edit shows where the mask is on
    assert not changed[mask == 0].any()
    core = mask == 1.0
    # in the core the photo is replaced by the (inverted) face: 255 − photo, up to resampling
    assert np.abs(pasted[core] - (255 - before[core])).mean() < 6.0
    # in the soft edge it is a mix of the two
    edge = (mask > 0.3) & (mask < 0.7)
    mixed = np.abs(pasted[edge] - before[edge]).mean()
    assert 0.2 * np.abs(255 - 2 * before[edge]).mean() < mixed


def test_mask_is_soft_inside_the_quad_and_zero_outside() -> None:
    quad = np.array([[20.0, 10.0], [20.0, 110.0], [120.0, 110.0], [120.0, 10.0]]) - 0.5
    mask, region = paste_mask((200, 150), quad, feather=0.1)
    assert region == (19, 9, 121, 111)
    full = np.zeros((150, 200), dtype=np.float32)
    full[9:111, 19:121] = mask
    assert full[60, 70] == 1.0 and full[10:110, 20:120].min() > 0.0
    assert full[:, :20].max() == 0.0 and full[:, 120:].max() == 0.0 and full[110:].max() == 0.0
    ramp = full[60, 20:35]  # 10 px feather on a 100 px square: rises from the edge to 1
    assert (np.diff(ramp) >= 0).all() and ramp[0] < 0.05 and ramp[10] == 1.0
    with pytest.raises(ValueError, match=r"feather must be in \(0, 0.5\], got 0.7"):
        paste_mask((200, 150), quad, feather=0.7)


def test_perspective_coefficients_map_the_corners() -> None:
    src = np.array([[10.0, 20.0], [15.0, 220.0], [260.0, 200.0], [230.0, 5.0]])  # not a square
    dst = np.array([[0.0, 0.0], [0.0, 64.0], [64.0, 64.0], [64.0, 0.0]])
    a, b, c, d, e, f, g, h = perspective_coefficients(src, dst)
    x, y = src[:, 0], src[:, 1]
    w = g * x + h * y + 1
    assert np.allclose(np.stack([(a * x + b * y + c) / w, (d * x + e * y + f) / w], 1), dst)
    # a parallelogram needs no perspective terms
    square = perspective_coefficients(dst * 2 + 7, dst)
    assert np.allclose(square, [0.5, 0, -3.5, 0, 0.5, -3.5, 0, 0])


def test_quad_outside_the_photo_changes_nothing(astronaut: Image.Image) -> None:
    far = np.array([[900.0, 900.0], [900.0, 1000.0], [1000.0, 1000.0], [1000.0, 900.0]])
    face = Image.new("RGB", (64, 64), (255, 0, 0))
    assert (np.asarray(paste_back(astronaut, face, far)) == np.asarray(astronaut)).all()


def test_crop_must_be_square(astronaut: Image.Image, aligned_astronaut: AlignedFace) -> None:
    with pytest.raises(ValueError, match="must be square, got 64×32"):
        paste_back(astronaut, Image.new("RGB", (64, 32)), aligned_astronaut.quad)


def test_pasting_the_change_keeps_the_photo_where_the_edit_changed_nothing(
    astronaut: Image.Image, aligned_astronaut: AlignedFace
) -> None:
    quad = aligned_astronaut.quad
    # A low-resolution reconstruction (what a 64-px model gives back) as the base ...
    base = aligned_astronaut.image.resize((64, 64), Image.Resampling.LANCZOS)
    assert paste_change(astronaut, base, base, quad).tobytes() == astronaut.tobytes()
    # ... and an edit that brightens the left half of the crop by 40 levels.
    pixels = np.asarray(base, dtype=np.int16).copy()
    pixels[:, :32] += 40
    edited = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    changed = np.asarray(paste_change(astronaut, edited, base, quad), dtype=np.int16)
    replaced = np.asarray(paste_back(astronaut, edited, quad), dtype=np.int16)
    before = np.asarray(astronaut, dtype=np.int16)
    mask = full_mask(astronaut, quad)
    assert not (changed != before).any(axis=2)[mask == 0].any()
    # Map each photo pixel of the mask's core to the crop's half it came from.
    to_unit = perspective_coefficients(quad + 0.5, np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0]]))
    ys, xs = np.mgrid[: before.shape[0], : before.shape[1]] + 0.5
    u, _ = _apply_perspective(to_unit, xs, ys)
    core = mask == 1.0
    left, right = core & (u < 0.4), core & (u > 0.6)
    # Where nothing changed the photo is exactly itself (the replacing paste is the blurry crop);
    # where the edit brightened, the photo gained its 40 levels and kept its own detail.
    assert (changed[right] == before[right]).all()
    assert np.abs(replaced[right] - before[right]).mean() > 5.0
    gain = (changed[left] - before[left]).mean()
    assert 30 < gain <= 40
    assert np.abs((changed[left] - before[left]) - gain).mean() < 8.0  # detail kept: a flat shift
