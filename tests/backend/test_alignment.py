"""FFHQ alignment: the quad construction, where the eyes land, faithfulness to the official
output, the quad kept in photo coordinates through shrink/crop/pad, EXIF, face selection."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage
from PIL import Image
from skimage.metrics import structural_similarity

from backend.alignment import (
    TRANSFORM_SIZE,
    align_landmarks,
    fast_transform_size,
    ffhq_quad,
    paste_back,
    paste_mask,
    perspective_coefficients,
)
from backend.faces import AlignedFace, align_face, align_faces
from backend.intake import load_photo
from backend.landmarks import FaceDetector
from models.errors import InvalidRequestError, NoFaceError

MakeLandmarks = Callable[..., np.ndarray]
REFERENCE_FACES = ["sandy", "1_a", "1_b"]


def ssim(a: Image.Image, b: Image.Image) -> float:
    return float(structural_similarity(np.asarray(a), np.asarray(b), channel_axis=2))


def unit_square_of(quad: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Photo points (pixel centres) → coordinates in the aligned square, [0, 1]²."""
    coeffs = perspective_coefficients(quad + 0.5, np.array([[0, 0], [0, 1], [1, 1], [1, 0]]))
    a, b, c, d, e, f, g, h = coeffs
    x, y = points[:, 0] + 0.5, points[:, 1] + 0.5
    w = g * x + h * y + 1
    return np.stack([(a * x + b * y + c) / w, (d * x + e * y + f) / w], axis=1)


# ------------------------------------------------------------------------- quad geometry


def test_quad_of_an_upright_face_in_closed_form(make_landmarks: MakeLandmarks) -> None:
    # eyes 40 apart, mouth 50 below: x = eye_to_eye − rot(eye_to_mouth) = (90, 0), and
    # max(2·40, 1.8·50) = 90; centre = eye midpoint + 0.1·(0, 50)
    quad, qsize = ffhq_quad(make_landmarks((100, 100), (140, 100), (105, 150), (135, 150)))
    assert quad.tolist() == [[30, 15], [30, 195], [210, 195], [210, 15]]
    assert qsize == 180
    # a long face: the eye-to-mouth term decides the size, 1.8·60 = 108 > 2·40
    quad, qsize = ffhq_quad(make_landmarks((100, 100), (140, 100), (105, 160), (135, 160)))
    assert np.allclose(quad, [[12, -2], [12, 214], [228, 214], [228, -2]]) and qsize == 216


def test_quad_turns_with_the_face(make_landmarks: MakeLandmarks) -> None:
    lm = make_landmarks((100, 100), (140, 102), (106, 150), (133, 151))
    angle = np.deg2rad(33.0)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    quad, qsize = ffhq_quad(lm)
    turned, turned_size = ffhq_quad(lm @ rot.T + [7, -3])
    assert np.allclose(turned, quad @ rot.T + [7, -3]) and turned_size == pytest.approx(qsize)


def test_quad_rejects_other_landmark_layouts() -> None:
    with pytest.raises(ValueError, match=r"expected \(68, 2\) landmarks, got shape \(5, 2\)"):
        ffhq_quad(np.zeros((5, 2)))


# -------------------------------------------------------------------------- real photos


