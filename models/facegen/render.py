"""Drawing a `FaceParams` (the face generator's renderer; the face's parameters and geometry are
in `models.facegen.face`, sampling and labels in `models.facegen.drawn`).

`render` draws with Pillow at `size * supersample` pixels and box-downsamples, which
anti-aliases every shape. Shapes are given in face coordinates (`models.facegen.face`) and drawn
through the body or the (rolled) head frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from models.facegen.face import (
    HAIR_RGB,
    FaceParams,
    Layout,
    chaikin,
    ellipse,
    layout,
    lin,
    mirror,
    mouth_curves,
    smooth,
    transforms,
)


class _Pen:
    """Draws polygons and polylines given in face coordinates onto a blending RGBA canvas."""

    def __init__(self, draw: ImageDraw.ImageDraw, A: np.ndarray, b: np.ndarray, k: float):
        self.draw, self.A, self.b, self.k = draw, A, b, k

    def _px(self, pts: np.ndarray) -> list[float]:
        return (pts @ self.A.T + self.b).ravel().tolist()

    def poly(self, pts: np.ndarray, fill: tuple[int, ...]) -> None:
        self.draw.polygon(self._px(pts), fill=fill)

    def line(self, pts: np.ndarray, width: float, fill: tuple[int, ...]) -> None:
        w = max(1, round(width * self.k))
        self.draw.line(self._px(pts), fill=fill, width=w)  # dense points: no joint gaps to fill


def _col(rgb: np.ndarray | Sequence[float], alpha: float = 255.0) -> tuple[int, int, int, int]:
    r, g, b = (min(max(round(float(v)), 0), 255) for v in rgb)
    return (r, g, b, min(max(round(alpha), 0), 255))


def _lum(rgb: np.ndarray) -> float:
    return float(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2])


# ---------------------------------------------------------------------------------------------
# Drawing, back to front


def _hair_rgb(p: FaceParams) -> np.ndarray:
    w = np.asarray(p.hair_mix)
    rgb = w @ HAIR_RGB + np.asarray(p.hair_tint)
    rgb += 4 * w[0] * w[2] * (HAIR_RGB[1] - 0.5 * (HAIR_RGB[0] + HAIR_RGB[2]))  # dark blond
    return np.clip(rgb, 0, 255)  # age greys hair only through the Gray_Hair label


def _aged_skin(skin: np.ndarray, age: float) -> np.ndarray:
    """Older skin is a little darker and sallower; young faces (age < 0.25) keep `skin`."""
    a = smooth(age, 0.25, 0.9)
    return skin * (1 - 0.08 * a) + 0.3 * a * (_lum(skin) - skin)


def _hair_paths(p: FaceParams, f: Layout, sx: float) -> tuple[np.ndarray, np.ndarray]:
    """Outer and inner boundary of one side of the hair, crown to tip, same parameterisation."""
    L, W = f.hair_len, f.W
    vol = 0.03 + 0.02 * p.hair_volume + 0.02 * p.wavy - 0.026 * p.straight
    frizz = 0.03 * (1 - p.straight) * (1 - p.wavy)
    n1, n2 = 18, 22
    th = lin(np.pi / 2, 0.0, n1)
    bump = 0.14 * p.wavy * np.abs(np.sin(7 * th + p.wave_phase + 1.3 * sx))
    bump += frizz * np.sin(23 * th + 3 * p.wave_phase + sx) ** 2
    cy_o, rx_o, ry_o = -0.07, W + 0.012 + vol, 0.29 + vol
    outer_arc = np.stack([sx * rx_o * np.cos(th) * (1 + bump) + p.parting * np.sin(th),
                          cy_o - ry_o * np.sin(th) * (1 + 0.6 * bump)], axis=1)
    cy_i = -0.1
    ry_i = cy_i - f.hairline_y
    inner_arc = np.stack([sx * 0.9 * W * np.cos(th) + p.parting * np.sin(th),
                          cy_i - ry_i * np.sin(th)], axis=1)
    y_b = -0.03 + 0.6 * L
    t = lin(0.0, 1.0, n2 + 1)[1:]
    wave_amp = (0.006 + 0.024 * L) * p.wavy
    wave = wave_amp * np.sin(2 * np.pi * t * (y_b - cy_o) / 0.11 + p.wave_phase + sx) * t
    y_o = cy_o + t * (y_b - cy_o)
    flare = (0.08 * (1 - p.straight) + 0.03 * p.wavy) * L
    short = min(max(1 - L / 0.4, 0.0), 1.0) * t**2
    x_o = (1 - short) * (rx_o + flare * t**1.5) + short * (f.half_width(y_o) + 0.008) + wave
    y_ib = y_b - 0.1 * (1 - p.straight) * L  # layered tips unless straight
    y_i = cy_i + t * (y_ib - cy_i)
    cover = 0.004 + 0.03 * L
    x_i = np.maximum(f.half_width(y_i) - cover, f.neck_w + 0.012) + 0.9 * wave
    outer = np.vstack([outer_arc, np.stack([sx * x_o, y_o], axis=1)])
    inner = np.vstack([inner_arc, np.stack([sx * x_i, y_i], axis=1)])
    return outer, inner


def _draw_background(img: Image.Image, p: FaceParams, size: int) -> None:
    px = img.width
    g = lin(-1.0, 1.0, size)  # drawn at output size: the final box reduction undoes NEAREST
    d = math.cos(p.background_angle) * g[None, :] + math.sin(p.background_angle) * g[:, None]
    w = ((d + 1.5) / 3.0)[..., None]
    small = np.asarray(p.background[0]) * (1 - w) + np.asarray(p.background[1]) * w
    img.paste(Image.fromarray(small.astype(np.uint8)).resize((px, px), Image.Resampling.NEAREST))
    draw = ImageDraw.Draw(img, "RGBA")
    for x, y, r, cr, cg, cb, a in p.blobs:
        draw.ellipse([(x - r) * px, (y - r) * px, (x + r) * px, (y + r) * px],
                     fill=_col((cr, cg, cb), a))


def _draw_body(pen: _Pen, p: FaceParams, f: Layout, skin: np.ndarray) -> None:
    nw = f.neck_w
    sw = 0.34 + 0.07 * p.male
    neck = np.array([(-nw, 0.1), (nw, 0.1), (nw + 0.012, 0.38), (-nw - 0.012, 0.38)])
    pen.poly(neck, _col(skin * 0.93))
    top = 0.355
    cloth = chaikin(np.array([
        (-nw - 0.1, 0.6), (-sw - 0.04, 0.6), (-sw, 0.47), (-0.75 * sw, 0.405), (-nw - 0.01, top),
        (nw + 0.01, top), (0.75 * sw, 0.405), (sw, 0.47), (sw + 0.04, 0.6), (nw + 0.1, 0.6),
    ]), 2)
    pen.poly(cloth, _col(p.clothing))
    depth = 0.02 + 0.09 * p.neckline
    pen.poly(np.array([(-nw - 0.005, top - 0.01), (nw + 0.005, top - 0.01), (0.0, top + depth)]),
             _col(skin * 0.9))
    pen.line(np.array([(-nw - 0.012, top), (0.0, top + depth + 0.008), (nw + 0.012, top)]),
             0.012, _col(np.asarray(p.clothing) * 0.6))


def _draw_head_base(pen: _Pen, p: FaceParams, f: Layout, skin: np.ndarray) -> None:
    for sx in (-1.0, 1.0):  # ears, partly hidden when the head turns away
        ex = sx * (f.W - 0.004) - 0.3 * f.fx
        pen.poly(ellipse(ex, -0.025, 0.03, 0.052, 20), _col(skin * 0.9))
        pen.line(np.array([(ex + sx * 0.004, -0.05), (ex + sx * 0.013, -0.02),
                           (ex + sx * 0.004, 0.01)]), 0.008, _col(skin * 0.7, 150))
    pen.poly(ellipse(0.0, f.C - 0.005, f.neck_w, 0.05, 24), _col(skin * 0.72, 140))  # chin shadow
    outline = np.vstack([f.side, mirror(f.side[::-1])])
    outline[:, 0] += 0.25 * f.fx * (1 - np.abs(outline[:, 0]) / f.W)
    pen.poly(outline, _col(skin))


def _draw_age(pen: _Pen, p: FaceParams, f: Layout, skin: np.ndarray) -> None:
    """Wrinkles plus broad shadows that survive downsampling (eye bags, nasolabial folds, hollow
    cheeks; the jowls are in `layout`); invisible for young faces."""
    a = smooth(f.age, 0.25, 0.9)
    if a <= 0:
        return
    ink = _col(skin * 0.38, 240 * a)
    shade = _col(skin * 0.7, 150 * a)
    fx = f.fx
    top, bottom = f.hairline_y + 0.018, f.brow_y - 0.03
    for i in range(3):  # forehead lines, spread over whatever forehead there is
        y = bottom + (top - bottom) * i / 2
        x = (0.1 - 0.012 * i) * lin(-1.0, 1.0, 7)
        pen.line(np.stack([x + fx * 0.5, y + 0.01 * (x / 0.1) ** 2], axis=1), 0.014, ink)
    for sx in (-1.0, 1.0):
        ex = sx * f.eye_x + fx
        cx = ex + sx * 0.06
        for dy in (-0.012, 0.0, 0.013):  # crow's feet
            pen.line(np.array([(cx, f.eye_y + dy * 0.4), (cx + sx * 0.022, f.eye_y + dy)]),
                     0.01, ink)
        u = lin(-1.0, 1.0, 9)
        upper = np.stack([ex + 0.04 * u, f.eye_y + 0.024 + 0.006 * (1 - u**2)], axis=1)
        lower = np.stack([ex + 0.04 * u, f.eye_y + 0.03 + 0.02 * (1 - u**2)], axis=1)
        pen.poly(np.vstack([upper, lower[::-1]]), shade)  # bags under the eyes
        pen.line(lower, 0.012, ink)
        s = lin(0.0, 1.0, 8)  # nasolabial fold: a shadow band with a crease on its inner edge
        fold = np.stack([fx + sx * (0.045 + 0.04 * s + 0.012 * np.sin(np.pi * s)),
                         f.nose_y + 0.01 + 0.11 * s], axis=1)
        pen.poly(np.vstack([fold, fold[::-1] + np.array([sx * 0.02, 0.0])]),
                 _col(skin * 0.8, 120 * a))
        pen.line(fold, 0.015, ink)
        pen.line(np.array([(fx + sx * 0.075, f.mouth_y + 0.01), (fx + sx * 0.085, f.mouth_y + 0.06)]),
                 0.01, ink)  # marionette lines
        pen.poly(ellipse(sx * (f.W - 0.035), 0.07, 0.038, 0.075, 16), _col(skin * 0.72, 110 * a))


def _draw_eyes(pen: _Pen, p: FaceParams, f: Layout, skin: np.ndarray, hair: np.ndarray) -> None:
    ew = 0.045 * p.eye_size * (1.0 - 0.06 * f.age)
    eh = ew * (0.56 + 0.08 * (1 - p.male) - 0.1 * f.age) * (1 - 0.3 * p.smiling)
    u = lin(-1.0, 1.0, 15)
    brow_rgb = hair * 0.55 + np.array([30, 24, 20]) * 0.45
    brow_t = (0.011 + 0.013 * p.male) * (1 - 0.3 * f.age)
    for sx in (-1.0, 1.0):
        ex = sx * f.eye_x + f.fx
        ey = f.eye_y
        tilt = -0.006 * u * sx
        up = ey - eh * (1 - u**2) ** 0.8 * (1 + 0.15 * u * sx) + tilt
        low = ey + eh * 0.7 * (1 - 0.3 * p.smiling) * (1 - u**2) + tilt
        xs = ex + ew * u
        pen.poly(ellipse(ex, ey - 0.004, ew * 1.35, ew * 0.95, 20), _col(skin * 0.86, 120))
        pen.poly(np.vstack([np.stack([xs, up], 1), np.stack([xs, low], 1)[::-1]]),
                 _col((238, 236, 230)))
        ir = 0.6 * ew
        ic = ex + 0.25 * f.fx
        iris = ellipse(ic, ey - 0.1 * eh, ir, ir, 20)
        rel = np.clip((iris[:, 0] - ex) / ew, -1, 1)
        up_i = np.interp(rel, u, up)
        low_i = np.interp(rel, u, low)
        iris[:, 1] = np.clip(iris[:, 1], up_i, low_i)  # clip the disc to the eyelids
        pen.poly(iris, _col(p.eye_rgb))
        pupil = iris.copy()
        pupil[:, 0] = ic + 0.45 * (pupil[:, 0] - ic)
        pupil[:, 1] = ey - 0.1 * eh + 0.45 * (pupil[:, 1] - ey + 0.1 * eh)
        pen.poly(pupil, _col((18, 14, 14)))
        lid_w = 0.007 + 0.006 * (1 - p.male)
        ink = (30, 20, 18)
        pen.line(np.stack([xs, up], 1), lid_w, _col(ink))
        corner = (ex + sx * ew, up[-1] if sx > 0 else up[0])
        wing = np.array([corner, (ex + sx * ew * 1.25, ey - eh * 0.55)])  # lashes, fading with Male
        pen.line(wing, lid_w, _col(ink, 255 * smooth(1 - p.male, 0.3, 0.7)))
        # brow: a tapered band over the eye
        bu = lin(-1.0, 1.0, 9)
        bx = ex + sx * ew * 1.15 * bu
        by = f.brow_y - 0.014 * (1 - bu**2) + 0.006 * bu
        th = brow_t * (1.1 - 0.45 * (bu + 1) / 2)
        pen.poly(np.vstack([np.stack([bx, by - th / 2], 1), np.stack([bx, by + th / 2], 1)[::-1]]),
                 _col(brow_rgb))


def _draw_nose(pen: _Pen, p: FaceParams, f: Layout, skin: np.ndarray) -> None:
    nx = 1.5 * f.fx
    ny = f.nose_y
    nw = 0.026 * p.nose_width + 0.004 * p.male
    pen.poly(ellipse(nx, ny + 0.004, nw * 1.05, 0.014, 16), _col(skin * 0.88, 120))
    pen.poly(ellipse(nx, ny - 0.014, nw * 0.45, 0.014, 12), _col(np.minimum(skin * 1.1, 255), 80))
    for sx in (-1.0, 1.0):
        pen.poly(ellipse(nx + sx * nw * 0.48, ny + 0.006, nw * 0.28, 0.007, 10), _col(skin * 0.5))
        s = lin(0.0, 1.0, 5)
        pen.line(np.stack([nx + sx * nw * (0.95 + 0.2 * np.sin(np.pi * s)), ny - 0.006 + 0.014 * s], 1),
                 0.006, _col(skin * 0.68, 170))
    side = 1.0 if math.cos(p.light_angle) < 0 else -1.0  # bridge shadow away from the light
    pen.line(np.array([(nx + side * 0.018, f.eye_y + 0.03), (nx + side * nw * 0.9, ny - 0.015)]),
             0.008, _col(skin * 0.78, 110))


def _draw_cheeks(pen: _Pen, p: FaceParams, f: Layout, skin: np.ndarray) -> None:
    s = smooth(p.smiling, 0.3, 1.0)
    if s <= 0:
        return
    x, _, yu, _, _ = mouth_curves(p, f)
    for sx, i in ((-1.0, 0), (1.0, -1)):
        cx = sx * (f.eye_x + 0.02) + f.fx
        pen.poly(ellipse(cx, 0.055 - 0.015 * s, 0.045, 0.03, 16),
                 _col(skin * np.array([1.05, 0.88, 0.86]), 110 * s))
        t = lin(0.0, 1.0, 8)  # smile line from the nose wing around the mouth corner
        x0, y0 = f.fx * 1.5 + sx * 0.045, f.nose_y + 0.01
        x1, y1 = x[i] + sx * 0.014, yu[i] + 0.004
        pts = np.stack([x0 + (x1 - x0) * t + sx * 0.016 * np.sin(np.pi * t), y0 + (y1 - y0) * t], 1)
        pen.line(pts, 0.009, _col(skin * 0.66, 200 * s))


def _draw_beard(pen: _Pen, p: FaceParams, f: Layout, skin: np.ndarray, hair: np.ndarray) -> None:
    b = p.beard
    alpha = 240 * smooth(b, 0.05, 0.7)
    if alpha <= 0:
        return
    rgb = hair * 0.6
    if _lum(rgb) > 0.6 * _lum(skin):  # a beard always reads as a darker region
        rgb = rgb * 0.6 * _lum(skin) / max(_lum(rgb), 1.0)
    y0 = -0.03 + 0.05 * (1 - b)
    ext = 0.04 * b
    side = f.side[f.side[:, 1] >= y0]
    t = (side[:, 1] - y0) / (f.C - y0)
    outer = np.stack([side[:, 0] + 0.008 * t, side[:, 1] + ext * t**2], 1)
    x = mouth_curves(p, f)[0]
    mw = x[-1] - x[10]
    inner = np.array([
        (f.half_width(y0) - 0.035, y0), (f.half_width(y0) - 0.05, 0.06),
        (mw + 0.022, f.mouth_y - 0.01), (0.03, f.nose_y + 0.022),
    ])
    shape = np.vstack([outer, mirror(outer[::-1]), mirror(inner), inner[::-1]])
    shape[:, 0] += f.fx * (1.2 - np.abs(shape[:, 0]) / f.W)
    pen.poly(shape, _col(rgb, alpha))


def _draw_mouth(pen: _Pen, p: FaceParams, f: Layout, skin: np.ndarray) -> None:
    x, yU, yu, yl, yL = mouth_curves(p, f)
    natural = skin * np.array([0.9, 0.74, 0.74]) + np.array([6, 0, 0])
    lip = natural + p.lipstick * (np.asarray(p.lipstick_rgb) - natural)
    top = np.stack([x, yU], 1)
    bottom = np.stack([x, yL], 1)
    pen.poly(np.vstack([top, bottom[::-1]]), _col(lip))
    if yl[10] - yu[10] > 0.004:
        pen.poly(np.vstack([np.stack([x, yu], 1), np.stack([x, yl], 1)[::-1]]), _col((70, 18, 24)))
        k = slice(3, 18)
        depth = 0.45 * (yl[k] - yu[k])
        pen.poly(np.vstack([np.stack([x[k], yu[k]], 1), np.stack([x[k], yu[k] + depth], 1)[::-1]]),
                 _col((238, 234, 222)))
    pen.line(np.stack([x, yu], 1), 0.006, _col(lip * 0.55))


_Paths = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _draw_hair(
    pen: _Pen, p: FaceParams, f: Layout, hair: np.ndarray, paths: _Paths, front: bool
) -> None:
    (o_r, i_r), (o_l, i_l) = paths
    if not front:
        y_nape = min(o_r[-1, 1], f.C)  # behind the neck, so only the curtains show their ends
        nape = np.array([(f.neck_w, y_nape), (-f.neck_w, y_nape)])
        pen.poly(np.vstack([o_r, nape, o_l[::-1]]), _col(hair * 0.78))
        return
    pen.poly(np.vstack([o_r, i_r[::-1], i_l, o_l[::-1]]), _col(hair))
    edge = _col(hair * 0.5, 210)  # an inked hairline keeps hair apart from a similar skin tone
    pen.line(np.vstack([i_r[::-1], i_l]), 0.009, edge)
    dark = _col(hair * 0.6, 70 + 150 * max(p.wavy, p.straight))
    light = _col(np.minimum(hair * 1.25 + 30, 255), 50 + 110 * max(p.wavy, p.straight))
    n = len(o_r)
    s = lin(0.0, 1.0, n)[:, None]
    for k, frac in enumerate((0.2, 0.4, 0.6, 0.8)):
        for o, i, sx in ((o_r, i_r, 1.0), (o_l, i_l, -1.0)):
            strand = i + frac * (o - i)
            wiggle = 0.018 * p.wavy * np.sin(2 * np.pi * 4 * s[:, 0] + p.wave_phase + 2 * k)
            strand[:, 0] += sx * wiggle * np.minimum(s[:, 0] * 4, 1)
            pen.line(strand[2:], 0.007, dark if k % 2 == 0 else light)
    if p.straight > 0.05:  # sleek straight hair: a shine band over the crown
        shine = _col(np.minimum(hair * 1.2 + 75, 255), 170 * p.straight)
        for o, i in ((o_r, i_r), (o_l, i_l)):
            pen.line((i + 0.5 * (o - i))[:15], 0.04, shine)
    _draw_bangs(pen, p, f, hair)


def _draw_bangs(pen: _Pen, p: FaceParams, f: Layout, hair: np.ndarray) -> None:
    b = smooth(p.bangs, 0.1, 0.9)  # short of 0.5 a fringe stays short
    if b < 0.02:
        return
    y_top = f.hairline_y - 0.03
    y_f = f.hairline_y + 0.01 + b * (f.brow_y - 0.014 - f.hairline_y - 0.01)
    xf = float(f.half_width(y_f)) * 0.98
    n = 8
    bx = xf * lin(-1.0, 1.0, 2 * n + 1) + p.parting * 0.5
    depth = (0.008 + 0.022 * b) * (1 - 0.7 * p.straight)
    by = y_f - depth * (np.arange(2 * n + 1) % 2)
    bx = bx + 0.01 * p.wavy * np.sin(bx * 60 + p.wave_phase)
    x_top = float(f.half_width(y_top)) * 0.95
    fringe = np.vstack([[(-x_top, y_top)], np.stack([bx, by], 1), [(x_top, y_top)]])
    pen.poly(fringe, _col(hair))
    dark = _col(hair * 0.55, 120 + 100 * max(p.wavy, p.straight))
    for x in bx[1:-1:2]:
        pen.line(np.array([(x * 0.8, y_top + 0.01), (x, y_f - depth)]), 0.007, dark)
    pen.line(np.stack([bx, by], 1), 0.009, _col(hair * 0.5, 210))


def _draw_glasses(pen: _Pen, p: FaceParams, f: Layout) -> None:
    g = smooth(p.eyeglasses, 0.3, 0.6)
    if g <= 0:
        return
    frame = _col(p.frame_rgb, 255 * g)
    width = 0.013 + 0.006 * p.eyeglasses
    gw, gh = 0.06, 0.042
    y = f.eye_y + 0.004
    inner = []
    for sx in (-1.0, 1.0):
        cx = sx * f.eye_x + f.fx
        lens = ellipse(cx, y, gw, gh, 40, p.frame_shape)
        pen.poly(lens, _col((215, 230, 245), 45 * g))
        pen.line(np.vstack([lens, lens[:1]]), width, frame)
        pen.line(np.array([(cx + sx * gw, y - 0.012), (sx * (f.W + 0.004) + 0.3 * f.fx, y - 0.02)]),
                 width * 0.8, frame)
        pen.line(np.array([(cx - sx * 0.03, y - 0.025), (cx - sx * 0.012, y - 0.034)]), 0.006,
                 _col((255, 255, 255), 150 * g))  # glint
        inner.append((cx - sx * gw, y - 0.01))
    pen.line(np.array([inner[0], (f.fx, y - 0.018), inner[1]]), width * 0.9, frame)


def _apply_light(arr: np.ndarray, p: FaceParams) -> np.ndarray:
    n = arr.shape[0]
    g = lin(-1.0, 1.0, n)
    d = math.cos(p.light_angle) * g[None, :] + math.sin(p.light_angle) * g[:, None]
    gain = 1.0 + p.light_strength * (d - 0.2 * d * d)
    return np.clip(arr.astype(np.float32) * gain[..., None], 0, 255).astype(np.uint8)


def render(params: FaceParams, size: int = 64, supersample: int = 4) -> np.ndarray:
    """Draw one face.

    Args:
        params: the face.
        size: output side in pixels (>= 16).
        supersample: drawing happens at size * supersample, then a box filter reduces it.
    Returns:
        (size, size, 3) uint8 RGB.
    """
    if size < 16 or supersample < 1:
        raise ValueError(f"need size >= 16 and supersample >= 1, got {size=}, {supersample=}")
    p = params
    px = size * supersample
    f = layout(p)
    skin = _aged_skin(np.asarray(p.skin), f.age)
    hair = _hair_rgb(p)
    img = Image.new("RGB", (px, px))
    _draw_background(img, p, size)
    draw = ImageDraw.Draw(img, "RGBA")
    (A_body, b_body), (A_head, b_head) = transforms(p, px)
    k = p.scale * px
    body, head = _Pen(draw, A_body, b_body, k), _Pen(draw, A_head, b_head, k)
    paths = (_hair_paths(p, f, 1.0), _hair_paths(p, f, -1.0))
    _draw_hair(head, p, f, hair, paths, front=False)
    _draw_body(body, p, f, skin)
    _draw_head_base(head, p, f, skin)
    _draw_age(head, p, f, skin)
    _draw_cheeks(head, p, f, skin)
    _draw_nose(head, p, f, skin)
    _draw_beard(head, p, f, skin, hair)
    _draw_mouth(head, p, f, skin)
    _draw_eyes(head, p, f, skin, hair)
    _draw_hair(head, p, f, hair, paths, front=True)
    _draw_glasses(head, p, f)
    if supersample > 1:
        img = img.reduce(supersample)
    return _apply_light(np.asarray(img), p)
