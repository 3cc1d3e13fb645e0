"""Face detection with 68 landmarks (the iBUG 300-W layout FFHQ alignment is defined on).

Two backends behind one small interface, chosen by the `ALIGN_BACKEND` setting:

- ``"dlib"`` (default): HOG frontal-face detector with one upsampling pass and the 68-point
  shape predictor shipped by the `face-recognition-models` package — offline, and the
  detector the FFHQ data set and DiffAE's `align.py` were aligned with.
- ``"face_alignment"``: the `face-alignment` package (S3FD or BlazeFace detector + 2D-FAN).
  It needs PyTorch and weights already present in the torch hub cache; it never downloads.

Models load lazily, once per process, on the first `detect` (or an explicit `load`). Nothing
here imports torch: the face-alignment package is imported inside its backend only.
"""

from __future__ import annotations

import importlib.util
import math
import threading
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

import numpy as np
from PIL import Image

LANDMARK_BACKENDS = ("dlib", "face_alignment")
FA_FACE_DETECTORS = ("sfd", "blazeface")
DLIB_PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"


@dataclass(frozen=True)
class Face:
    """One detected face.

    Attributes:
        box: detector rectangle ``(left, top, right, bottom)`` in pixels, clipped to the image.
        landmarks: (68, 2) float64 ``(x, y)`` pixel coordinates (pixel centres at integers),
            in the iBUG 68-point order (36–41 left eye, 42–47 right eye, 48/54 mouth corners).
        score: detector confidence (dlib: SVM margin, > 0 is a detection; face-alignment:
            probability in [0, 1]).
    """

    box: tuple[int, int, int, int]
    landmarks: np.ndarray = field(repr=False)
    score: float = 0.0

    @property
    def area(self) -> int:
        left, top, right, bottom = self.box
        return max(right - left, 0) * max(bottom - top, 0)


class FaceDetector(Protocol):
    """What alignment needs from a landmark backend."""

    name: str

    def detect(self, image: Image.Image) -> list[Face]:
        """All faces in an RGB image, largest box first."""
        ...


class DetectorUnavailableError(RuntimeError):
    """A landmark backend cannot start: its package or model files are missing.

    A deployment problem, not a client error: the message says what is missing and where
    it was expected.
    """


def _largest_first(faces: list[Face]) -> list[Face]:
    return sorted(faces, key=lambda f: (f.area, f.score), reverse=True)


def _clip_box(
    left: float, top: float, right: float, bottom: float, width: int, height: int
) -> tuple[int, int, int, int]:
    return (
        int(np.clip(round(left), 0, width)),
        int(np.clip(round(top), 0, height)),
        int(np.clip(round(right), 0, width)),
        int(np.clip(round(bottom), 0, height)),
    )