def test_astronaut_eyes_land_at_the_ffhq_position(
    aligned_astronaut: AlignedFace, dlib_detector: FaceDetector
) -> None:
    n = 256
    assert aligned_astronaut.image.size == (n, n) and aligned_astronaut.image.mode == "RGB"
    lm = aligned_astronaut.landmarks
    eye_left, eye_right = lm[36:42].mean(0), lm[42:48].mean(0)
    eye_avg = (eye_left + eye_right) / 2
    eye_to_eye = eye_right - eye_left
    eye_to_mouth = (lm[48] + lm[54]) / 2 - eye_avg
    # FFHQ construction: the square's centre is eye_avg + 0.1·eye_to_mouth, its axes x̂, ŷ
    x_dir = eye_to_eye - np.array([-eye_to_mouth[1], eye_to_mouth[0]])  # e2e − rot(e2m)
    x_dir /= np.linalg.norm(x_dir)
    y_dir = np.array([-x_dir[1], x_dir[0]])
    side = 2 * max(2.0 * np.linalg.norm(eye_to_eye), 1.8 * np.linalg.norm(eye_to_mouth))
    offset = -0.1 * eye_to_mouth  # eye_avg − centre
    expected = n / 2 + n * np.array([offset @ x_dir, offset @ y_dir]) / side - 0.5
    # here the eye distance decides the size, so the eyes sit n/4 apart, at ~0.475·n height
    assert 2.0 * np.linalg.norm(eye_to_eye) > 1.8 * np.linalg.norm(eye_to_mouth)
    assert 0.46 * n < expected[1] < 0.48 * n and abs(expected[0] - n / 2) < 2

    # 1. the returned quad sends the photo's eye midpoint there
    unit = unit_square_of(aligned_astronaut.quad, eye_avg[None])[0]
    assert np.allclose(unit * n - 0.5, expected, atol=0.05)
    # 2. the pixels agree: landmarks re-detected on the aligned crop
    (face,) = dlib_detector.detect(aligned_astronaut.image)
    found_left, found_right = face.landmarks[36:42].mean(0), face.landmarks[42:48].mean(0)
    assert np.abs((found_left + found_right) / 2 - expected).max() < 2.0
    assert abs(np.linalg.norm(found_right - found_left) - n / 4) < 2.0
    assert abs(found_right[1] - found_left[1]) < 1.5  # eyes level


def test_astronaut_quad_is_in_photo_coordinates(aligned_astronaut: AlignedFace) -> None:
    quad, _ = ffhq_quad(aligned_astronaut.landmarks)
    assert np.allclose(aligned_astronaut.quad, quad)  # no shrink at this size: the same square


@pytest.fixture(scope="module")
def realigned_references(
    reference_dir: Path, dlib_detector: FaceDetector
) -> dict[str, tuple[Image.Image, AlignedFace]]:
    """name → (reference crop, the crop aligned again at 256 px with the faithful settings)."""
    out = {}
    for name in REFERENCE_FACES:
        data = (reference_dir / "data" / f"{name}.png").read_bytes()
        photo = load_photo(data, max_bytes=10 * 2**20, max_pixels=10**7)
        # only sandy's pixels are compared with the official output; the others' squares
        # do not depend on the warp size
        warp = TRANSFORM_SIZE if name == "sandy" else fast_transform_size(256)
        out[name] = (photo, align_face(photo, 256, detector=dlib_detector, transform_size=warp))
    return out


IDENTITY_SQUARE = np.array([[0, 0], [0, 256], [256, 256], [256, 0]]) - 0.5


@pytest.mark.parametrize("name", REFERENCE_FACES)
def test_reference_faces_realign_to_nearly_the_same_square(
    realigned_references: dict[str, tuple[Image.Image, AlignedFace]], name: str
) -> None:
    """These 256-px crops are official align.py outputs: aligning them again should find the
    square they already are, up to dlib's landmark noise (a few px)."""
    _, aligned = realigned_references[name]
    assert np.abs(aligned.quad - IDENTITY_SQUARE).max() < 4.5
    assert aligned.image.size == (256, 256)


def test_sandy_realigns_to_itself(
    realigned_references: dict[str, tuple[Image.Image, AlignedFace]],
) -> None:
    """sandy.png is the official CLI output for a photo without EXIF rotation: re-aligning
    it must reproduce it (SSIM ≥ 0.9), with a square within a pixel of the identity.

    (1_a and 1_b cannot reach 0.9 with any dlib landmarks: a 1-px shift of either against
    itself already scores 0.71/0.77, and dlib's detections on them spread over 1.3–2.2 % in
    scale — see docs/alignment.md and scripts/alignment_repeatability.py. The square test
    above covers them.)
    """
    photo, aligned = realigned_references["sandy"]
    assert np.abs(aligned.quad - IDENTITY_SQUARE).max() < 1.0
    assert ssim(aligned.image, photo) >= 0.9


