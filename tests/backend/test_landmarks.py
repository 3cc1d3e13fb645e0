"""Landmark backends: dlib on real photos, and the face-alignment loader without network."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from backend.landmarks import (
    DLIB_PREDICTOR_FILE,
    DlibDetector,
    FaceAlignmentDetector,
    FaceDetector,
    dlib_predictor_path,
    faces_from_face_alignment,
    get_detector,
)

REPO = Path(__file__).resolve().parents[2]


def test_astronaut_has_exactly_one_face(astronaut: Image.Image, dlib_detector: FaceDetector) -> None:
    faces = dlib_detector.detect(astronaut)
    assert len(faces) == 1
    (face,) = faces
    left, top, right, bottom = face.box
    assert 160 < left < right < 280 and 60 < top < bottom < 180  # the face, not the patch
    assert face.landmarks.shape == (68, 2) and face.landmarks.dtype == np.float64
    eye_left, eye_right = face.landmarks[36:42].mean(0), face.landmarks[42:48].mean(0)
    assert eye_left[0] < eye_right[0]  # image-left eye first, as the FFHQ code expects
    assert face.score > 0.3


def test_weak_detections_are_kept_on_request(astronaut: Image.Image) -> None:
    # The mission patch on the suit scores ~0.12: a face to dlib's default threshold (0).
    faces = DlibDetector(min_score=0.0).detect(astronaut)
    assert len(faces) == 2
    assert faces[0].area >= faces[1].area


def test_two_faces_are_found_largest_first(
    astronaut: Image.Image, dlib_detector: FaceDetector
) -> None:
    small = astronaut.resize((360, 360), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (512 + 360, 512), (128, 128, 128))
    canvas.paste(small, (512, 80))  # the smaller copy to the right, pasted first on purpose
    canvas.paste(astronaut, (0, 0))
    faces = dlib_detector.detect(canvas)
    assert len(faces) == 2
    assert faces[0].area > faces[1].area
    assert faces[0].box[2] <= 512 < faces[1].box[0]
    # the same face at 0.7× scale: box area about 0.49× (dlib's boxes come in pyramid steps)
    assert 0.3 < faces[1].area / faces[0].area < 0.7


def test_faceless_image_gives_no_faces(dlib_detector: FaceDetector) -> None:
    assert dlib_detector.detect(Image.new("RGB", (200, 150), (90, 140, 200))) == []


def test_boxes_are_clipped_to_the_image(astronaut: Image.Image, dlib_detector: FaceDetector) -> None:
    # the face cut at the left edge: dlib's rectangle starts at x = -24
    (face,) = dlib_detector.detect(astronaut.crop((190, 60, 400, 400)))
    left, top, right, bottom = face.box
    assert left == 0 and 0 < top < bottom <= 340 and 0 < right <= 210


def test_big_photos_are_scanned_on_a_shrunk_copy_with_landmarks_at_full_size(
    astronaut: Image.Image, dlib_detector: FaceDetector
) -> None:
    big = astronaut.resize((1536, 1536), Image.Resampling.LANCZOS)  # 2.4 Mpx
    shrunk = DlibDetector(max_detect_pixels=768 * 768)
    pixels, fx, fy = shrunk._scan_copy(big) or pytest.fail("a 2.4-Mpx photo must be shrunk")
    assert pixels.shape == (768, 768, 3) and fx == fy == 2.0
    assert shrunk._scan_copy(astronaut) is None  # under the limit: the photo itself
    assert DlibDetector()._scan_copy(big) is None  # no limit: the official full scan

    (full,) = dlib_detector.detect(big)
    (face,) = shrunk.detect(big)
    # Box and landmarks are in the big photo's pixels (the face spans ~3× the 512² one) and
    # close to the full scan's: dlib's boxes come in pyramid steps, the predictor follows the box.
    assert face.box == pytest.approx(full.box, abs=0.1 * (full.box[2] - full.box[0]))
    eyes = np.linalg.norm(full.landmarks[42:48].mean(0) - full.landmarks[36:42].mean(0))
    assert eyes > 120
    shift = np.linalg.norm(face.landmarks - full.landmarks, axis=1)
    assert shift.mean() < 0.03 * eyes, f"landmarks moved {shift.mean():.1f} px on average"
    with pytest.raises(ValueError, match="max_detect_pixels"):
        DlibDetector(max_detect_pixels=0)


def test_shrunk_boxes_map_pixel_centres_back() -> None:
    import dlib

    from backend.landmarks import _scale_rect

    r = _scale_rect(dlib.rectangle(10, 20, 59, 69), 2.0, 3.0)
    # pixel i of the copy covers [i·f, (i+1)·f) of the photo: its centre is (i + 0.5)·f − 0.5
    assert (r.left(), r.top(), r.right(), r.bottom()) == (20, 61, 118, 208)


def test_predictor_is_found_without_importing_its_package() -> None:
    path = dlib_predictor_path()
    assert path.name == DLIB_PREDICTOR_FILE and path.stat().st_size > 90_000_000
    assert "face_recognition_models" not in sys.modules


def test_get_detector_is_cached_and_checks_the_name() -> None:
    assert get_detector("dlib") is get_detector("dlib")
    assert isinstance(get_detector("dlib"), DlibDetector)
    assert isinstance(get_detector("face_alignment"), FaceAlignmentDetector)  # nothing loaded yet
    with pytest.raises(ValueError, match=r"unknown ALIGN_BACKEND 'mediapipe'; allowed: dlib, "
                                         r"face_alignment"):
        get_detector("mediapipe")
    with pytest.raises(ValueError, match="allowed: sfd, blazeface"):
        FaceAlignmentDetector(face_detector="retinaface")


def test_backend_modules_do_not_import_torch() -> None:
    """Every module of the web tier imports without torch (nor face_alignment until it is asked for)."""
    code = (
        "import importlib, pkgutil, sys\n"
        "import backend\n"
        "for m in pkgutil.walk_packages(backend.__path__, 'backend.'): importlib.import_module(m.name)\n"
        "assert 'backend.app' in sys.modules and 'backend.routes.jobs' in sys.modules\n"
        "backend.landmarks.get_detector('face_alignment')\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "assert 'face_alignment' not in sys.modules, 'face_alignment was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)


def test_face_alignment_output_is_converted_largest_first() -> None:
    points = [np.full((68, 2), 10.0), np.full((68, 2), 50.0)]
    boxes = [np.array([5.2, 5.0, 20.0, 20.0, 0.9]), np.array([30.0, -4.0, 90.4, 70.0, 0.8])]
    faces = faces_from_face_alignment(points, boxes, (80, 60))
    assert [f.box for f in faces] == [(30, 0, 80, 60), (5, 5, 20, 20)]
    assert faces[0].landmarks[0, 0] == 50.0 and faces[0].score == pytest.approx(0.8)
    assert faces_from_face_alignment(None, None, (80, 60)) == []


def test_the_service_shrinks_big_scans_unless_alignment_is_faithful() -> None:
    from backend.settings import Settings
    from backend.upload import detect_pixels

    assert detect_pixels(Settings()) == 2048 * 2048
    assert detect_pixels(Settings(detect_max_pixels=10**6)) == 10**6
    assert detect_pixels(Settings(detect_max_pixels=0)) is None
    assert detect_pixels(Settings(align_faithful=True)) is None