def dlib_predictor_path() -> Path:
    """Where `face-recognition-models` keeps the 68-point predictor.

    Found from the package's location on disk, without importing it (its `__init__` needs
    `pkg_resources`, which modern setuptools no longer ships).
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None:
        raise DetectorUnavailableError(
            "the dlib backend needs the 'face-recognition-models' package for "
            f"{DLIB_PREDICTOR_FILE}; install it (pip install face-recognition-models)"
        )
    if spec.submodule_search_locations:
        package_dir = Path(next(iter(spec.submodule_search_locations)))
    else:
        package_dir = Path(str(spec.origin)).parent
    path = package_dir / "models" / DLIB_PREDICTOR_FILE
    if not path.is_file():
        raise DetectorUnavailableError(f"{DLIB_PREDICTOR_FILE} not found: expected it at {path}")
    return path


class DlibDetector:
    """dlib HOG detector (``upsample`` pyramid-up passes) + 68-point shape predictor.

    Args:
        upsample: upsampling passes of the detector (1, as in the official `align.py`).
        min_score: detections scoring below this are dropped. The official code keeps every
            detection (score > 0); weak ones are mostly false positives — in
            `skimage.data.astronaut()` the mission patch scores 0.12, with the face's size.
        predictor_path: the .dat file; default: the one in `face-recognition-models`.
        max_detect_pixels: None (the official way): the detector scans the full photo. A number:
            larger photos are scanned on a copy shrunk to about that many pixels, and the
            68-point predictor still runs on the full photo, in the detector's box scaled back.
            The HOG scan's cost grows with the pixel count (4-5 s for a 12-Mpx photo on 2
            cores, 1.4-1.8 s for its 4.2-Mpx copy). dlib's boxes come in pyramid steps, so the
            box, and with it the landmarks, can differ from the full scan's: by ~1 % of the eye
            distance on average (docs/alignment.md). Faces smaller than ~40 px ÷ the shrink
            factor are missed.
    """

    name = "dlib"

    def __init__(
        self,
        *,
        upsample: int = 1,
        min_score: float = 0.3,
        predictor_path: Path | None = None,
        max_detect_pixels: int | None = None,
    ) -> None:
        if max_detect_pixels is not None and max_detect_pixels < 1:
            raise ValueError(f"max_detect_pixels must be positive or None, got {max_detect_pixels}")
        self.upsample = upsample
        self.min_score = min_score
        self.predictor_path = predictor_path
        self.max_detect_pixels = max_detect_pixels
        self._models: tuple[Any, Any] | None = None

    def load(self) -> None:
        """Load detector and predictor now (otherwise done by the first `detect`)."""
        with _DLIB_LOCK:
            self._load_locked()

    def _load_locked(self) -> tuple[Any, Any]:
        if self._models is None:
            self._models = _dlib_models(self.predictor_path or dlib_predictor_path())
        return self._models

    def _scan_copy(self, rgb: Image.Image) -> tuple[np.ndarray, float, float] | None:
        """(pixels, x factor, y factor) of the shrunk copy to scan, or None to scan `rgb` itself."""
        width, height = rgb.size
        if self.max_detect_pixels is None or width * height <= self.max_detect_pixels:
            return None
        shrink = math.sqrt(self.max_detect_pixels / (width * height))
        size = (max(1, round(width * shrink)), max(1, round(height * shrink)))
        small = rgb.resize(size, Image.Resampling.BOX)  # area average: no aliasing for the HOG scan
        return np.asarray(small), width / size[0], height / size[1]

    def detect(self, image: Image.Image) -> list[Face]:
        """All faces scoring at least `min_score`, largest box first."""
        rgb = image.convert("RGB")
        pixels = np.asarray(rgb)
        scan = self._scan_copy(rgb)
        faces = []
        with _DLIB_LOCK:
            detector, predictor = self._load_locked()
            rects, scores, _ = detector.run(pixels if scan is None else scan[0], self.upsample, 0.0)
            for rect, score in zip(rects, scores, strict=True):
                if score < self.min_score:
                    continue
                if scan is not None:
                    rect = _scale_rect(rect, scan[1], scan[2])
                shape = predictor(pixels, rect)
                points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
                box = _clip_box(rect.left(), rect.top(), rect.right(), rect.bottom(), *image.size)
                faces.append(Face(box=box, landmarks=points, score=float(score)))
        return _largest_first(faces)


def _scale_rect(rect: Any, fx: float, fy: float) -> Any:
    """A dlib rectangle of a shrunk copy in the full photo's pixels (pixel centres mapped:
    i → (i + 0.5)·f − 0.5; dlib's right and bottom are inclusive)."""
    import dlib

    def at(i: int, f: float) -> int:
        return round((i + 0.5) * f - 0.5)

    return dlib.rectangle(
        at(rect.left(), fx), at(rect.top(), fy), at(rect.right(), fx), at(rect.bottom(), fy)
    )


# dlib's objects are not documented as thread-safe, and detectors share them (below).
_DLIB_LOCK = threading.Lock()


@cache
def _dlib_models(predictor_path: Path) -> tuple[Any, Any]:
    """(detector, shape predictor), loaded once per process and predictor file."""
    try:
        import dlib
    except ImportError as exc:
        raise DetectorUnavailableError(
            "the dlib backend needs the 'dlib' module (pip install dlib-bin)"
        ) from exc
    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(predictor_path))


def _url_file_name(url: str) -> str:
    return Path(urlparse(url).path).name


