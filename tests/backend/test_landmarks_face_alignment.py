"""The face-alignment backend: weight files found in the torch hub cache, never downloaded.

These tests import torch themselves (backend/ never does) and build weight files of the right
layout from zeros, so they need neither the network nor the real weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from backend.landmarks import DetectorUnavailableError, Face, FaceAlignmentDetector, FaceDetector

torch = pytest.importorskip("torch", reason="the face-alignment backend needs PyTorch")
pytest.importorskip("face_alignment", reason="the face-alignment package is not installed")


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch hub cache, and any download attempt turned into a test failure."""
    import face_alignment.utils
    import torch.hub

    def no_download(url: str, *args: object, **kwargs: object) -> None:
        raise AssertionError(f"tried to download {url}")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    monkeypatch.setattr(face_alignment.utils, "download_url_to_file", no_download)
    return tmp_path


def test_face_alignment_weight_names_follow_the_package(torch_home: Path) -> None:
    checkpoints = torch_home / "hub" / "checkpoints"
    assert FaceAlignmentDetector(face_detector="sfd").weight_files() == {
        "landmarks (2D-FAN-4)": checkpoints / "2DFAN4-11f355bf06.pth.tar",
        "face detector (S3FD)": checkpoints / "s3fd-619a316812.pth",
    }
    blaze = FaceAlignmentDetector(face_detector="blazeface").weight_files()
    assert sorted(p.name for p in blaze.values()) == [
        "2DFAN4-11f355bf06.pth.tar", "anchors.npy", "blazeface.pth"]


@pytest.mark.parametrize("face_detector", ["sfd", "blazeface"])
def test_missing_weights_name_the_files_and_directory(torch_home: Path, face_detector: str) -> None:
    detector = FaceAlignmentDetector(face_detector=face_detector)
    with pytest.raises(DetectorUnavailableError) as info:
        detector.load()
    message = str(info.value)
    assert "2DFAN4-11f355bf06.pth.tar" in message
    assert ("s3fd-619a316812.pth" in message) == (face_detector == "sfd")
    assert ("blazeface.pth" in message) == (face_detector == "blazeface")
    assert str(torch_home / "hub" / "checkpoints") in message
    assert "not downloaded" in message


def test_present_weights_load_without_network(torch_home: Path) -> None:
    """Weights of the right layout (zeros, made here) in the hub cache → the model builds."""
    from face_alignment.detection.blazeface.net_blazeface import BlazeFace
    from face_alignment.models import FAN

    detector = FaceAlignmentDetector(face_detector="blazeface")
    files = {path.name: path for path in detector.weight_files().values()}
    checkpoints = torch_home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    for name, net in (("2DFAN4-11f355bf06.pth.tar", FAN(4)), ("blazeface.pth", BlazeFace())):
        torch.save({k: torch.zeros_like(v) for k, v in net.state_dict().items()}, files[name])
    # only one of the three present: the error lists the other two
    files["anchors.npy"].unlink(missing_ok=True)
    with pytest.raises(DetectorUnavailableError, match=r"missing weight file\(s\) anchors.npy"):
        detector.load()

    np.save(files["anchors.npy"], np.zeros((896, 4), dtype=np.float32))
    detector.load()
    model = detector._model
    assert model is not None and model.face_detector.face_detector.anchors.shape == (896, 4)
    detector.load()
    assert detector._model is model  # loaded once


def test_real_face_alignment_weights_agree_with_dlib(
    astronaut: Image.Image, dlib_detector: FaceDetector
) -> None:
    detector = FaceAlignmentDetector(face_detector="sfd")
    missing = [p for p in detector.weight_files().values() if not p.is_file()]
    if missing:
        pytest.skip(f"needs the real face-alignment weights: {', '.join(map(str, missing))}")
    (fa_face,) = detector.detect(astronaut)
    (dlib_face,) = dlib_detector.detect(astronaut)
    eyes = slice(36, 48)
    assert isinstance(fa_face, Face)
    assert np.abs(fa_face.landmarks[eyes] - dlib_face.landmarks[eyes]).mean() < 4.0
