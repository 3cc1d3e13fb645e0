"""Fixtures for the backend tests: the astronaut photo, the dlib detector, its aligned face."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest
import skimage.data
from PIL import Image

from backend.faces import AlignedFace, align_face
from backend.landmarks import FaceDetector, get_detector


def _encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def encode() -> Callable[..., bytes]:
    """``encode(image, fmt, **save_params)``: the image saved to bytes in format `fmt`."""
    return _encode


@pytest.fixture(scope="session")
def astronaut() -> Image.Image:
    """skimage's astronaut, 512×512 RGB, one face (Eileen Collins)."""
    return Image.fromarray(skimage.data.astronaut())


@pytest.fixture(scope="session")
def dlib_detector() -> FaceDetector:
    return get_detector("dlib")


@pytest.fixture(scope="session")
def aligned_astronaut(astronaut: Image.Image, dlib_detector: FaceDetector) -> AlignedFace:
    """The astronaut's face aligned at 256 px with the faithful settings (transform 4096)."""
    return align_face(astronaut, 256, detector=dlib_detector)


def _synthetic_landmarks(
    eye_left: tuple[float, float],
    eye_right: tuple[float, float],
    mouth_left: tuple[float, float],
    mouth_right: tuple[float, float],
) -> np.ndarray:
    """68 points where only the ones FFHQ alignment reads are meaningful."""
    lm = np.zeros((68, 2))
    lm[36:42] = eye_left
    lm[42:48] = eye_right
    lm[48] = mouth_left
    lm[54] = mouth_right
    return lm


@pytest.fixture(scope="session")
def make_landmarks() -> Callable[..., np.ndarray]:
    """``make_landmarks(eye_left, eye_right, mouth_left, mouth_right)`` → (68, 2) points."""
    return _synthetic_landmarks