def test_exif_rotated_photo_aligns_like_the_upright_one(
    astronaut: Image.Image,
    aligned_astronaut: AlignedFace,
    dlib_detector: FaceDetector,
    encode: Callable[..., bytes],
) -> None:
    sideways = astronaut.transpose(Image.Transpose.ROTATE_270)  # camera held the other way
    exif = Image.Exif()
    exif[0x0112] = 8  # "rotate 90° counter-clockwise to display"
    data = encode(sideways, "JPEG", quality=95, exif=exif.tobytes())
    assert dlib_detector.detect(sideways) == []  # without the tag there is no upright face
    photo = load_photo(data, max_bytes=2**24, max_pixels=10**7)
    aligned = align_face(photo, 256, detector=dlib_detector, transform_size=1024)
    assert np.abs(aligned.quad - aligned_astronaut.quad).max() < 3.0
    assert ssim(aligned.image, aligned_astronaut.image) > 0.9


def test_face_index_selects_and_is_checked(astronaut: Image.Image, dlib_detector: FaceDetector) -> None:
    canvas = Image.new("RGB", (512 + 360, 512), (128, 128, 128))
    canvas.paste(astronaut, (0, 0))
    canvas.paste(astronaut.resize((360, 360), Image.Resampling.LANCZOS), (512, 80))
    both = align_faces(canvas, 64, dlib_detector, transform_size=256)
    assert [f.image.size for f in both] == [(64, 64), (64, 64)]
    assert both[0].quad[:, 0].max() < 512 < both[1].quad[:, 0].min()
    second = align_face(canvas, 64, 1, dlib_detector, transform_size=256)
    assert np.allclose(second.quad, both[1].quad)
    for index in (2, -1):
        with pytest.raises(InvalidRequestError) as info:
            align_face(canvas, 64, index, dlib_detector)
        assert info.value.message == (
            f"face index {index} is out of range: 2 faces found, so the index must be in 0..1 "
            "(0 is the largest)"
        )


def test_no_face_is_a_no_face_error(dlib_detector: FaceDetector) -> None:
    blank = Image.new("RGB", (320, 240), (200, 180, 160))
    for call in (lambda: align_face(blank, 256, detector=dlib_detector),
                 lambda: align_faces(blank, 256, dlib_detector)):
        with pytest.raises(NoFaceError) as info:
            call()
        assert info.value.code == "no_face" and "320×240" in info.value.message


def test_size_must_fit_the_transform(astronaut: Image.Image, aligned_astronaut: AlignedFace) -> None:
    with pytest.raises(ValueError, match="size must be in"):
        align_landmarks(astronaut, aligned_astronaut.landmarks, 512, transform_size=256)


# ------------------------------------------------ the quad survives shrink, crop and padding


