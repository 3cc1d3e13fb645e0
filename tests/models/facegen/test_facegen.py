"""The drawn faces (`models.facegen.drawn`, `face`, `render`): determinism, labels tied to pixels,
label statistics, the CLI."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from models.facegen.drawn import (
    ATTRIBUTES,
    TEST_SEEDS,
    TRAIN_SEEDS,
    FaceParams,
    attribute_salience,
    attribute_values,
    generate,
    landmarks,
    main,
    make_face,
    render,
    sample_params,
    with_attribute,
)

SEEDS = [TEST_SEEDS.start + i for i in (0, 3, 7, 12)]
GREEN = (60.0, 160.0, 60.0)  # no hair, skin or clothing colour is close to this


def _plain(seed: int, **changes: object) -> FaceParams:
    """A sampled face, upright, unlit, on a flat green background, then `changes`."""
    p = sample_params(seed)
    p = replace(p, roll=0.0, yaw=0.0, light_strength=0.0, blobs=(), background=(GREEN, GREEN),
                clothing=(235.0, 235.0, 235.0))  # fmt: skip
    return replace(p, **changes)  # type: ignore[arg-type]


def _edit(p: FaceParams, **values: float) -> FaceParams:
    for name, value in values.items():
        p = with_attribute(p, name, value)
    return p


def _patch(image: np.ndarray, xy: tuple[float, float], r: int) -> np.ndarray:
    """Pixels within r of the landmark xy (fractions of the side): (2r+1, 2r+1, 3) float."""
    n = image.shape[0]
    x, y = int(xy[0] * n), int(xy[1] * n)
    return image[y - r : y + r + 1, x - r : x + r + 1].astype(float)


def _lum(pixels: np.ndarray) -> np.ndarray:
    return pixels @ np.array([0.299, 0.587, 0.114])


def _changed(a: np.ndarray, b: np.ndarray, threshold: float = 24.0) -> int:
    return int((np.abs(a.astype(int) - b.astype(int)).max(-1) > threshold).sum())


# --- determinism and API ---------------------------------------------------------------------


def test_same_seed_same_bytes_and_different_seeds_differ():
    a, la = make_face(SEEDS[0])
    b, lb = make_face(SEEDS[0])
    assert a.tobytes() == b.tobytes() and la.tobytes() == lb.tobytes()
    assert sample_params(SEEDS[0]) == sample_params(SEEDS[0])
    c, _ = make_face(SEEDS[1])
    assert np.abs(a.astype(int) - c.astype(int)).mean() > 10


def test_train_and_test_seed_ranges_are_disjoint():
    assert TRAIN_SEEDS.step == TEST_SEEDS.step == 1
    assert TRAIN_SEEDS.stop <= TEST_SEEDS.start
    assert len(TRAIN_SEEDS) >= 1_000_000 and len(TEST_SEEDS) >= 10_000


def test_generate_matches_make_face_and_a_worker_pool():
    seeds = SEEDS[:3]
    images, labels = generate(seeds, size=32)
    assert images.shape == (3, 32, 32, 3) and images.dtype == np.uint8
    assert labels.shape == (3, len(ATTRIBUTES)) and labels.dtype == np.float32
    image, label = make_face(seeds[1], size=32)
    assert np.array_equal(images[1], image) and np.array_equal(labels[1], label)
    pooled, pooled_labels = generate(seeds, size=32, workers=2)
    assert np.array_equal(pooled, images) and np.array_equal(pooled_labels, labels)


def test_with_attribute_sets_one_label_and_keeps_the_others():
    p = sample_params(SEEDS[2])
    before = attribute_values(p)
    hair = {"Blond_Hair", "Black_Hair", "Brown_Hair", "Gray_Hair"}
    for k, name in enumerate(ATTRIBUTES):
        for value in (0.0, 0.3, 1.0):
            after = attribute_values(with_attribute(p, name, value))
            assert after[k] == pytest.approx(value, abs=1e-6)
            others = [j for j, n in enumerate(ATTRIBUTES) if j != k and not (name in hair and n in hair)]
            assert np.array_equal(after[others], before[others]), name
    mix = with_attribute(with_attribute(p, "Gray_Hair", 1.0), "Gray_Hair", 0.2).hair_mix
    assert sum(mix) == pytest.approx(1.0) and max(mix) == pytest.approx(0.8)


def test_bad_input_is_rejected_with_the_allowed_set():
    p = sample_params(0)
    with pytest.raises(ValueError, match=r"unknown attribute 'Bald'; allowed: Young, Male"):
        with_attribute(p, "Bald", 1.0)
    with pytest.raises(ValueError, match=r"Smiling must be in \[0, 1\], got 1.5"):
        with_attribute(p, "Smiling", 1.5)
    with pytest.raises(ValueError, match="non-negative int"):
        sample_params(-1)
    with pytest.raises(ValueError, match="size >= 16"):
        render(p, size=8)


def test_cli_writes_a_grid_and_attribute_strips(tmp_path):
    main(["--out", str(tmp_path / "grid.png"), "--n", "16", "--size", "16"])
    grid = Image.open(tmp_path / "grid.png")
    assert grid.size == (2 * (8 * 18 + 2), 2 * (2 * 18 + 2))  # 8 x 2 tiles, 2 px gaps, 2x zoom
    main(["--strips", "--out", str(tmp_path / "strips.png"), "--size", "16", "--steps", "3"])
    assert Image.open(tmp_path / "strips.png").height == 2 * (len(ATTRIBUTES) * 18 + 2)


def test_salience_measures_how_much_of_the_image_an_attribute_is(capsys):
    seeds = range(TEST_SEEDS.start, TEST_SEEDS.start + 3)
    table = attribute_salience(seeds, size=32)
    assert set(table) == set(ATTRIBUTES) and all(v > 0 for v in table.values())
    # a hair colour repaints the whole hair; lipstick only the lips
    assert table["Black_Hair"] > 10 * table["Wearing_Lipstick"]
    p = sample_params(seeds[0])
    a, b = (render(with_attribute(p, "Smiling", v), 32).astype(float) / 127.5 for v in (0.2, 0.8))
    assert attribute_salience(seeds[:1], size=32)["Smiling"] == pytest.approx(((a - b) ** 2).mean())
    main(["--salience", "--n", "2", "--size", "16"])
    assert len(capsys.readouterr().out.strip().splitlines()) == len(ATTRIBUTES)


# --- image statistics ------------------------------------------------------------------------


def test_images_use_the_range_and_vary_across_faces():
    images, labels = generate(range(TEST_SEEDS.start, TEST_SEEDS.start + 12))
    assert images.shape == (12, 64, 64, 3) and images.dtype == np.uint8
    assert ((labels >= 0) & (labels <= 1)).all()
    flat = images.reshape(12, -1)
    assert (flat.min(1) < 70).all() and (flat.max(1) > 170).all()
    assert (flat.std(1) > 25).all()  # no blank images
    assert images.astype(float).std(0).mean() > 30  # faces differ from each other


def test_every_attribute_changes_pixels_at_64px():
    for name in ATTRIBUTES:
        for seed in SEEDS[:3]:
            p = sample_params(seed)
            lo, hi = render(with_attribute(p, name, 0.0)), render(with_attribute(p, name, 1.0))
            assert _changed(lo, hi) >= 15, (name, seed, _changed(lo, hi))


# --- labels tied to geometry and pixels --------------------------------------------------------


def _mouth_curvature(p: FaceParams) -> float:
    """Mean row of the (red) lip pixels at the mouth's centre minus at its corners, in pixels."""
    image = render(p)
    marks = landmarks(p)
    n = image.shape[0]
    x0, x1 = int(marks["mouth_left"][0] * n), int(marks["mouth_right"][0] * n)
    y = int(marks["mouth"][1] * n)
    box = image[y - 4 : y + 8, x0 : x1 + 1].astype(float)  # below the nose, down to the chin
    skin_red = p.skin[0] - p.skin[1]
    mouth = box[..., 0] - box[..., 1] > skin_red + 40  # (rows, cols); needs lipstick
    rows = np.arange(box.shape[0])
    cols = [float((rows * m).sum() / m.sum()) for m in mouth.T if m.any()]
    centre = np.mean(cols[len(cols) // 2 - 1 : len(cols) // 2 + 2])
    corners = np.mean(cols[:2] + cols[-2:])
    return float(centre - corners)


def test_smiling_curves_the_mouth_upwards():
    for seed in SEEDS:
        p = _plain(seed, young=1.0, beard=0.0, lipstick=1.0)  # no age lines near the corners
        smile, neutral = _edit(p, Smiling=1.0), _edit(p, Smiling=0.0)
        assert _mouth_curvature(smile) > 1.2, seed  # corners higher (smaller row) than centre
        assert _mouth_curvature(neutral) < 0.7, seed
        lo, hi = render(neutral), render(smile)
        mouth = landmarks(smile)["mouth"]
        assert np.abs(_patch(hi, mouth, 3) - _patch(lo, mouth, 3)).mean() > 12


def test_eyeglasses_change_the_eyes_only():
    for seed in SEEDS:
        p = _plain(seed)
        on, off = render(_edit(p, Eyeglasses=1.0)), render(_edit(p, Eyeglasses=0.0))
        marks = landmarks(p)
        for eye in ("left_eye", "right_eye"):
            assert np.abs(_patch(on, marks[eye], 4) - _patch(off, marks[eye], 4)).mean() > 10
        assert np.array_equal(_patch(on, marks["mouth"], 3), _patch(off, marks["mouth"], 3))


def test_hair_colour_labels_order_the_hair_brightness():
    for seed in SEEDS:
        p = _plain(seed, wavy=0.0, straight=0.0)
        top = {name: _patch(render(_edit(p, **{name: 1.0})), landmarks(p)["hair_top"], 1).mean((0, 1))
               for name in ("Black_Hair", "Brown_Hair", "Blond_Hair", "Gray_Hair")}  # fmt: skip
        lum = {name: float(_lum(rgb)) for name, rgb in top.items()}
        assert lum["Black_Hair"] + 30 < lum["Brown_Hair"] < lum["Blond_Hair"] - 30, lum
        chroma = {name: float(rgb.max() - rgb.min()) for name, rgb in top.items()}
        assert chroma["Gray_Hair"] < 0.5 * min(chroma["Brown_Hair"], chroma["Blond_Hair"]), chroma


def test_beard_darkens_the_chin():
    for seed in SEEDS:
        p = _plain(seed)
        chin = landmarks(p)["chin"]
        bearded = _lum(_patch(render(_edit(p, No_Beard=0.0)), chin, 2)).mean()
        shaven = _lum(_patch(render(_edit(p, No_Beard=1.0)), chin, 2)).mean()
        assert bearded < shaven - 20, (seed, bearded, shaven)


def test_bangs_cover_the_forehead_with_hair():
    for seed in SEEDS:
        p = _edit(_plain(seed, young=1.0, eyeglasses=0.0), Black_Hair=1.0)
        marks = landmarks(p)
        for bangs in (0.0, 1.0):
            image = render(_edit(p, Bangs=bangs))
            forehead = _patch(image, marks["forehead"], 1).mean((0, 1))
            hair = _patch(image, marks["hair_top"], 1).mean((0, 1))
            to_hair = np.linalg.norm(forehead - hair)
            to_skin = np.linalg.norm(forehead - np.asarray(p.skin))
            assert (to_hair < to_skin) == (bangs == 1.0), (seed, bangs, to_hair, to_skin)


def test_lipstick_turns_the_lips_lipstick_red():
    def to_lipstick(p: FaceParams) -> float:
        marks = landmarks(p)
        lips = _patch(render(p), (marks["mouth"][0], marks["mouth"][1] + 0.006), 1).mean((0, 1))
        return float(np.linalg.norm(lips - np.asarray(p.lipstick_rgb)))

    for seed in SEEDS:
        p = _plain(seed, smiling=0.0, beard=0.0)
        assert to_lipstick(_edit(p, Wearing_Lipstick=1.0)) < to_lipstick(_edit(p, Wearing_Lipstick=0.0)) - 30


def test_age_draws_wrinkle_lines_on_a_smooth_forehead():
    def forehead(p: FaceParams) -> np.ndarray:
        x, y = (int(v * 64) for v in landmarks(p)["forehead"])
        return _lum(render(p)[y - 1 : y + 2, x - 5 : x + 6].astype(float))  # (3, 11)

    for seed in SEEDS:
        p = _plain(seed, bangs=0.0, eyeglasses=0.0, smiling=0.0)
        old, young = forehead(_edit(p, Young=0.0)), forehead(_edit(p, Young=1.0))
        assert young.std() < 3, (seed, young.std())  # plain skin
        assert (old < young - 12).sum() >= 8, seed  # dark lines across it


def test_age_shades_broad_regions_and_leaves_hair_colour_alone():
    """Age must read at low resolution (shaded eye bags and cheeks, sallower skin), and must not
    change hair colour: otherwise the Young direction becomes a hair-colour edit."""
    for seed in SEEDS:
        p = _plain(seed, bangs=0.0, eyeglasses=0.0, smiling=0.0, beard=0.0)
        old, young = _edit(p, Young=0.0), _edit(p, Young=1.0)
        img_old, img_young = render(old, 32), render(young, 32)  # wrinkle lines blur away at 32 px
        for cheek in ("cheek_left", "cheek_right"):  # under the eyes, above the folds
            darker = _lum(_patch(img_young, landmarks(young)[cheek], 1)).mean() - _lum(
                _patch(img_old, landmarks(old)[cheek], 1)).mean()
            assert darker > 8, (seed, cheek, darker)
        top = landmarks(young)["hair_top"]  # the old hairline is lower: this is hair on both
        hair_old, hair_young = (_patch(render(q), top, 2).mean((0, 1)) for q in (old, young))
        assert np.abs(hair_old - hair_young).max() < 3, (seed, hair_old, hair_young)


def _nearest(rgb: np.ndarray, candidates: dict[str, np.ndarray]) -> str:
    return min(candidates, key=lambda name: float(np.linalg.norm(rgb - candidates[name])))


def test_female_faces_have_long_hair_over_the_shoulders():
    for seed in SEEDS:
        p = _edit(_plain(seed, hair_length=0.0), Black_Hair=1.0)
        for male, long_hair in ((0.0, True), (1.0, False)):
            q = _edit(p, Male=male)
            image = render(q)
            colours = {"hair": _patch(image, landmarks(q)["hair_top"], 1).mean((0, 1)),
                       "clothing": np.asarray(q.clothing), "background": np.asarray(GREEN)}  # fmt: skip
            marks = landmarks(_edit(p, Male=0.0))
            for side in ("shoulder_left", "shoulder_right"):
                seen = _nearest(_patch(image, marks[side], 1).mean((0, 1)), colours)
                assert (seen == "hair") == long_hair, (seed, male, side, seen)


def _head_mask(p: FaceParams) -> np.ndarray:
    """Non-background pixels above the mouth (the head and its hair): (rows, 64) bool."""
    image = render(p).astype(float)
    mouth_row = int(landmarks(p)["mouth"][1] * image.shape[0])
    return np.linalg.norm(image[:mouth_row] - np.asarray(GREEN), axis=-1) > 40


def _outline_length(mask: np.ndarray) -> int:
    """Pixels of the mask with a 4-neighbour outside it."""
    inner = mask[1:-1, 1:-1] & mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:]
    return int(mask[1:-1, 1:-1].sum() - inner.sum())


def _side_roughness(mask: np.ndarray) -> float:
    """Mean |second difference| of the left and right silhouette columns, row by row."""
    rows = [m for m in mask if m.any()][2:]
    left = np.array([m.argmax() for m in rows], float)
    right = np.array([m[::-1].argmax() for m in rows], float)
    return float(np.abs(np.diff(left, 2)).mean() + np.abs(np.diff(right, 2)).mean()) / 2


def test_wavy_hair_has_a_bumpy_outline():
    for seed in SEEDS:
        p = _plain(seed, straight=1.0)
        smooth, wavy = (_head_mask(_edit(p, Wavy_Hair=w)) for w in (0.0, 1.0))
        assert _outline_length(wavy) > 1.06 * _outline_length(smooth), seed
        assert _side_roughness(wavy) > 1.05 * _side_roughness(smooth), seed


def test_straight_hair_lies_flat_and_shines():
    for seed in SEEDS:
        p = _edit(_plain(seed, wavy=0.0), Black_Hair=1.0)
        sleek, full = _edit(p, Straight_Hair=1.0), _edit(p, Straight_Hair=0.0)
        assert _head_mask(sleek).sum() < _head_mask(full).sum() - 60, seed  # less volume
        crown = landmarks(p)["hair_top"]
        shine = _lum(_patch(render(sleek), crown, 1)).mean() - _lum(_patch(render(full), crown, 1)).mean()
        assert shine > 15, (seed, shine)


# --- label statistics --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def labels() -> np.ndarray:
    seeds = range(TEST_SEEDS.start, TEST_SEEDS.start + 2000)
    return np.stack([attribute_values(sample_params(s)) for s in seeds]) > 0.5


def _r(labels: np.ndarray, a: str, b: str) -> float:
    return float(np.corrcoef(labels[:, ATTRIBUTES.index(a)], labels[:, ATTRIBUTES.index(b)])[0, 1])


def test_each_binary_label_has_a_reasonable_positive_rate(labels):
    rates = dict(zip(ATTRIBUTES, labels.mean(0).round(3), strict=True))
    assert all(0.2 <= r <= 0.8 for r in rates.values()), rates


def test_labels_are_only_weakly_correlated(labels):
    r = np.corrcoef(labels.T.astype(float))
    np.fill_diagonal(r, 0.0)
    i, j = np.unravel_index(np.abs(r).argmax(), r.shape)
    assert abs(r[i, j]) <= 0.35, (ATTRIBUTES[i], ATTRIBUTES[j], r[i, j])


def test_expected_correlations_have_the_right_sign(labels):
    assert _r(labels, "Gray_Hair", "Young") < -0.08  # grey hair comes with age
    assert _r(labels, "No_Beard", "Male") < -0.08  # beards mostly on men
    assert _r(labels, "Wearing_Lipstick", "Male") < -0.08  # lipstick mostly on women
    assert _r(labels, "Wavy_Hair", "Straight_Hair") < -0.08  # one texture variable, split
