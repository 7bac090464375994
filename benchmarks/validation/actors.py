"""What moves in front of a healthy camera: passers-by, vehicles, weather.

Sprites are drawn once per case (small, at the size they appear) and only pasted per call,
so a render call stays cheap.  Everything is a pure function of t (positions come from a
schedule drawn at construction), so render(t) can be called in any order.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class Sprite:
    colour: np.ndarray  # h x w x 3 float32
    alpha: np.ndarray  # h x w x 1 float32, 0..1


def _person(height: int, rng: np.random.Generator, phase: int, grey: bool,
            light: float) -> Sprite:
    """A walking person seen from the side/front: head, torso, arms, legs at a step phase."""
    h = max(8, height)
    w = max(4, int(h * 0.45))
    pad = 2
    canvas = np.zeros((h + 2 * pad, w + 2 * pad, 3), np.float32)
    alpha = np.zeros((h + 2 * pad, w + 2 * pad), np.float32)
    skin = np.array(rng.choice([[90, 130, 190], [60, 90, 140], [40, 60, 90]]), np.float32)
    top = rng.uniform(20, 200, 3).astype(np.float32)
    trousers = rng.uniform(15, 120, 3).astype(np.float32)
    if grey:
        top[:] = top.mean()
        trousers[:] = trousers.mean()
        skin[:] = skin.mean() + 40
    cx = pad + w // 2
    head_r = max(2, h // 14)
    hy = pad + head_r + 1
    sh_y, hip_y, foot_y = pad + int(h * 0.18), pad + int(h * 0.52), pad + h - 1
    lw = max(1, int(h * 0.07))
    swing = (1 if phase else -1) * int(h * 0.12)

    def paint(col: np.ndarray, draw) -> None:
        m = np.zeros(alpha.shape, np.uint8)
        draw(m)
        sel = m > 0
        canvas[sel] = col
        alpha[sel] = 1.0

    paint(trousers, lambda m: cv2.line(m, (cx, hip_y), (cx + swing, foot_y), 1, lw + 1))
    paint(trousers, lambda m: cv2.line(m, (cx, hip_y), (cx - swing, foot_y), 1, lw + 1))
    paint(top, lambda m: cv2.ellipse(m, (cx, (sh_y + hip_y) // 2),
                                     (max(2, w // 3), (hip_y - sh_y) // 2 + 1), 0, 0, 360, 1, -1))
    paint(top, lambda m: cv2.line(m, (cx, sh_y + 1), (cx - swing // 2, hip_y + h // 20), 1, lw))
    paint(top, lambda m: cv2.line(m, (cx, sh_y + 1), (cx + swing // 2, hip_y + h // 20), 1, lw))
    paint(skin, lambda m: cv2.circle(m, (cx, hy), head_r, 1, -1))
    alpha = cv2.GaussianBlur(alpha, (3, 3), 0)
    return Sprite(canvas * light, alpha[..., None])


def _vehicle(length: int, rng: np.random.Generator, grey: bool, light: float,
             headlights: bool) -> Sprite:
    """A car/van in side view: body, windows, wheels; at night with lamps that glare."""
    w = max(12, length)
    h = max(6, int(w * rng.uniform(0.35, 0.5)))
    canvas = np.zeros((h, w, 3), np.float32)
    alpha = np.zeros((h, w), np.float32)
    body = rng.uniform(20, 230, 3).astype(np.float32)
    if grey:
        body[:] = body.mean()
    m = np.zeros((h, w), np.uint8)
    cv2.rectangle(m, (0, int(h * 0.35)), (w - 1, int(h * 0.85)), 1, -1)
    cv2.rectangle(m, (int(w * 0.2), 0), (int(w * 0.75), int(h * 0.4)), 1, -1)
    canvas[m > 0] = body
    alpha[m > 0] = 1
    win = np.zeros((h, w), np.uint8)
    cv2.rectangle(win, (int(w * 0.25), int(h * 0.06)), (int(w * 0.7), int(h * 0.33)), 1, -1)
    canvas[win > 0] = (40, 45, 50)
    r = max(2, int(h * 0.16))
    for x in (int(w * 0.2), int(w * 0.8)):
        cv2.circle(canvas, (x, int(h * 0.85)), r, (15, 15, 15), -1)
        cv2.circle(alpha, (x, int(h * 0.85)), r, 1.0, -1)
    canvas *= light
    if headlights:
        cv2.circle(canvas, (w - 2, int(h * 0.55)), max(2, h // 8), (255, 255, 255), -1)
        cv2.circle(canvas, (1, int(h * 0.55)), max(2, h // 10), (40, 40, 230), -1)
    alpha = cv2.GaussianBlur(alpha, (3, 3), 0)
    return Sprite(canvas, alpha[..., None])


def paste(img: np.ndarray, sp: Sprite, x: int, y: int, flip: bool = False,
          gain: float = 1.0) -> None:
    """Alpha-composite a sprite with its top-left at (x, y), clipped to the picture."""
    col, a = (sp.colour[:, ::-1], sp.alpha[:, ::-1]) if flip else (sp.colour, sp.alpha)
    h, w = img.shape[:2]
    sh, sw = a.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + sw), min(h, y + sh)
    if x0 >= x1 or y0 >= y1:
        return
    sa = a[y0 - y:y1 - y, x0 - x:x1 - x]
    sc = col[y0 - y:y1 - y, x0 - x:x1 - x]
    reg = img[y0:y1, x0:x1]
    reg += sa * (sc * gain - reg if gain != 1.0 else sc - reg)


@dataclass
class Walker:
    start: float
    dur: float
    y: float  # feet row, px
    x_from: float
    x_to: float
    sprites: tuple[Sprite, Sprite]
    step_s: float


class Crowd:
    """Passers-by crossing the view on a schedule (rate per minute), with perspective."""

    def __init__(self, w: int, h: int, rate_per_min: float, duration: float,
                 band: tuple[float, float], person_h: float, rng: np.random.Generator,
                 grey: bool = False, light: float = 1.0, max_walkers: int = 400) -> None:
        self.walkers: list[Walker] = []
        self._starts: list[float] | None = None
        n = min(max_walkers, int(rng.poisson(rate_per_min * duration / 60.0)))
        # a few sprite sizes shared by all walkers keeps construction cheap
        for _ in range(n):
            fy = rng.uniform(*band)
            scale = 0.35 + 0.65 * (fy - band[0]) / max(1e-6, band[1] - band[0])
            ph = int(person_h * h * scale)
            if ph < 6:
                continue
            sprites = (_person(ph, rng, 0, grey, light), _person(ph, rng, 1, grey, light))
            speed = rng.uniform(0.8, 1.6) * ph / 1.7  # ~1.2 m/s for a 1.7 m person, in px/s
            span = w + 2 * ph
            dur = span / speed
            left = rng.random() < 0.5
            self.walkers.append(Walker(
                start=rng.uniform(-dur, duration), dur=dur, y=fy * h,
                x_from=-ph if left else w + ph, x_to=w + ph if left else -ph,
                sprites=sprites, step_s=0.45,
            ))

    def index(self) -> None:
        """Sort by start so draw() only looks at walkers that can be in view (long runs)."""
        self.walkers.sort(key=lambda wk: wk.start)
        self._starts = [wk.start for wk in self.walkers]
        self._maxdur = max((wk.dur for wk in self.walkers), default=0.0)

    def draw(self, img: np.ndarray, t: float, gain: float = 1.0) -> None:
        walkers = self.walkers
        if getattr(self, "_starts", None) is not None:
            lo = bisect.bisect_left(self._starts, t - self._maxdur)
            hi = bisect.bisect_right(self._starts, t)
            walkers = self.walkers[lo:hi]
        for wk in walkers:
            u = (t - wk.start) / wk.dur
            if not 0.0 <= u <= 1.0:
                continue
            sp = wk.sprites[int(t / wk.step_s) % 2]
            x = wk.x_from + (wk.x_to - wk.x_from) * u
            sh, sw = sp.alpha.shape[:2]
            paste(img, sp, int(x - sw / 2), int(wk.y - sh), flip=wk.x_to < wk.x_from,
                  gain=gain)


class Traffic:
    """Vehicles crossing (a passing vehicle can fill a large part of the view for a moment)."""

    def __init__(self, w: int, h: int, times: list[float], rng: np.random.Generator,
                 size: float = 0.6, row: float = 0.8, grey: bool = False, light: float = 1.0,
                 headlights: bool = False) -> None:
        self.items = []
        for t0 in times:
            length = int(w * size * rng.uniform(0.8, 1.2))
            sp = _vehicle(length, rng, grey, light, headlights)
            speed = rng.uniform(0.6, 1.2) * w  # crosses the view in 1-2 s
            left = rng.random() < 0.5
            self.items.append((t0, (w + 2 * length) / speed, row * h, left, length, sp))
        self.w = w
        self.h = h
        self.headlights = headlights

    def draw(self, img: np.ndarray, t: float) -> None:
        for t0, dur, y, left, length, sp in self.items:
            u = (t - t0) / dur
            if not 0.0 <= u <= 1.0:
                continue
            x = -length + u * (self.w + 2 * length)
            if not left:
                x = self.w - x
            sh = sp.alpha.shape[0]
            paste(img, sp, int(x - length / 2), int(y - sh), flip=not left)
            if self.headlights:
                # the glare of a headlight shining toward the camera: a broad additive glow
                gx = int(x + (length / 2 if left else -length / 2))
                gy = int(y - sh * 0.45)
                r = int(self.w * 0.18)
                x0, y0 = max(0, gx - r), max(0, gy - r)
                x1, y1 = min(self.w, gx + r), min(self.h, gy + r)
                if x0 < x1 and y0 < y1:
                    yy, xx = np.ogrid[y0:y1, x0:x1]
                    g = np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (0.2 * r * r))
                    img[y0:y1, x0:x1] += (g * 160.0).astype(np.float32)[..., None]


class CloseByPerson:
    """Someone walking right past the lens: a huge, defocused, dark shape for a few s."""

    def __init__(self, w: int, h: int, t0: float, rng: np.random.Generator,
                 light: float = 1.0) -> None:
        lw, lh = 96, max(8, int(96 * h / w))
        m = np.zeros((lh, lw), np.float32)
        bw = int(lw * rng.uniform(0.35, 0.6))
        cv2.ellipse(m, (bw // 2 + 4, lh), (bw // 2, int(lh * 0.8)), 0, 180, 360, 1.0, -1)
        cv2.circle(m, (bw // 2 + 4, int(lh * 0.15)), int(bw * 0.3), 1.0, -1)
        m = cv2.GaussianBlur(m, (0, 0), lw * 0.04)
        self.mask = cv2.resize(m, (w, h))[..., None] * 0.97
        self.col = rng.uniform(10, 60, 3).astype(np.float32) * light
        self.t0, self.dur = t0, rng.uniform(2.5, 5.0)
        self.w = w
        self.left = rng.random() < 0.5

    def draw(self, img: np.ndarray, t: float) -> None:
        u = (t - self.t0) / self.dur
        if not 0.0 <= u <= 1.0:
            return
        shift = int((u * 2.0 - 1.0) * self.w * 1.0)
        if not self.left:
            shift = -shift
        m = np.roll(self.mask, shift, axis=1)
        if shift > 0:
            m[:, :shift] = 0
        elif shift < 0:
            m[:, shift:] = 0
        img += m * (self.col - img)


class Weather:
    """Rain streaks or snowflakes: a precomputed layer that falls (sliced per call)."""

    def __init__(self, w: int, h: int, kind: str, rng: np.random.Generator,
                 intensity: float = 1.0) -> None:
        self.kind = kind
        ph = h * 2
        layer = np.zeros((ph, w), np.float32)
        if kind == "rain":
            n = int(w * h / 400 * intensity)
            ln = max(4, h // 18)
            xs, ys = rng.integers(0, w, n), rng.integers(0, ph, n)
            for x, y in zip(xs, ys, strict=True):
                cv2.line(layer, (int(x), int(y)), (int(x) + ln // 5, int(y) + ln), 1.0, 1)
            layer = cv2.GaussianBlur(layer, (0, 0), 0.7) * 40.0
            self.speed = h * 3.0
        else:
            n = int(w * h / 900 * intensity)
            xs, ys = rng.integers(0, w, n), rng.integers(0, ph, n)
            rs = rng.integers(1, max(2, h // 200 + 2), n)
            for x, y, r in zip(xs, ys, rs, strict=True):
                cv2.circle(layer, (int(x), int(y)), int(r), 1.0, -1)
            layer = cv2.GaussianBlur(layer, (0, 0), 1.0) * 170.0
            self.speed = h * 0.25
        self.layer = layer
        self.h = h

    def draw(self, img: np.ndarray, t: float) -> None:
        off = int(t * self.speed) % self.h
        sl = self.layer[self.h - off: 2 * self.h - off]
        img += sl[..., None]
