"""A drawn face: every latent factor (`FaceParams`) and its geometry (the face generator's model;
sampling and labels are in `models.facegen.drawn`, drawing in `models.facegen.render`).

Geometry is written in *face coordinates*: units of the image width, origin at the face centre,
y pointing down. `layout` derives a face's outline and feature positions, `transforms` maps face
coordinates to pixels (body frame, and the head frame rolled about the neck), and `landmarks`
says where the features land in the image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

# Hair palette, indexed by FaceParams.hair_mix; "red" stands for every unlabelled colour.
HAIR_COLOURS: tuple[str, ...] = ("black", "brown", "blond", "gray", "red")
HAIR_RGB = np.array(
    [(32, 27, 26), (112, 72, 42), (228, 192, 118), (182, 182, 186), (160, 70, 36)], dtype=float
)

RGB = tuple[float, float, float]


@dataclass(frozen=True)
class FaceParams:
    """Every latent factor of one face. Lengths are in image widths, angles in radians."""

    # Labelled attributes, each in [0, 1].
    young: float
    male: float
    smiling: float
    wavy: float
    straight: float
    hair_mix: tuple[float, float, float, float, float]  # weights over HAIR_COLOURS, sum 1
    bangs: float
    eyeglasses: float
    beard: float  # No_Beard = 1 - beard
    lipstick: float
    # Nuisance (not labelled).
    skin: RGB
    hair_tint: RGB  # added to the mixed hair colour
    hair_fallback: int  # colour that takes over when an edit removes all others
    hair_length: float  # offset on the Male-driven length, [-0.25, 0.2]
    hair_volume: float  # [0, 1]
    parting: float  # x of the crown parting, [-0.05, 0.05]
    wave_phase: float
    face_width: float  # cheekbone half-width, [0.19, 0.225]
    face_length: float  # chin y, [0.29, 0.32]
    jaw: float  # [-1, 1]: narrow to wide jaw
    eye_rgb: RGB
    eye_size: float  # [0.85, 1.15]
    eye_spacing: float  # eye centre |x|, [0.085, 0.1]
    nose_width: float  # [0.85, 1.2]
    nose_length: float  # [-1, 1]
    lip_fullness: float  # [0.8, 1.25]
    yaw: float  # [-1, 1]: features shift horizontally
    roll: float  # head rotation about the neck, [-0.14, 0.14]
    shift: tuple[float, float]  # face centre offset from the image centre, ±0.03
    scale: float  # [0.97, 1.09]
    light_angle: float
    light_strength: float  # [0, 0.22]
    background: tuple[RGB, RGB]
    background_angle: float
    blobs: tuple[tuple[float, ...], ...]  # (x, y, radius, r, g, b, alpha), image coordinates
    clothing: RGB
    neckline: float  # [0, 1]: round to deep V
    frame_rgb: RGB
    frame_shape: float  # superellipse exponent of the lenses, [2, 5]
    lipstick_rgb: RGB



# ---------------------------------------------------------------------------------------------
# Geometry


def smooth(x: float, a: float, b: float) -> float:
    t = min(max((x - a) / (b - a), 0.0), 1.0)
    return t * t * (3 - 2 * t)


def chaikin(pts: np.ndarray, iterations: int) -> np.ndarray:
    """Corner-cutting smoothing of an open polyline (N, 2); the end points are kept."""
    for _ in range(iterations):
        a, b = pts[:-1], pts[1:]
        cut = np.empty((2 * len(a), 2))
        cut[0::2] = 0.75 * a + 0.25 * b
        cut[1::2] = 0.25 * a + 0.75 * b
        pts = np.vstack([pts[:1], cut, pts[-1:]])
    return pts


@cache
def lin(a: float, b: float, n: int) -> np.ndarray:
    grid = np.linspace(a, b, n)
    grid.flags.writeable = False
    return grid


@cache
def _unit_circle(n: int) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    circle = np.stack([np.cos(t), np.sin(t)], axis=1)
    circle.flags.writeable = False
    return circle


def ellipse(
    cx: float, cy: float, rx: float, ry: float, n: int = 32, power: float = 2.0
) -> np.ndarray:
    """A superellipse polygon (n, 2); power 2 is an ellipse, larger is a rounded rectangle."""
    unit = _unit_circle(n)
    if power != 2.0:
        unit = np.sign(unit) * np.abs(unit) ** (2.0 / power)
    return unit * np.array([rx, ry]) + np.array([cx, cy])


def mirror(pts: np.ndarray) -> np.ndarray:
    return pts * np.array([-1.0, 1.0])


@dataclass(frozen=True)
class Layout:
    """Derived geometry of one face (face coordinates, head frame), shared by render/landmarks."""

    age: float
    W: float  # cheekbone half-width
    C: float  # chin y
    side: np.ndarray  # (N, 2) right face outline, crown to chin, y increasing
    eye_x: float  # |x| of the eye centres
    eye_y: float
    brow_y: float
    hairline_y: float
    nose_y: float
    mouth_y: float
    fx: float  # horizontal feature shift from yaw
    hair_len: float  # 0 (crop) .. 1 (past the shoulders)
    neck_w: float

    def half_width(self, y: np.ndarray | float) -> np.ndarray:
        """Face half-width at height y (0 above the crown and below the chin)."""
        return np.interp(y, self.side[:, 1], self.side[:, 0], left=0.0, right=0.0)


def layout(p: FaceParams) -> Layout:
    age = 1.0 - p.young
    W = p.face_width + 0.012 * p.male
    C = p.face_length + 0.012 * p.male + 0.012 * age
    J = W * (0.70 + 0.16 * p.male + 0.05 * p.jaw + 0.09 * age)
    jaw_y = C - 0.09 + 0.02 * age
    chin = 0.03 + 0.035 * p.male + 0.008 * p.jaw
    T = -0.36
    ctrl = np.array([
        (0.0, T), (0.6 * W, T + 0.03), (0.9 * W, -0.21), (W, -0.08), (0.985 * W, 0.02),
        (0.5 * (W + J) + 0.01 * age, jaw_y - 0.07), (J, jaw_y),
        (chin + 0.4 * (J - chin), C - 0.025), (chin, C - 0.004), (0.0, C),
    ])
    side = chaikin(ctrl, 3)
    return Layout(
        age=age, W=W, C=C, side=side, eye_x=p.eye_spacing, eye_y=-0.075,
        brow_y=-0.125 - 0.006 * p.male, hairline_y=-0.245 + (0.015 + 0.04 * p.male) * age,
        nose_y=0.075 + 0.012 * p.nose_length, mouth_y=0.178 + 0.006 * age,
        fx=0.028 * p.yaw,
        hair_len=min(max(0.9 * (1 - p.male) + 0.06 + p.hair_length, 0.0), 1.0),
        neck_w=0.072 + 0.03 * p.male,
    )


_NECK_PIVOT = np.array([0.0, 0.3])


def transforms(p: FaceParams, px: int) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """(A, b) pairs mapping face coordinates to pixels: body frame, then head frame (rolled)."""
    k = p.scale * px
    b = px * (0.5 + np.array(p.shift))
    c, s = math.cos(p.roll), math.sin(p.roll)
    R = np.array([[c, -s], [s, c]])
    return (k * np.eye(2), b), (k * R, b + k * (_NECK_PIVOT - R @ _NECK_PIVOT))


def mouth_curves(p: FaceParams, f: Layout) -> tuple[np.ndarray, ...]:
    """x and the four lip curves (upper outer, upper inner, lower inner, lower outer)."""
    s = p.smiling
    u = lin(-1.0, 1.0, 21)
    mw = 0.062 + 0.034 * s
    rise = 0.032 * s - 0.006 * (1 - s) - 0.008 * f.age
    opening = 0.05 * smooth(s, 0.4, 0.9)
    full = p.lip_fullness * (1 - 0.3 * f.age) * (1 + 0.15 * (1 - p.male)) * (1 + 0.25 * p.lipstick)
    y0 = f.mouth_y - rise * u**2
    yu = y0 - 0.15 * opening * (1 - u**2)
    yl = y0 + opening * (1 - u**2) ** 0.9
    bow = 1 - 0.35 * np.exp(-((u / 0.18) ** 2))
    yU = yu - 0.017 * full * np.sqrt(1 - u**2) * bow
    yL = yl + 0.024 * full * (1 - u**2) ** 0.6
    return 1.6 * f.fx + mw * u, yU, yu, yl, yL


def landmarks(params: FaceParams) -> dict[str, tuple[float, float]]:
    """Where features land, as (x, y) fractions of the image side (x right, y down).

    Keys: left_eye, right_eye (as seen in the image), nose, mouth, mouth_left, mouth_right,
    chin (inside the face, above its lowest point), forehead (midway between brows and
    hairline), hair_top (inside the hair above the forehead), cheek_left, cheek_right,
    shoulder_left, shoulder_right (beside the neck, where long hair falls).
    """
    p = params
    f = layout(p)
    x, _, yu, _, _ = mouth_curves(p, f)
    pts = {
        "left_eye": (-f.eye_x + f.fx, f.eye_y), "right_eye": (f.eye_x + f.fx, f.eye_y),
        "nose": (1.5 * f.fx, f.nose_y), "mouth": (1.6 * f.fx, f.mouth_y),
        "mouth_left": (x[0], yu[0]), "mouth_right": (x[-1], yu[-1]),
        "chin": (0.0, f.C - 0.03), "forehead": (f.fx * 0.5, 0.5 * (f.brow_y + f.hairline_y)),
        "hair_top": (p.parting * 0.5, f.hairline_y - 0.06),
        "cheek_left": (-f.eye_x - 0.01 + f.fx, 0.1), "cheek_right": (f.eye_x + 0.01 + f.fx, 0.1),
        "shoulder_left": (-f.neck_w - 0.045, 0.4), "shoulder_right": (f.neck_w + 0.045, 0.4),
    }
    (A_body, b_body), (A_head, b_head) = transforms(p, 1)
    out = {}
    for name, xy in pts.items():
        A, b = (A_body, b_body) if name.startswith("shoulder") else (A_head, b_head)
        q = A @ np.asarray(xy) + b
        out[name] = (float(q[0]), float(q[1]))
    return out
