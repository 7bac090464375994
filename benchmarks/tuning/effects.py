"""Faults and look-alikes the envelope needs beyond benchmarks/render.py's building blocks.

Same conventions as render.py (float32 BGR in 0..255, effects called as `eff(img, t, st)` in
the order light takes through a camera), so they compose with its scenes, occluders, sensor
and ripple. What is new here is what the envelope sweeps and the accuracy set never had:
partial, translucent and growing foliage, a local smudge, a shaking mount, darkness, a moved
camera, and a few more harmless look-alikes (snow, wind shake, headlights, a passing van).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from benchmarks import render as R


class Foliage(R.Occluder):
    """Leaves and twigs a few cm from the lens: defocused, swaying, maybe translucent or growing.

    Why its own class: render.Leaves only slides a finished branch in. Here each covered
    low-res pixel remembers which leaf covered it first, so a growing cover can be revealed
    leaf by leaf at exactly the coverage asked for at time t (the case's `due` is when it
    crosses the swept strength). `opacity` < 1 lets the scene through (thin backlit leaves),
    `night_ir` paints the leaves as an IR illuminator lights them: near objects glow grey.
    """

    def __init__(self, w: int, h: int, onset: float, rng: np.random.Generator, coverage: float,
                 opacity: float, blur_lr: float, sway_px: float, grow_s: float,
                 direction: tuple[float, float], translucent: bool = False,
                 night: str | None = None) -> None:
        self.opacity, self.grow_s, self.translucent, self.night = (
            opacity, grow_s, translucent, night)
        super().__init__(w, h, onset, arrive_s=0.0, blur_lr=blur_lr, rng=rng,
                         coverage=coverage, ae=0.0, sway_px=sway_px, direction=direction)
        self.cacheable = sway_px <= 0 and grow_s <= 0

    def build(self) -> tuple[np.ndarray, np.ndarray]:
        lw, lh, rng = self.lw, self.lh, self.rng
        a = np.zeros((lh, lw), np.float32)
        order = np.full((lh, lw), np.inf, np.float32)
        if self.translucent:  # backlit: the light comes through, yellow-green and bright
            base = np.array([rng.uniform(40, 80), rng.uniform(150, 210), rng.uniform(110, 170)],
                            np.float32)
        else:
            base = np.array([rng.uniform(15, 40), rng.uniform(35, 75), rng.uniform(20, 45)],
                            np.float32)
        if self.night == "ir":
            base = np.full(3, rng.uniform(150, 230), np.float32)  # IR bounces off near leaves
        elif self.night == "lamps":
            base = base * 0.35
        c = np.ones((lh, lw, 3), np.float32) * base
        ex, ey = -self.direction[0], -self.direction[1]
        ox = lw / 2 - ex * lw / 2 + rng.uniform(-0.25, 0.25) * lw * (1 - abs(ex))
        oy = lh / 2 - ey * lh / 2 + rng.uniform(-0.25, 0.25) * lh * (1 - abs(ey))
        reach = 0.0
        target = min(self.target, 0.995)
        leaf = np.zeros((lh, lw), np.uint8)
        for k in range(1500):
            if k % 8 == 0 and float((a > 0.5).mean()) >= target:
                break
            reach = min(reach + 1.0, 1.6 * max(lw, lh))
            d = rng.uniform(0, reach)
            side = rng.normal(0, 0.35 + 0.002 * reach) * max(lw, lh)
            cx, cy = ox + ex * d + (-ey) * side, oy + ey * d + ex * side
            length = rng.uniform(0.1, 0.28) * lw
            ang = math.degrees(math.atan2(ey, ex)) + rng.normal(0, 50)
            axes = (max(1, int(length / 2)), max(1, int(length * rng.uniform(0.16, 0.25))))
            col = base * (rng.uniform(0.4, 1.1) if rng.random() > 0.15 else rng.uniform(1.3, 1.7))
            leaf[:] = 0
            cv2.ellipse(leaf, (int(cx), int(cy)), axes, ang, 0, 360, 1, -1)
            new = (leaf > 0) & ~np.isfinite(order)
            order[new] = k
            cv2.ellipse(a, (int(cx), int(cy)), axes, ang, 0, 360, 1.0, -1, cv2.LINE_AA)
            cv2.ellipse(c, (int(cx), int(cy)), axes, ang, 0, 360, col.tolist(), -1, cv2.LINE_AA)
        if self.target >= 0.995:
            a[:] = 1.0
            order[~np.isfinite(order)] = float(np.nanmax(order[np.isfinite(order)], initial=0))
        self.order = order
        self.covered = np.sort(order[np.isfinite(order)])
        return np.clip(a, 0, 1), np.clip(c, 0, 255)

    def _grown_alpha(self, t: float) -> np.ndarray:
        p = 1.0 if self.grow_s <= 0 else min(1.0, max(0.0, (t - self.onset) / self.grow_s))
        if p >= 1.0 or self.covered.size == 0:
            return self.alpha_lr
        n = int(p * self.covered.size)
        if n <= 0:
            return np.zeros_like(self.alpha_lr)
        thr = self.covered[n - 1]
        return self.alpha_lr * (self.order <= thr)

    def layers(self, t: float) -> tuple[np.ndarray, np.ndarray, float]:
        still = self.cacheable and self._static is not None
        if still:
            assert self._static is not None
            return self._static
        dx, dy = self.offset(t)
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        a = cv2.warpAffine(self._grown_alpha(t), m, (self.lw, self.lh), borderValue=0.0)
        col = cv2.warpAffine(self.color_lr, m, (self.lw, self.lh),
                             borderMode=cv2.BORDER_REPLICATE)
        a = cv2.GaussianBlur(a, (0, 0), self.blur_lr, borderType=cv2.BORDER_REPLICATE)
        col = cv2.GaussianBlur(col, (0, 0), self.blur_lr * 0.6,
                               borderType=cv2.BORDER_REPLICATE)
        a *= np.float32(self.opacity)
        cov = float(a.mean())
        out = (cv2.resize(a, (self.w, self.h), interpolation=cv2.INTER_LINEAR),
               cv2.resize(col, (self.w, self.h), interpolation=cv2.INTER_LINEAR), cov)
        if self.cacheable:
            self._static = out
        return out

    def offset(self, t: float) -> tuple[float, float]:
        if self.sway_px <= 0:
            return 0.0, 0.0
        s = math.sin(2 * math.pi * self.sway_f * t + self.sway_phase)
        return (self.sway_px * s,
                0.4 * self.sway_px * math.cos(2 * math.pi * 0.7 * self.sway_f * t))


def region_mask(w: int, h: int, rng: np.random.Generator, fraction: float,
                where: tuple[float, float]) -> np.ndarray:
    """A soft blob covering `fraction` of the view around `where` (relative x, y): a smudge's
    footprint. Built on the low-res canvas by growing a noisy distance field to the quantile."""
    lw, lh = R.LOWRES_W, max(8, int(round(R.LOWRES_W * h / w)))
    yy, xx = np.mgrid[0:lh, 0:lw].astype(np.float32)
    d = np.hypot((xx - where[0] * lw) / lw, (yy - where[1] * lh) / lh * (lh / lw))
    field = d + 0.25 * R.value_noise(lw, lh, rng, 5) * max(0.2, fraction)
    thr = float(np.quantile(field, fraction))
    m = np.clip((thr - field) / 0.04 + 0.5, 0, 1).astype(np.float32)
    m = cv2.GaussianBlur(m, (0, 0), 2.0)
    return cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR)


class Smudge:
    """A smudge or dirt patch on the lens in one region: smeared, veiled, lower contrast there.

    A fingerprint or bird dropping scatters light only where it is; the rest of the view stays
    sharp, which is what a whole-view blur test cannot see."""

    def __init__(self, w: int, h: int, onset: float, rng: np.random.Generator, fraction: float,
                 sigma: float, veil: float, build_s: float) -> None:
        self.onset, self.sigma, self.veil, self.build_s = onset, sigma, veil, build_s
        where = (float(rng.choice([0.15, 0.5, 0.85])), float(rng.choice([0.2, 0.5, 0.8])))
        self.mask = region_mask(w, h, rng, fraction, where)[..., None]
        self.tone = np.array(rng.choice([[150, 160, 165], [90, 100, 110], [190, 190, 185]]),
                             np.float32)
        self.where = where

    def __call__(self, img: np.ndarray, t: float, st: R.SensorState) -> np.ndarray:
        if t < self.onset:
            return img
        p = R.ramp(t, self.onset, self.build_s)
        b = R.gauss(img, self.sigma * max(p, 0.05))
        veiled = b + np.float32(self.veil) * (self.tone - b)
        a = self.mask * np.float32(p)
        return img + a * (veiled - img)


class MotionBlur:
    """A loose mount shaking in the wind: every exposure smeared along a random direction.

    `length` is the smear in output pixels; the direction and extent change every frame, and
    the picture also jitters by part of it, as a camera on a loose bracket does."""

    def __init__(self, onset: float, length: float, ramp_s: float) -> None:
        self.onset, self.length, self.ramp_s = onset, length, ramp_s
        self.rng = np.random.default_rng(0)  # replaced per frame by the renderer

    def __call__(self, img: np.ndarray, t: float, st: R.SensorState) -> np.ndarray:
        if t < self.onset:
            return img
        L = self.length * R.ramp(t, self.onset, self.ramp_s) * float(self.rng.uniform(0.6, 1.0))
        if L < 1.0:
            return img
        h, w = img.shape[:2]
        small, f = R._downscaled(img, L, 6.0)
        ln = max(2, int(round(L / f)))
        k = np.zeros((ln | 1, ln | 1), np.float32)
        c = (ln | 1) // 2
        ang = float(self.rng.uniform(0, math.pi))
        dx, dy = math.cos(ang) * ln / 2, math.sin(ang) * ln / 2
        cv2.line(k, (int(round(c - dx)), int(round(c - dy))),
                 (int(round(c + dx)), int(round(c + dy))), 1.0, 1, cv2.LINE_AA)
        k /= max(float(k.sum()), 1e-6)
        jx, jy = self.rng.normal(0, L / (4 * f), 2)
        out = cv2.filter2D(small, -1, k, borderType=cv2.BORDER_REFLECT)
        out = cv2.warpAffine(out, np.float32([[1, 0, jx], [0, 1, jy]]),
                             (small.shape[1], small.shape[0]), borderMode=cv2.BORDER_REFLECT)
        if f > 1.0:
            out = cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)
        return out


class Dark:
    """The light goes: lights out, or the IR illuminator failing at night.

    Both act on the sensor: the signal falls to `level` of what it was (over `ramp_s`), and the
    camera's auto gain, already at its limit, leaves faint structure drowned in sensor noise.
    `ir_fail` also loses the illuminator's hotspot first (the LEDs at the centre die first in
    the failures seen), so the view darkens unevenly."""

    def __init__(self, w: int, h: int, onset: float, level: float, ramp_s: float, mode: str,
                 noise_mult: float) -> None:
        self.onset, self.level, self.ramp_s, self.mode = onset, level, ramp_s, mode
        self.noise_mult = noise_mult
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r = np.hypot((xx - w / 2) / (w / 2), (yy - h / 2) / (h / 2))
        self.spot = np.clip(1.0 - 0.6 * r, 0.2, 1.0)[..., None]

    def __call__(self, img: np.ndarray, t: float, st: R.SensorState) -> np.ndarray:
        if t < self.onset:
            return img
        p = R.ramp(t, self.onset, self.ramp_s)
        st.gain *= 1.0 + (self.level - 1.0) * p
        st.noise *= 1.0 + (self.noise_mult - 1.0) * p
        if self.mode == "ir_fail":
            return img * (1.0 - 0.5 * p * self.spot)
        return img


class Moved:
    """The camera's view shifts and turns: a bump (instant), a pan (seconds), a sag (minutes).

    Applied to the scene before anything in front of the lens, as the whole camera moves.
    Borders are reflected: the scene beyond the old view is not known."""

    def __init__(self, w: int, h: int, onset: float, shift: tuple[float, float], deg: float,
                 ramp_s: float) -> None:
        self.w, self.h, self.onset, self.shift, self.deg, self.ramp_s = (
            w, h, onset, shift, deg, ramp_s)
        self._key: float | None = None
        self._m: np.ndarray | None = None

    def __call__(self, img: np.ndarray, t: float, st: R.SensorState) -> np.ndarray:
        if t < self.onset:
            return img
        p = round(R.ramp(t, self.onset, self.ramp_s), 3)
        if p <= 0:
            return img
        if p != self._key:
            c = (self.w / 2, self.h / 2)
            m = cv2.getRotationMatrix2D(c, self.deg * p, 1.0)
            m[0, 2] += self.shift[0] * p * self.w
            m[1, 2] += self.shift[1] * p * self.h
            self._key, self._m = p, m
        return cv2.warpAffine(img, self._m, (self.w, self.h), borderMode=cv2.BORDER_REFLECT)


class Passersby:
    """People walking through the scene at a distance: keeps a still photo alive."""

    def __init__(self, w: int, h: int, rng: np.random.Generator, n: int) -> None:
        self.w, self.h = w, h
        self.people = []
        for _ in range(n):
            size = float(rng.uniform(0.08, 0.2)) * h
            self.people.append((float(rng.uniform(0.55, 0.95)) * h, size,
                                float(rng.choice([-1, 1]) * rng.uniform(0.03, 0.09)) * w,
                                float(rng.uniform(0, 1.4 * w)),
                                rng.uniform(20, 120, 3).tolist()))

    def __call__(self, img: np.ndarray, t: float, st: R.SensorState) -> np.ndarray:
        if not self.people:
            return img
        out = img.copy()
        for y, size, v, x0, col in self.people:
            x = (x0 + v * t) % (1.4 * self.w) - 0.2 * self.w
            cv2.ellipse(out, (int(x), int(y - size * 0.45)), (max(1, int(size * 0.16)),
                        max(1, int(size * 0.4))), 0, 0, 360, col, -1, cv2.LINE_AA)
            cv2.circle(out, (int(x), int(y - size * 0.95)), max(1, int(size * 0.1)),
                       (90, 110, 150), -1, cv2.LINE_AA)
        return out


class Snow:
    """Snowflakes near the lens: soft bright dots, fresh every frame."""

    def __init__(self, w: int, h: int, onset: float, density: float) -> None:
        self.w, self.h, self.onset, self.n = w, h, onset, int(density * w * h / (704 * 576))
        self.rng = np.random.default_rng(0)

    def __call__(self, img: np.ndarray, t: float, st: R.SensorState) -> np.ndarray:
        if t < self.onset:
            return img
        out = img.copy()
        xs = self.rng.uniform(0, self.w, self.n).astype(int)
        ys = self.rng.uniform(0, self.h, self.n).astype(int)
        rs = self.rng.uniform(1, 4, self.n) * self.h / 576
        for x, y, r in zip(xs, ys, rs, strict=True):
            cv2.circle(out, (int(x), int(y)), max(1, int(r)), (225, 225, 225), -1, cv2.LINE_AA)
        return out


class WindShake:
    """A pole swaying in the wind: the view wobbles by a pixel or two, no smear."""

    def __init__(self, w: int, h: int, amp_px: float, freq: float) -> None:
        self.w, self.h, self.amp, self.freq = w, h, amp_px, freq

    def __call__(self, img: np.ndarray, t: float, st: R.SensorState) -> np.ndarray:
        dx = self.amp * math.sin(2 * math.pi * self.freq * t)
        dy = 0.5 * self.amp * math.sin(2 * math.pi * self.freq * 1.3 * t + 1.0)
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        return cv2.warpAffine(img, m, (self.w, self.h), borderMode=cv2.BORDER_REFLECT)


class Headlights:
    """A car's headlights sweeping through a night view: a bright glow crossing in seconds."""

    def __init__(self, w: int, h: int, passes: list[float], rng: np.random.Generator) -> None:
        self.w, self.h, self.passes = w, h, passes
        self.y = float(rng.uniform(0.55, 0.85)) * h
        self.dur = float(rng.uniform(3, 6))

    def __call__(self, img: np.ndarray, t: float, st: R.SensorState) -> np.ndarray:
        for start in self.passes:
            if start <= t < start + self.dur:
                x = (t - start) / self.dur * 1.4 * self.w - 0.2 * self.w
                glow = np.zeros((self.h // 8, self.w // 8), np.float32)
                cv2.circle(glow, (int(x / 8), int(self.y / 8)), max(2, self.w // 80), 1.0, -1)
                glow = cv2.GaussianBlur(glow, (0, 0), self.w / 160)
                glow = cv2.resize(glow, (self.w, self.h)) * np.float32(900.0)
                return img + glow[..., None]
        return img


class Vehicle:
    """A van driving past close to the camera: a large box crossing the lower view."""

    def __init__(self, w: int, h: int, start: float, rng: np.random.Generator) -> None:
        self.w, self.h, self.start = w, h, start
        self.dur = float(rng.uniform(2, 4))
        self.color = rng.uniform(30, 220, 3).tolist()
        self.top = float(rng.uniform(0.35, 0.55)) * h

    def __call__(self, img: np.ndarray, t: float, st: R.SensorState) -> np.ndarray:
        if not self.start <= t < self.start + self.dur:
            return img
        out = img.copy()
        vw = 0.6 * self.w
        x = (t - self.start) / self.dur * (self.w + vw) - vw
        cv2.rectangle(out, (int(x), int(self.top)), (int(x + vw), int(0.95 * self.h)),
                      self.color, -1)
        cv2.rectangle(out, (int(x + 0.1 * vw), int(self.top + 0.08 * self.h)),
                      (int(x + 0.4 * vw), int(self.top + 0.2 * self.h)), (40, 40, 40), -1)
        return out