def estimated_shift(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """(dx, dy) such that after(p) ≈ before(p − d): one least-squares (Lucas–Kanade) step,
    accurate to a few hundredths of a pixel for sub-3-px shifts of a smooth image."""
    grad_y, grad_x = np.gradient(before)
    jacobian = np.stack([grad_x.ravel(), grad_y.ravel()], axis=1)
    shift, *_ = np.linalg.lstsq(jacobian, (before - after).ravel(), rcond=None)
    return shift


def smooth_texture(width: int, height: int, seed: int = 0) -> Image.Image:
    """Blurred noise: detail at every orientation, smooth enough to survive downscaling."""
    rng = np.random.default_rng(seed)
    noise = scipy.ndimage.gaussian_filter(rng.normal(size=(height, width, 3)), (12, 12, 0))
    noise = (noise - noise.min()) / (noise.max() - noise.min())
    return Image.fromarray(np.uint8(np.rint(noise * 255)), "RGB")


@pytest.mark.parametrize(
    ("eyes_y", "size", "shrinks", "pads"),
    [
        (560.0, 64, True, False),  # big face, small output: the photo is shrunk 4× first
        (120.0, 64, True, True),  # and the face near the top: the quad leaves the photo
        (560.0, 256, False, False),  # neither
    ],
)
def test_pasting_an_unedited_crop_back_lands_on_the_same_pixels(
    make_landmarks: MakeLandmarks, eyes_y: float, size: int, shrinks: bool, pads: bool
) -> None:
    photo = smooth_texture(1501, 1203)  # odd sizes: the 4× shrink rounds differently per axis
    lm = make_landmarks((690.0, eyes_y), (840.0, eyes_y + 4.0), (700.0, eyes_y + 160.0),
                        (830.0, eyes_y + 163.0))
    quad, qsize = ffhq_quad(lm)
    assert (int(qsize / size * 0.5) > 1) == shrinks
    assert (quad[:, 1].min() < 0) == pads
    image, photo_quad = align_landmarks(photo, lm, size, transform_size=1024)
    pasted = paste_back(photo, image, photo_quad)

    mask, (left, top, _, _) = paste_mask(photo.size, photo_quad)
    core = mask >= 1.0
    rows, cols = np.nonzero(core)
    window = (slice(top + rows.min(), top + rows.max()), slice(left + cols.min(), left + cols.max()))
    before = np.asarray(photo.convert("L"), dtype=np.float64)[window]
    after = np.asarray(pasted.convert("L"), dtype=np.float64)[window]
    shift = estimated_shift(before, after)
    assert np.abs(shift).max() <= 0.25, f"pasted face is shifted by {shift} px"
    assert np.abs(before - after).mean() < 6.0


# --------------------------------------------------------------- the fast warp is equivalent


def test_fast_transform_size_is_four_times_the_output() -> None:
    assert [fast_transform_size(n) for n in (64, 256, 1024, 2048)] == [256, 1024, 4096, 4096]


def test_fast_warp_matches_the_faithful_one_on_a_photo(
    astronaut: Image.Image, aligned_astronaut: AlignedFace
) -> None:
    fast, quad = align_landmarks(
        astronaut, aligned_astronaut.landmarks, 256, transform_size=fast_transform_size(256)
    )
    diff = np.abs(np.asarray(fast, np.int16) - np.asarray(aligned_astronaut.image, np.int16))
    assert diff.max() <= 2 and diff.mean() <= 0.25
    assert np.allclose(quad, aligned_astronaut.quad)


def test_fast_warp_matches_the_faithful_one_through_shrink_and_padding(
    make_landmarks: MakeLandmarks,
) -> None:
    photo = smooth_texture(1501, 1203, seed=1).rotate(11, Image.Resampling.BICUBIC)
    lm = make_landmarks((690.0, 120.0), (840.0, 140.0), (690.0, 280.0), (820.0, 300.0))
    faithful, _ = align_landmarks(photo, lm, 64)
    fast, _ = align_landmarks(photo, lm, 64, transform_size=fast_transform_size(64))
    diff = np.abs(np.asarray(fast, np.int16) - np.asarray(faithful, np.int16))
    assert diff.max() <= 2 and diff.mean() <= 0.25
    # and a too-small warp would not pass: the check has teeth
    coarse, _ = align_landmarks(photo, lm, 64, transform_size=64)
    assert np.abs(np.asarray(coarse, np.int16) - np.asarray(faithful, np.int16)).max() > 2


def test_mirror_map_of_the_repeatability_script_swaps_sides() -> None:
    from scripts.alignment_repeatability import MIRROR_68

    assert sorted(MIRROR_68) == list(range(68))
    assert all(MIRROR_68[MIRROR_68[i]] == i for i in range(68))  # an involution
    assert MIRROR_68[36] == 45 and MIRROR_68[48] == 54 and MIRROR_68[30] == 30  # eyes, mouth, nose tip