class FaceAlignmentDetector:
    """The `face-alignment` package (2D-FAN landmarks on S3FD or BlazeFace boxes).

    Weights are read from the torch hub cache (``$TORCH_HOME/hub/checkpoints``, default
    ``~/.cache/torch/hub/checkpoints``); when a file is missing, `load` raises
    `DetectorUnavailableError` naming it instead of letting the package download it.

    Args:
        device: torch device string, e.g. "cpu" or "cuda".
        face_detector: "sfd" (S3FD, accurate) or "blazeface" (small, fast, front faces).
    """

    name = "face_alignment"

    def __init__(self, *, device: str = "cpu", face_detector: str = "sfd") -> None:
        if face_detector not in FA_FACE_DETECTORS:
            raise ValueError(
                f"unknown face-alignment face detector {face_detector!r}; "
                f"allowed: {', '.join(FA_FACE_DETECTORS)}"
            )
        self.device = device
        self.face_detector = face_detector
        self._model: Any = None
        self._lock = threading.Lock()

    def weight_files(self) -> dict[str, Path]:
        """Role → path of every file this configuration needs, in the torch hub cache.

        File names come from the installed package's own download URLs, so they follow
        the package version.
        """
        try:
            from face_alignment import api
            from face_alignment.utils import get_dir
        except ImportError as exc:
            raise DetectorUnavailableError(
                f"ALIGN_BACKEND=face_alignment needs the 'face-alignment' package and PyTorch ({exc})"
            ) from exc
        checkpoints = Path(get_dir()) / "checkpoints"
        urls = {"landmarks (2D-FAN-4)": api.models_urls["2DFAN-4"]}
        if self.face_detector == "sfd":
            from face_alignment.detection.sfd import sfd_detector

            urls["face detector (S3FD)"] = sfd_detector.models_urls["s3fd"]
        else:
            from face_alignment.detection.blazeface import blazeface_detector

            urls["face detector (BlazeFace)"] = blazeface_detector.models_urls["blazeface_weights"]
            urls["face detector anchors (BlazeFace)"] = blazeface_detector.models_urls["blazeface_anchors"]
        return {role: checkpoints / _url_file_name(url) for role, url in urls.items()}

    def load(self) -> None:
        """Construct the model now (otherwise done by the first `detect`)."""
        with self._lock:
            self._load_locked()

    def _load_locked(self) -> Any:
        if self._model is not None:
            return self._model
        files = self.weight_files()
        missing = [f"{path.name} ({role})" for role, path in files.items() if not path.is_file()]
        if missing:
            directory = next(iter(files.values())).parent
            raise DetectorUnavailableError(
                f"ALIGN_BACKEND=face_alignment: missing weight file(s) {', '.join(missing)} "
                f"in {directory} (the torch hub cache, $TORCH_HOME/hub/checkpoints); "
                "copy them there — they are not downloaded at run time"
            )
        import face_alignment

        paths = list(files.values())
        if self.face_detector == "sfd":
            kwargs = {"path_to_detector": str(paths[1])}
        else:
            kwargs = {"path_to_detector": str(paths[1]), "path_to_anchor": str(paths[2])}
        self._model = face_alignment.FaceAlignment(
            face_alignment.LandmarksType.TWO_D,
            device=self.device,
            face_detector=self.face_detector,
            face_detector_kwargs=kwargs,
            compile=False,
        )
        return self._model

    def detect(self, image: Image.Image) -> list[Face]:
        """All faces found by the face detector, largest box first."""
        pixels = np.asarray(image.convert("RGB"))
        with self._lock:
            model = self._load_locked()
            landmarks, _, boxes = model.get_landmarks_from_image(pixels, return_bboxes=True)
        return faces_from_face_alignment(landmarks, boxes, image.size)


def faces_from_face_alignment(
    landmarks: list[np.ndarray] | None,
    boxes: list[np.ndarray] | None,
    size: tuple[int, int],
) -> list[Face]:
    """Convert `FaceAlignment.get_landmarks_from_image(..., return_bboxes=True)` output.

    Args:
        landmarks: one (68, 2) array per face, or None when nothing was found.
        boxes: one ``[x1, y1, x2, y2, score]`` array per face, or None.
        size: (width, height) of the image, to clip the boxes.
    """
    if not landmarks or boxes is None:
        return []
    faces = []
    for points, box in zip(landmarks, boxes, strict=True):
        points = np.asarray(points, dtype=np.float64)[:, :2]
        left, top, right, bottom = (float(v) for v in box[:4])
        score = float(box[4]) if len(box) > 4 else 1.0
        faces.append(Face(box=_clip_box(left, top, right, bottom, *size), landmarks=points, score=score))
    return _largest_first(faces)


@cache
def get_detector(
    name: str = "dlib",
    *,
    device: str = "cpu",
    face_detector: str = "sfd",
    max_detect_pixels: int | None = None,
) -> FaceDetector:
    """The process-wide detector for the `ALIGN_BACKEND` setting `name`.

    The same object is returned for the same arguments, so models load once per process
    (lazily, on first use). `device` and `face_detector` apply to "face_alignment" only,
    `max_detect_pixels` to "dlib" only (see `DlibDetector`).
    """
    if name == "dlib":
        return DlibDetector(max_detect_pixels=max_detect_pixels)
    if name == "face_alignment":
        return FaceAlignmentDetector(device=device, face_detector=face_detector)
    raise ValueError(f"unknown ALIGN_BACKEND {name!r}; allowed: {', '.join(LANDMARK_BACKENDS)}")
