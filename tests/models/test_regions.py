"""Region-limited edits (#17 item 2): masks from the 68 landmarks, and a decode whose rows follow
the unedited row's own trajectory outside the mask, exactly, with either solver."""

# ruff: noqa: F811 - the pipeline tests' fixtures are imported and then named by the tests

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from models.pipeline import DiffAEPipeline
from models.regions import REGIONS, brush_mask, crop_units, read_brush, region_mask
from tests.models.test_pipeline import STEPS, codes, images, pipe  # noqa: F401 (fixtures)


def landmarks() -> np.ndarray:
    """A plausible frontal face in crop units (iBUG 300-W order), as FFHQ alignment places it."""
    jaw = [(0.25 + 0.5 * i / 16, 0.45 + 0.4 * np.sin(np.pi * i / 16)) for i in range(17)]
    brows = [(0.3 + 0.08 * i, 0.38) for i in range(5)] + [(0.56 + 0.08 * i, 0.38) for i in range(5)]
    nose = [(0.5, 0.45 + 0.04 * i) for i in range(4)] + [(0.44 + 0.03 * i, 0.6) for i in range(5)]
    eye = [(0.0, 0.0), (0.03, -0.02), (0.06, -0.02), (0.09, 0.0), (0.06, 0.02), (0.03, 0.02)]
    eyes = [(0.33 + x, 0.45 + y) for x, y in eye] + [(0.58 + x, 0.45 + y) for x, y in eye]
    lips = [(0.4 + 0.2 * i / 11, 0.72 + 0.04 * np.sin(np.pi * i / 6)) for i in range(12)]
    inner = [(0.44 + 0.12 * i / 7, 0.72) for i in range(8)]
    points = np.array(jaw + brows + nose + eyes + lips + inner)
    assert points.shape == (68, 2)
    return points


def test_each_region_covers_its_landmarks_and_not_the_others() -> None:
    points, size = landmarks(), 64

    def at(mask: np.ndarray, idx: range) -> float:
        return float(np.mean([mask[int(y * size), int(x * size)] for x, y in points[list(idx)]]))

    masks = {r: region_mask(points, r, size) for r in REGIONS}
    for mask in masks.values():
        assert mask.shape == (size, size) and mask.dtype == np.float32 and 0 <= mask.min() <= mask.max() <= 1
    assert at(masks["mouth"], range(48, 60)) > 0.9 and at(masks["mouth"], range(36, 48)) < 0.05
    assert at(masks["eyes"], range(36, 48)) > 0.9 and at(masks["eyes"], range(48, 60)) < 0.05
    assert at(masks["face"], range(27, 60)) > 0.9 and masks["face"][0, 0] == 0 and masks["face"][-1, 0] == 0
    np.testing.assert_allclose(masks["hair"], 1 - masks["face"], atol=1e-6)
    edge = masks["mouth"][int(0.72 * size)]  # across the mouth: a feathered edge, not a step
    assert ((edge > 0.05) & (edge < 0.95)).any()
    with pytest.raises(ValueError, match="unknown region"):
        region_mask(points, "nose", size)
    with pytest.raises(ValueError, match="68 landmarks"):
        region_mask(points[:5], "mouth", size)


def test_crop_units_invert_the_alignment_quad() -> None:
    """The quad's corners became the crop's (0, 0), (0, 1), (1, 1), (1, 0): a rotated, scaled,
    shifted square in the photo."""
    angle, scale, shift = 0.3, 180.0, np.array([400.0, 250.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    unit = np.array([[0, 0], [0, 1], [1, 1], [1, 0]], dtype=float)
    quad = unit @ rot.T * scale + shift
    inside = np.random.default_rng(0).random((10, 2))
    photo = inside @ rot.T * scale + shift
    np.testing.assert_allclose(crop_units(photo, quad), inside, atol=1e-9)
    np.testing.assert_allclose(crop_units(quad, quad), unit, atol=1e-9)


@pytest.mark.parametrize("solver", ["ddim", "dpm++2m"])
def test_outside_the_region_an_edit_follows_the_unedited_trajectory_exactly(
    pipe: DiffAEPipeline, codes: tuple[torch.Tensor, torch.Tensor], solver: str
) -> None:
    z, x_T = codes[0][:1], codes[1][:1]
    size = pipe.image_size
    mask = torch.zeros(size, size)
    mask[size // 4: size // 2, size // 4: 3 * size // 4] = 1.0  # a block, hard edged
    batch = torch.cat([pipe.manipulate(z, {"Smiling": 0.8}), z])
    out = pipe.decode(batch, x_T.expand(2, -1, -1, -1), STEPS, solver=solver, region=(mask, 1))
    plain = pipe.decode(batch, x_T.expand(2, -1, -1, -1), STEPS, solver=solver)
    edit, base = out[0], out[1]
    outside, inside = mask == 0, mask == 1
    assert torch.equal(base, plain[1])  # the unedited row is untouched
    assert float((edit - base)[:, outside].abs().max()) == 0.0  # outside: exactly the unedited render
    assert float((edit - base)[:, inside].abs().mean()) > 1e-3  # inside: the edit
    assert float((plain[0] - base)[:, outside].abs().mean()) > 1e-3  # which a plain edit changes too


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_a_brush_mask_is_read_from_its_alpha_or_grey_level_and_feathered_like_a_region() -> None:
    """The page paints on a transparent layer (alpha), a tool may send black and white (grey level):
    both give the same mask at the model's size, and its feathered edge spans a few pixels."""
    painted = Image.new("RGBA", (256, 256), (0, 0, 0, 0))
    ImageDraw.Draw(painted).ellipse((64, 96, 192, 224), fill=(255, 0, 0, 255))
    grey = Image.new("L", (256, 256), 0)
    ImageDraw.Draw(grey).ellipse((64, 96, 192, 224), fill=255)
    by_alpha, by_grey = read_brush(_png(painted), 64), read_brush(_png(grey), 64)
    by_palette = read_brush(_png(painted.quantize(4)), 64)  # PNG's palette + transparency
    assert by_alpha.shape == (64, 64) and by_alpha.dtype == np.uint8
    assert np.abs(by_alpha.astype(int) - by_grey.astype(int)).max() <= 1
    assert np.abs(by_alpha.astype(int) - by_palette.astype(int)).max() <= 1
    assert by_alpha[40, 32] == 255 and by_alpha[5, 5] == 0  # inside the ellipse / far outside it
    soft = brush_mask(by_alpha, 64)
    assert soft[40, 32] > 0.99 and soft[5, 5] < 1e-3
    edge = (soft > 0.05) & (soft < 0.95)
    assert 0.02 * soft.size < edge.sum() < 0.2 * soft.size  # a feathered band, not a hard cut


@pytest.mark.parametrize(("make", "message"), [
    (lambda: b"\x89PNG\r\n\x1a\n broken", "readable PNG"),
    (lambda: _png(Image.new("L", (40, 30), 255)), "square"),
    (lambda: _png(Image.new("L", (4, 4), 255)), "8 to 1024"),
    (lambda: _png(Image.new("RGBA", (64, 64), (255, 255, 255, 0))), "empty"),
    (lambda: _jpeg(), "must be a PNG"),
])
def test_a_brush_mask_that_is_no_painting_is_refused_with_a_reason(make, message) -> None:
    with pytest.raises(ValueError, match=message):
        read_brush(make(), 64)


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(out, format="JPEG")
    return out.getvalue()
