"""The faults, each acting at its physical place in the camera chain (see camera.py).

Masks and patterns are computed once per case, at reduced resolution where the thing is
soft anyway (leaves a few cm from the lens are blurred over a tenth of the picture), and
only thresholded/scaled/blended per call.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .camera import NoFault, smooth


def ramp(t: float, onset: float, dur: float) -> float:
    """0 before onset, 1 after onset + dur, smoothstep between (real changes ease in/out)."""
    if t <= onset:
        return 0.0
    if dur <= 0 or t >= onset + dur:
        return 1.0
    u = (t - onset) / dur
    return u * u * (3 - 2 * u)


def linramp(t: float, onset: float, dur: float) -> float:
    if t <= onset:
        return 0.0
    return 1.0 if dur <= 0 else min(1.0, (t - onset) / dur)


def disc_blur(img: np.ndarray, r: float) -> np.ndarray:
    """Defocus: convolution with a uniform disc (the aperture's image), done at reduced size.

    A disc of radius r px blurs away detail finer than ~r, so filtering a picture shrunk by
    r/3 with a disc of radius 3 and scaling back loses almost nothing and costs ~1 ms.
    """
    if r < 0.4:
        return img
    h, w = img.shape[:2]
    s = max(1.0, r / 3.0)
    rr = r / s
    n = int(math.ceil(rr))
    yy, xx = np.mgrid[-n:n + 1, -n:n + 1].astype(np.float32)
    k = np.clip(rr + 0.5 - np.sqrt(xx * xx + yy * yy), 0, 1)
    k /= k.sum()
    if s > 1.0:
        small = cv2.resize(img, (max(2, int(w / s)), max(2, int(h / s))),
                           interpolation=cv2.INTER_AREA)
        small = cv2.filter2D(small, -1, k, borderType=cv2.BORDER_REFLECT)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.filter2D(img, -1, k, borderType=cv2.BORDER_REFLECT)


def line_blur(img: np.ndarray, length: float, deg: float) -> np.ndarray:
    """Motion blur: the picture smeared along a line of `length` px during the exposure."""
    if length < 1.0:
        return img
    h, w = img.shape[:2]
    s = max(1.0, length / 7.0)
    ln = length / s
    n = int(math.ceil(ln / 2)) + 1
    k = np.zeros((2 * n + 1, 2 * n + 1), np.float32)
    c, sn = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    for i in np.linspace(-ln / 2, ln / 2, max(3, int(ln * 2))):
        k[int(round(n + i * sn)), int(round(n + i * c))] += 1
    k /= k.sum()
    if s > 1.0:
        small = cv2.resize(img, (max(2, int(w / s)), max(2, int(h / s))),
                           interpolation=cv2.INTER_AREA)
        small = cv2.filter2D(small, -1, k, borderType=cv2.BORDER_REFLECT)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.filter2D(img, -1, k, borderType=cv2.BORDER_REFLECT)


def soft_blur(img: np.ndarray, sigma: float, factor: int = 8) -> np.ndarray:
    """A wide Gaussian blur (scatter) computed at 1/factor size: cheap and smooth."""
    h, w = img.shape[:2]
    small = cv2.resize(img, (max(2, w // factor), max(2, h // factor)),
                       interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), max(0.5, sigma / factor))
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


ANCHORS = ("top", "bottom", "left", "right", "tl", "tr", "bl", "br")


class Foliage(NoFault):
    """Leaves and twigs a few cm from the lens, entering from an edge or a corner.

    At a few cm a lens focused far away spreads each point over a disc ~5-15 % of the
    picture wide, so leaves are soft blobs; their edges let the scene through, and they
    sway with the wind about where the branch comes in.  Coverage is the fraction of the
    view where the (blurred) cover is over half its opacity; it grows from the anchor
    outward, as a branch swinging in or a bush growing does.  At night an IR camera's own
    illuminator lights leaves this close, so they glow bright grey; backlit thin leaves by
    day are bright yellow-green and translucent.
    """

    def __init__(self, w: int, h: int, rng: np.random.Generator, coverage: float,
                 opacity: float, onset: float, grow_s: float, anchor: str,
                 translucent: bool = False, night: str | None = None,
                 sway_deg: float = 2.0, start_cov: float = 0.0) -> None:
        self.w, self.h = w, h
        self.cov, self.op, self.onset, self.grow = coverage, opacity, onset, grow_s
        self.start_cov = start_cov
        lw = 160
        lh = max(40, int(round(lw * h / w)))
        self.lw, self.lh = lw, lh
        ax = {"l": 0.0, "r": 1.0}
        ay = {"t": 0.0, "b": 1.0}
        if anchor in ("top", "bottom"):
            p = (rng.uniform(0.2, 0.8) * lw, (0.0 if anchor == "top" else 1.0) * lh)
        elif anchor in ("left", "right"):
            p = ((0.0 if anchor == "left" else 1.0) * lw, rng.uniform(0.2, 0.8) * lh)
        else:
            p = (ax[anchor[1]] * lw, ay[anchor[0]] * lh)
        self.anchor = p
        yy, xx = np.mgrid[0:lh, 0:lw].astype(np.float32)
        if anchor in ("top", "bottom"):
            dist = np.abs(yy - p[1]) + 0.3 * np.abs(xx - p[0])
        elif anchor in ("left", "right"):
            dist = np.abs(xx - p[0]) + 0.3 * np.abs(yy - p[1])
        else:
            dist = np.hypot(xx - p[0], yy - p[1])
        field = 1000.0 + dist
        colour = np.zeros((lh, lw, 3), np.float32)
        if night == "ir":
            base = np.array([215, 215, 215], np.float32)
        elif night == "lamp":
            base = np.array([14, 24, 18], np.float32)
        elif translucent:
            base = np.array([60, 185, 150], np.float32)
        else:
            base = np.array([28, 58, 40], np.float32) * rng.uniform(0.6, 1.3)
        colour[:] = base * 0.8
        inward = math.atan2(lh / 2 - p[1], lw / 2 - p[0])
        diag = math.hypot(lw, lh)
        leaves = []
        for _ in range(int(rng.integers(3, 6))):
            a = inward + rng.uniform(-0.9, 0.9)
            x, y, s = p[0] + rng.uniform(-0.15, 0.15) * lw * (anchor in ("top", "bottom")), \
                p[1] + rng.uniform(-0.15, 0.15) * lh * (anchor in ("left", "right")), 0.0
            curl = rng.uniform(-0.02, 0.02)
            while s < diag * 1.3:
                step = rng.uniform(3, 6)
                a += curl + rng.normal(0, 0.05)
                x, y, s = x + step * math.cos(a), y + step * math.sin(a), s + step
                for side in (-1, 1):
                    la = a + side * rng.uniform(0.5, 1.2)
                    ll = rng.uniform(0.05, 0.13) * lw
                    cxy = (x + math.cos(la) * ll * 0.8, y + math.sin(la) * ll * 0.8)
                    leaves.append((s + rng.uniform(0, 6), cxy, ll, la))
        leaves.sort(key=lambda v: -v[0])  # far first, so near leaves end on top
        m = np.zeros((lh, lw), np.uint8)
        for order, (cx, cy), ll, la in leaves:
            m[:] = 0
            cv2.ellipse(m, (int(cx), int(cy)), (max(1, int(ll)), max(1, int(ll * 0.42))),
                        math.degrees(la), 0, 360, 1, -1)
            sel = m > 0
            field[sel] = np.minimum(field[sel], order)
            colour[sel] = base * rng.uniform(0.6, 1.35) * rng.uniform(0.9, 1.1, 3)
        self.field = field
        self.sorted = np.sort(field.ravel())
        self.colour = colour
        self.sigma = lw * rng.uniform(0.015, 0.03)  # defocus of something a few cm away
        self.sway = sway_deg
        self.phases = rng.uniform(0, 2 * math.pi, 4)
        self._cache: tuple[float, np.ndarray, np.ndarray] | None = None

    def coverage_at(self, t: float) -> float:
        if t < self.onset:
            return self.start_cov
        return self.start_cov + (self.cov - self.start_cov) * linramp(t, self.onset, self.grow)

    def _layers(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """(1 - alpha) and alpha * colour at the view's size, premultiplied at low res."""
        c = self.coverage_at(t)
        q = self.sorted[min(len(self.sorted) - 1, int(c * (len(self.sorted) - 1)))]
        deg = self.sway * smooth(t * 1.7, self.phases[:3], (2.3, 3.7, 6.1))
        m = cv2.getRotationMatrix2D(self.anchor, deg, 1.0)
        f = cv2.warpAffine(self.field, m, (self.lw, self.lh), flags=cv2.INTER_NEAREST,
                           borderMode=cv2.BORDER_REPLICATE)
        col = cv2.warpAffine(self.colour, m, (self.lw, self.lh), borderMode=cv2.BORDER_REPLICATE)
        mask = (f <= q).astype(np.float32)
        mask = cv2.GaussianBlur(mask, (0, 0), self.sigma) * self.op
        col = cv2.GaussianBlur(col, (0, 0), self.sigma * 0.6)
        a3 = cv2.merge([mask, mask, mask])
        size = (self.w, self.h)
        inv = cv2.resize(1.0 - a3, size, interpolation=cv2.INTER_LINEAR)
        pre = cv2.resize(col * a3, size, interpolation=cv2.INTER_LINEAR)
        return inv, pre

    def optics(self, img: np.ndarray, t: float) -> np.ndarray:
        if self.coverage_at(t) <= 0:
            return img
        inv, pre = self._layers(t)
        return cv2.add(cv2.multiply(img, inv), pre)


class Smudge(NoFault):
    """Grease, dirt or a dried drop on the window, over one region of the view.

    It scatters light: the scene behind is blurred, its contrast reduced, and a veil of the
    smudge's own colour (grey grease, brown dirt) is added; it appears over a few seconds
    (a hand, a splash) and does not move.
    """

    COLOURS = {"greasy": (0.95, 0.97, 1.0), "hazy": (1.05, 1.05, 1.05),
               "brownish": (0.55, 0.75, 0.95)}

    def __init__(self, w: int, h: int, rng: np.random.Generator, coverage: float,
                 onset: float, ramp_s: float, kind: str, night: str | None = None) -> None:
        self.onset, self.ramp = onset, ramp_s
        lw = 96
        lh = max(32, int(round(lw * h / w)))
        cx, cy = rng.uniform(0.2, 0.8) * lw, rng.uniform(0.2, 0.8) * lh
        yy, xx = np.mgrid[0:lh, 0:lw].astype(np.float32)
        ang = rng.uniform(0, math.pi)
        u = (xx - cx) * math.cos(ang) + (yy - cy) * math.sin(ang)
        v = -(xx - cx) * math.sin(ang) + (yy - cy) * math.cos(ang)
        d = np.hypot(u, v * rng.uniform(1.0, 1.8))
        noise = cv2.GaussianBlur(rng.standard_normal((lh, lw)).astype(np.float32), (0, 0), 4)
        field = d / lw + noise * 0.6
        q = np.quantile(field, coverage)
        mask = (field <= q).astype(np.float32)
        mask = cv2.GaussianBlur(mask, (0, 0), lw * 0.03)
        inner = np.clip(1.0 - field / max(q, 1e-3), 0, 1)
        mask = mask * (0.75 + 0.25 * inner)
        streaks = cv2.GaussianBlur(rng.standard_normal((lh, lw)).astype(np.float32), (0, 0),
                                   sigmaX=1.0, sigmaY=5.0)
        self.lw, self.lh = lw, lh
        self.m3 = cv2.merge([mask, mask, mask])
        self.inv = cv2.resize(1.0 - self.m3, (w, h), interpolation=cv2.INTER_LINEAR)
        hz = np.clip(0.45 + 0.5 * streaks, 0.2, 0.85)
        self.haze_small = cv2.merge([hz, hz, hz])
        self.colour = np.array(self.COLOURS[kind], np.float32)
        self.sigma = w * rng.uniform(0.03, 0.06)
        self.night = night

    def optics(self, img: np.ndarray, t: float) -> np.ndarray:
        k = ramp(t, self.onset, self.ramp)
        if k <= 0:
            return img
        # everything behind the smudge is blurred, so it is computed at 1/8 size
        h, w = img.shape[:2]
        small = cv2.resize(img, (self.lw, self.lh), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (0, 0), max(0.5, self.sigma * self.lw / w))
        level = float(np.mean(small)) * 1.05 + 10.0
        target = small + self.haze_small * (self.colour * level - small)
        m3 = self.m3 if k >= 1 else self.m3 * k
        target = cv2.resize(target * m3, (w, h), interpolation=cv2.INTER_LINEAR)
        inv = self.inv if k >= 1 else cv2.resize(1.0 - m3, (w, h))
        return cv2.add(cv2.multiply(img, inv), target)


class Defocus(NoFault):
    """The lens out of focus: each point spread over a disc of radius r px.

    `ramp_s` short: a focus motor misstep or a knocked focus ring; long (20-60 s, or hours
    in the slow cases): focus creeping as the lens warms or the motor drifts.
    """

    def __init__(self, radius: float, onset: float, ramp_s: float) -> None:
        self.r, self.onset, self.ramp_s = radius, onset, ramp_s

    def radius_at(self, t: float) -> float:
        return self.r * linramp(t, self.onset, self.ramp_s)

    def optics(self, img: np.ndarray, t: float) -> np.ndarray:
        return disc_blur(img, self.radius_at(t))


class LooseMount(NoFault):
    """A loose mount: the camera vibrates, so each frame is smeared and displaced.

    The smear length varies with the wind/traffic that shakes it; its direction follows
    the mount's loose axis with some wobble.
    """

    def __init__(self, length: float, onset: float, rng: np.random.Generator) -> None:
        self.length, self.onset = length, onset
        self.deg = rng.uniform(0, 180)
        self.phases = rng.uniform(0, 2 * math.pi, 6)

    def _on(self, t: float) -> float:
        return ramp(t, self.onset, 2.0)

    def view(self, t: float) -> tuple[float, float, float] | None:
        k = self._on(t)
        if k <= 0:
            return None
        a = 0.5 * self.length * k * smooth(t * 5.3, self.phases[:3])
        r = math.radians(self.deg)
        return a * math.cos(r), a * math.sin(r), 0.0

    def optics(self, img: np.ndarray, t: float) -> np.ndarray:
        k = self._on(t)
        if k <= 0:
            return img
        ln = self.length * k * (0.75 + 0.25 * abs(smooth(t * 3.1, self.phases[3:])))
        return line_blur(img, ln, self.deg + 12 * smooth(t, self.phases[1:4]))


class Fog(NoFault):
    """Fog outdoors or condensation on the dome: a veil of scattered light plus blur.

    Transmission T = exp(-beta * depth); with no depth map, depth grows toward the top of
    an outdoor view (the far field); condensation is nearly uniform.  The veil's light is
    the daylight (bright grey) or, at night, the IR illuminator's backscatter (bright) or
    the lamps' (dim).  `density` is the mean veil 1 - T.
    """

    def __init__(self, w: int, h: int, rng: np.random.Generator, density: float,
                 onset: float, ramp_s: float, outdoor: bool, night: str | None) -> None:
        self.onset, self.ramp_s, self.density = onset, ramp_s, density
        yy = np.linspace(0, 1, h, dtype=np.float32)[:, None]
        xx = np.linspace(0, 1, w, dtype=np.float32)[None, :]
        if outdoor:
            depth = 1.6 - yy + 0 * xx
        else:
            depth = 1.0 + 0.3 * (yy - 0.5) + 0.2 * np.sin(6 * xx + rng.uniform(0, 6))
        veil = 1 - np.exp(-depth)
        veil = veil / veil.mean() * density
        self.veil = np.clip(veil, 0, 0.985).astype(np.float32)[..., None]
        self.air = {"ir": 190.0, "lamp": 70.0}.get(night or "", 215.0)
        self.sigma = w * 0.01 * (0.5 + density)
        v3 = np.repeat(self.veil, 3, axis=2)
        self.inv = np.ascontiguousarray(1.0 - v3)
        self.air3 = np.ascontiguousarray(v3 * self.air)

    def optics(self, img: np.ndarray, t: float) -> np.ndarray:
        k = ramp(t, self.onset, self.ramp_s)
        if k <= 0:
            return img
        blurred = soft_blur(img, self.sigma, factor=4)
        mix = min(1.0, 1.3 * self.density * k)
        img = cv2.addWeighted(img, 1 - mix, blurred, mix, 0)
        if k >= 1:
            return cv2.add(cv2.multiply(img, self.inv), self.air3)
        v = self.veil * k
        img += v * (self.air - img)
        return img


class Ripple(NoFault):
    """Interference on the video signal: a sinusoidal pattern added to the luma.

    Ground loops and hum give rolling horizontal bars (long period, drifting vertically);
    RF pickup and unshielded cables give fine diagonal stripes, herringbone (the stripe
    angle flipping every band of lines) or moire (two close frequencies beating).  The
    pattern is sum_i a_i sin(phase_i(x, y) - 2 pi f_i t); with sin/cos of the spatial
    phase precomputed, a call is two weighted adds.  `amp` is the peak amplitude in grey
    levels.
    """

    def __init__(self, w: int, h: int, rng: np.random.Generator, amp: float, period: float,
                 angle: float, drift_hz: float, pattern: str, onset: float) -> None:
        self.amp, self.onset, self.pattern = amp, onset, pattern
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        comps = []
        th = math.radians(angle)
        k = 2 * math.pi / period
        if pattern == "bars":
            comps.append((1.0, k * yy, drift_hz))
        elif pattern == "herringbone":
            band = period * rng.uniform(3, 8)
            tri = np.abs(((yy / band) % 2) - 1) * band
            comps.append((1.0, k * (xx * math.cos(th) + tri * math.sin(th)), drift_hz))
        elif pattern == "moire":
            th2 = th + math.radians(rng.uniform(2, 6))
            k2 = k * rng.uniform(1.03, 1.08)
            comps.append((0.55, k * (xx * math.cos(th) + yy * math.sin(th)), drift_hz))
            comps.append((0.55, k2 * (xx * math.cos(th2) + yy * math.sin(th2)), -drift_hz))
        else:  # stripes
            comps.append((1.0, k * (xx * math.cos(th) + yy * math.sin(th)), drift_hz))
        self.comps = [(a, np.sin(p).astype(np.float32), np.cos(p).astype(np.float32), f)
                      for a, p, f in comps]
        self.phases = rng.uniform(0, 2 * math.pi, 4)

    def signal(self, img: np.ndarray, t: float) -> np.ndarray:
        if t < self.onset:
            return img
        a = self.amp * (1.0 + 0.1 * smooth(t, self.phases[:3])) * ramp(t, self.onset, 0.5)
        pat = None
        for ca, s, c, f in self.comps:
            ph = 2 * math.pi * f * t + self.phases[3]
            p = cv2.addWeighted(s, a * ca * math.cos(ph), c, -a * ca * math.sin(ph), 0)
            pat = p if pat is None else cv2.add(pat, p)
        img += pat[..., None]
        return img


class Dark(NoFault):
    """Lights out / an IR illuminator failing: the scene light collapses to a residue.

    The AGC then runs at full gain, so the picture is dark but alive: the faint structure
    the residual light gives, plus strong sensor noise (never a flat noiseless black,
    which only a lens cap would give).  `level` is the mean grey level it ends at; an IR
    illuminator can flicker before it dies.
    """

    def __init__(self, level: float, onset: float, ramp_s: float, scene_mean: float,
                 noise_sd: float, end_noise: float, flicker: bool,
                 rng: np.random.Generator) -> None:
        self.onset, self.ramp_s = onset, ramp_s
        self.k = min(1.0, level / max(scene_mean, 1.0))
        self.noise_gain = max(1.0, end_noise / max(noise_sd, 0.1))
        self.flicker = flicker
        self.ph = rng.uniform(0, 10)

    def light(self, t: float) -> float:
        u = ramp(t, self.onset, self.ramp_s)
        if self.flicker and 0 < u < 1:
            u = 1.0 if int(t * 2.3 + self.ph) % 3 == 0 else u * 0.5
        return 1.0 - (1.0 - self.k) * u

    def noise(self, t: float) -> float:
        return 1.0 + (self.noise_gain - 1.0) * ramp(t, self.onset, self.ramp_s)


class Moved(NoFault):
    """The camera knocked, panned or sagging: the view shifts and rotates in the world."""

    def __init__(self, w: int, shift_pct: float, deg: float, direction: float, onset: float,
                 ramp_s: float) -> None:
        self.dx = shift_pct / 100.0 * w * math.cos(direction)
        self.dy = shift_pct / 100.0 * w * math.sin(direction)
        self.deg, self.onset, self.ramp_s = deg, onset, ramp_s

    def view(self, t: float) -> tuple[float, float, float] | None:
        u = ramp(t, self.onset, self.ramp_s)
        if u <= 0:
            return None
        return self.dx * u, self.dy * u, self.deg * u


class Frozen(NoFault):
    """The ISP/encoder stuck: the same picture again and again from onset on."""

    def __init__(self, onset: float) -> None:
        self.onset = onset

    def frozen_at(self, t: float) -> float | None:
        return self.onset if t >= self.onset else None
