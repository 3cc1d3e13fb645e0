"""Faces of a photo: detect them (`backend.landmarks`), then FFHQ-align one or all with the
geometry of `backend.alignment`; and the command line that does it for a photo file.

CLI: ``python -m backend.alignment IN OUT [--size N] [--face K] [--backend dlib]`` (also
``python -m backend.faces``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from backend.alignment import TRANSFORM_SIZE, align_landmarks, fast_transform_size
from backend.intake import load_photo
from backend.landmarks import (
    LANDMARK_BACKENDS,
    DetectorUnavailableError,
    Face,
    FaceDetector,
    get_detector,
)
from models.errors import InvalidRequestError, NoFaceError, StudioError


@dataclass(frozen=True)
class AlignedFace:
    """One face, aligned.

    Attributes:
        image: the aligned RGB crop, ``size × size``.
        quad: (4, 2) float64 corners in the original photo (pixel centres at integers) that
            the crop's corners ``(0, 0), (0, size), (size, size), (size, 0)`` came from.
        box: the detector box ``(left, top, right, bottom)`` in the photo.
        landmarks: (68, 2) float64 landmarks in the photo.
    """

    image: Image.Image
    quad: np.ndarray = field(repr=False)
    box: tuple[int, int, int, int]
    landmarks: np.ndarray = field(repr=False)


def _no_face(photo: Image.Image) -> NoFaceError:
    w, h = photo.size
    return NoFaceError(
        f"no face found in the {w}×{h} photo; use a photo with a clearly visible, roughly "
        "frontal face at least about 80 pixels wide"
    )


def _align(photo: Image.Image, face: Face, size: int, transform_size: int) -> AlignedFace:
    image, quad = align_landmarks(photo, face.landmarks, size, transform_size=transform_size)
    return AlignedFace(image=image, quad=quad, box=face.box, landmarks=face.landmarks)


def align_faces(
    photo: Image.Image,
    size: int,
    detector: FaceDetector | None = None,
    *,
    transform_size: int = TRANSFORM_SIZE,
) -> list[AlignedFace]:
    """Detect and align every face, largest first.

    Args:
        photo: upright RGB photo (see `backend.intake.load_photo`).
        size: output side in pixels.
        detector: landmark backend; default `get_detector("dlib")`.
        transform_size: see `align_landmarks`.

    Raises:
        NoFaceError: nothing was detected.
    """
    faces = (detector or get_detector("dlib")).detect(photo)
    if not faces:
        raise _no_face(photo)
    return [_align(photo, face, size, transform_size) for face in faces]


def align_face(
    photo: Image.Image,
    size: int,
    face_index: int = 0,
    detector: FaceDetector | None = None,
    *,
    transform_size: int = TRANSFORM_SIZE,
) -> AlignedFace:
    """Detect faces and align the `face_index`-th largest (0: the largest).

    Raises:
        NoFaceError: nothing was detected.
        InvalidRequestError: `face_index` is not one of the detected faces.
    """
    faces = (detector or get_detector("dlib")).detect(photo)
    return align_detected(photo, faces, face_index, size, transform_size=transform_size)


def align_detected(
    photo: Image.Image,
    faces: Sequence[Face],
    face_index: int,
    size: int,
    *,
    transform_size: int = TRANSFORM_SIZE,
) -> AlignedFace:
    """Align the `face_index`-th of `faces` (detected in `photo`, largest first).

    Raises:
        NoFaceError: `faces` is empty.
        InvalidRequestError: `face_index` is not one of them.
    """
    if not faces:
        raise _no_face(photo)
    if not 0 <= face_index < len(faces):
        found = f"{len(faces)} face" + ("" if len(faces) == 1 else "s")
        raise InvalidRequestError(
            f"face index {face_index} is out of range: {found} found, so the index must be "
            f"in 0..{len(faces) - 1} (0 is the largest)"
        )
    return _align(photo, faces[face_index], size, transform_size)


def main(argv: Sequence[str] | None = None) -> int:
    """Align one face of a photo file and write it as PNG.

    Exit status: 0 written, 1 no face, 2 bad input or arguments, 3 landmark backend unavailable.
    """
    parser = argparse.ArgumentParser(
        prog="python -m backend.alignment",
        description="FFHQ-align a face of a photo (JPEG, PNG or WebP) and write a PNG.",
    )
    parser.add_argument("input", type=Path, help="photo to read")
    parser.add_argument("output", type=Path, help="PNG to write")
    parser.add_argument("--size", type=int, default=256, help="output side in px (256)")
    parser.add_argument("--face", type=int, default=0, help="face index, 0 = largest (0)")
    parser.add_argument(
        "--backend", choices=LANDMARK_BACKENDS, default="dlib", help="landmark backend (dlib)"
    )
    parser.add_argument(
        "--fast",
        action="store_true",
        help="warp at 4 × size instead of 4096 (differs by at most 2/255 levels)",
    )
    parser.add_argument(
        "--transform-size",
        type=int,
        default=TRANSFORM_SIZE,
        help=f"intermediate warp size ({TRANSFORM_SIZE}, as official)",
    )
    parser.add_argument("--max-bytes", type=int, default=64 * 2**20, help="input byte limit")
    parser.add_argument("--max-pixels", type=int, default=100_000_000, help="input pixel limit")
    args = parser.parse_args(argv)
    if args.fast:
        args.transform_size = fast_transform_size(args.size)
    if not 1 <= args.size <= args.transform_size:
        parser.error(f"--size must be in 1..{args.transform_size}, got {args.size}")

    try:
        data = args.input.read_bytes()
    except OSError as exc:
        print(f"error: cannot read {args.input}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        photo = load_photo(data, max_bytes=args.max_bytes, max_pixels=args.max_pixels)
        aligned = align_face(
            photo,
            args.size,
            args.face,
            get_detector(args.backend),
            transform_size=args.transform_size,
        )
    except NoFaceError as exc:
        print(f"no_face: {args.input}: {exc.message}", file=sys.stderr)
        return 1
    except StudioError as exc:
        print(f"{exc.code}: {args.input}: {exc.message}", file=sys.stderr)
        return 2
    except DetectorUnavailableError as exc:
        print(f"detector_unavailable: {exc}", file=sys.stderr)
        return 3
    aligned.image.save(args.output, format="PNG")
    return 0


if __name__ == "__main__":
    sys.exit(main())
