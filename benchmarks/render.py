"""Frame renderers for the accuracy set: scenes, camera faults, harmless look-alikes, sensor.

Everything works on float32 BGR frames in 0..255 and follows the order light takes through a
real camera, because that order is what makes a fault look like the real thing:

1. scene (real footage or a photo made "live"),
2. optics in front of the sensor (leaves, hand, defocus, fog; a person walking close, rain),
3. sensor and ISP (auto gain, day/night switch, fresh Gaussian noise every frame),
4. electrical interference added to the video signal afterwards (ripple patterns),
5. on-screen clock, then the encoder (frozen pictures repeat this final frame).

Heavy operations (defocus, occluder layers) are computed at reduced resolution and upscaled;
the objects they model are soft anyway, and it keeps the whole set within a few CPU minutes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

#: Occluder shapes are drawn on a canvas this wide, then blurred and upscaled: near-lens objects
#: are hugely defocused, so detail finer than ~1/160 of the frame never reaches the sensor.
LOWRES_W = 160


def smoothstep(x: float) -> float:
    """Ease 0..1 so that onsets ramp in like physical motion, not like a linear fade."""
    x = min(1.0, max(0.0, x))
    return x * x * (3.0 - 2.0 * x)


def ramp(t: float, t0: float, dur: float) -> float:
    """Progress 0..1 of a transition that starts at t0 and takes `dur` seconds."""
    if dur <= 0:
        return 1.0 if t >= t0 else 0.0
    return smoothstep((t - t0) / dur)


@dataclass(slots=True)
class SensorState:
    """What optics/scene modifiers ask of the sensor stage for one frame.

    Auto gain, the IR day/night switch and dimming change gain, noise and colour *after* the
    lens, so they are expressed here rather than painted onto the picture.
    """

    gain: float = 1.0
    noise: float = 2.0
    sat: float = 1.0
    contrast: float = 1.0
    tint: tuple[float, float, float] | None = None
    vignette: np.ndarray | None = None


class Effect(Protocol):
    """A per-frame transform; `t` is seconds from the start of the clip."""

    def __call__(self, img: np.ndarray, t: float, st: SensorState) -> np.ndarray: ...


# --------------------------------------------------------------------------------------------
# helpers


def value_noise(w: int, h: int, rng: np.random.Generator, cells: int) -> np.ndarray:
    """Smooth random field in [0, 1]: bicubic-upscaled random grid (cheap Perlin stand-in)."""
    gh = max(2, int(round(cells * h / max(w, 1))))
    grid = rng.random((gh, cells)).astype(np.float32)
    field = cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
    field -= field.min()
    field /= max(float(field.max()), 1e-6)
    return field


def disk_kernel(radius: float) -> np.ndarray:
    """Anti-aliased flat disk (the point-spread function of a defocused lens)."""
    r_int = int(math.ceil(radius))
    size = 2 * r_int + 1
    ss = 8
    big = np.zeros((size * ss, size * ss), np.float32)
    c = (size * ss - 1) / 2.0
    cv2.circle(big, (int(round(c)), int(round(c))), max(1, int(round(radius * ss))), 1.0, -1,
               lineType=cv2.LINE_AA)
    k = cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA)
    return k / max(float(k.sum()), 1e-6)


def _downscaled(img: np.ndarray, radius: float, target: float) -> tuple[np.ndarray, float]:
    """Shrink so the blur radius becomes ~`target` px: big blurs cost the same as small ones."""
    f = max(1.0, radius / target)
    if f <= 1.0:
        return img, 1.0
    h, w = img.shape[:2]
    # INTER_AREA is slow for non-integer factors; bilinear aliasing is blurred away anyway.
    interp = cv2.INTER_AREA if f >= 2.0 else cv2.INTER_LINEAR
    small = cv2.resize(img, (max(8, int(w / f)), max(8, int(h / f))), interpolation=interp)
    return small, f


def defocus(img: np.ndarray, radius: float) -> np.ndarray:
    """Disk blur of `radius` output pixels (what an out-of-focus lens does)."""
    if radius < 0.4:
        return img
    h, w = img.shape[:2]
    small, f = _downscaled(img, radius, 3.0)
    out = cv2.filter2D(small, -1, disk_kernel(radius / f), borderType=cv2.BORDER_REFLECT)
    if f > 1.0:
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)
    return out


def gauss(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of `sigma` output pixels, computed at reduced size when sigma is large."""
    if sigma < 0.3:
        return img
    h, w = img.shape[:2]
    small, f = _downscaled(img, sigma, 2.0)
    out = cv2.GaussianBlur(small, (0, 0), sigma / f, borderType=cv2.BORDER_REFLECT)
    if f > 1.0:
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)
    return out


def isp_sharpen(img: np.ndarray, amount: float = 0.6) -> np.ndarray:
    """Unsharp mask, as a camera ISP applies; used after upscaling small sources."""
    soft = cv2.GaussianBlur(img, (0, 0), 1.2)
    return cv2.addWeighted(img, 1.0 + amount, soft, -amount, 0.0)


def fit_cover(img: np.ndarray, w: int, h: int, rng: np.random.Generator,
              zoom: float = 1.0) -> np.ndarray:
    """Crop to the output aspect (random offset) and resize; sharpen when upscaling a lot."""
    ih, iw = img.shape[:2]
    scale = max(w / iw, h / ih) * zoom
    cw, ch = min(iw, int(round(w / scale))), min(ih, int(round(h / scale)))
    x0 = int(rng.integers(0, iw - cw + 1))
    y0 = int(rng.integers(0, ih - ch + 1))
    crop = img[y0:y0 + ch, x0:x0 + cw]
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_CUBIC
    out = cv2.resize(crop, (w, h), interpolation=interp).astype(np.float32)
    if scale > 1.3:
        out = np.clip(isp_sharpen(out, 0.5), 0, 255)
    return out


class NoiseBank:
    """Fresh-looking sensor noise at low cost.

    A few unit-variance fields slightly larger than the frame are made once; every frame takes
    one of them at a random offset, so no two frames share a noise pattern (which is exactly
    what tells a live static camera from a frozen one) without a full randn per frame.
    """

    MARGIN = 97

    def __init__(self, w: int, h: int, rng: np.random.Generator, k: int = 4):
        self.w, self.h, self.rng = w, h, rng
        self.fields = []
        for _ in range(k):
            luma = rng.standard_normal((h + self.MARGIN, w + self.MARGIN), np.float32)
            chroma = rng.standard_normal((h + self.MARGIN, w + self.MARGIN, 3), np.float32)
            # Mostly luminance noise with some per-channel (chroma) noise, unit variance.
            self.fields.append(0.85 * luma[..., None] + 0.527 * chroma)

    def sample(self) -> np.ndarray:
        """A (h, w, 3) unit-variance noise view, different every call."""
        f = self.fields[int(self.rng.integers(len(self.fields)))]
        dy, dx = (int(v) for v in self.rng.integers(0, self.MARGIN, 2))
        return f[dy:dy + self.h, dx:dx + self.w]


def apply_sensor(img: np.ndarray, st: SensorState, noise: NoiseBank, as_uint8: bool) -> np.ndarray:
    """Gain, colour/contrast changes and fresh noise; saturates to 8 bits if `as_uint8`."""
    if st.sat < 0.999:
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        img = cv2.addWeighted(img, st.sat, cv2.merge([gray, gray, gray]), 1.0 - st.sat, 0.0)
    if abs(st.contrast - 1.0) > 1e-3:
        m = float(img.mean())
        img = cv2.addWeighted(img, st.contrast, img, 0.0, m * (1.0 - st.contrast))
    if st.vignette is not None:
        img = cv2.multiply(img, st.vignette)
    if st.tint is not None:
        img = img * np.asarray(st.tint, np.float32)
    dtype = cv2.CV_8U if as_uint8 else cv2.CV_32F
    return cv2.addWeighted(img, st.gain, noise.sample(), st.noise, 0.0, dtype=dtype)


# --------------------------------------------------------------------------------------------
# scenes


class VideoScene:
    """Real surveillance footage (vtest.avi), cropped to the output aspect and resized."""

    def __init__(self, frames: list[np.ndarray], w: int, h: int, start: int, mirror: bool,
                 rng: np.random.Generator):
        self.frames, self.w, self.h, self.start, self.mirror = frames, w, h, start, mirror
        sh, sw = frames[0].shape[:2]
        ch = min(sh, int(round(sw * h / w)))
        self.y0 = int(rng.integers(0, sh - ch + 1))
        self.ch = ch
        self.upscale = w / sw > 1.3

    def frame(self, i: int) -> np.ndarray:
        """Frame i of the clip as float32 BGR (loops if the window runs past the end)."""
        src = self.frames[(self.start + i) % len(self.frames)]
        src = src[self.y0:self.y0 + self.ch]
        if self.upscale:
            # Sharpen before upscaling (4x fewer pixels), as an ISP would on the sensor image.
            soft = cv2.GaussianBlur(src, (0, 0), 1.0)
            src = cv2.addWeighted(src, 1.5, soft, -0.5, 0.0)
            out = cv2.resize(src, (self.w, self.h), interpolation=cv2.INTER_CUBIC)
        else:
            # Bilinear is enough for the mild (<1.2x) downscales used here, and 5x cheaper.
            out = cv2.resize(src, (self.w, self.h), interpolation=cv2.INTER_LINEAR)
        if self.mirror:
            out = cv2.flip(out, 1)
        return out.astype(np.float32)


class StillScene:
    """A photo (or synthetic picture) seen by a fixed camera: optional slow sub-pixel pan.

    Noise and illumination drift are added by the sensor stage, so the scene itself only moves
    by the pan; a real static camera still wobbles a little with wind and temperature.
    """

    def __init__(self, img: np.ndarray, pan_px: float, pan_period: float, jitter_px: float,
                 rng: np.random.Generator):
        self.img = img.astype(np.float32)
        self.h, self.w = img.shape[:2]
        self.pan_px, self.pan_period, self.jitter = pan_px, pan_period, jitter_px
        self.phase = float(rng.uniform(0, 2 * math.pi))
        self.rng = rng
        self._cache_key: tuple[int, int] | None = None
        self._cache = self.img

    def frame(self, i: int) -> np.ndarray:
        """The still at frame i, shifted by the pan (quantised to 0.1 px and cached)."""
        t = i / 10.0
        dx = self.pan_px * math.sin(2 * math.pi * t / self.pan_period + self.phase)
        dy = 0.5 * self.pan_px * math.sin(2 * math.pi * t / (1.7 * self.pan_period))
        if self.jitter > 0:
            dx += float(self.rng.normal(0, self.jitter))
            dy += float(self.rng.normal(0, self.jitter))
        key = (int(round(dx * 10)), int(round(dy * 10)))
        if key == (0, 0):
            return self.img
        if key != self._cache_key:
            m = np.float32([[1, 0, key[0] / 10.0], [0, 1, key[1] / 10.0]])
            self._cache = cv2.warpAffine(self.img, m, (self.w, self.h),
                                         borderMode=cv2.BORDER_REFLECT)
            self._cache_key = key
        return self._cache


# --------------------------------------------------------------------------------------------
# synthetic pictures (negatives that the photos do not cover)


def synth_plain_wall(w: int, h: int, rng: np.random.Generator, features: bool) -> np.ndarray:
    """A painted wall in a corridor: low texture on purpose (must not read as a blocked lens)."""
    base = np.array(rng.choice([[165, 180, 195], [190, 195, 200], [150, 165, 170],
                                [200, 210, 215], [120, 140, 160]]), np.float32)
    base *= float(rng.uniform(0.8, 1.1))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(-0.3, 0.3) * h
    light = 1.0 - 0.35 * np.sqrt(((xx - cx) / w) ** 2 + ((yy - cy) / h) ** 2)
    plaster = 0.97 + 0.05 * value_noise(w, h, rng, 24) + 0.015 * value_noise(w, h, rng, 120)
    img = base[None, None, :] * (light * plaster)[..., None]
    if features:
        # Skirting board, a light switch and a cable duct: the few hard edges a real wall has.
        sk = int(h * rng.uniform(0.82, 0.9))
        img[sk:] *= 0.55
        cv2.line(img, (0, sk), (w, sk), (60, 60, 60), max(1, h // 300))
        sx, sy = int(w * rng.uniform(0.2, 0.7)), int(h * rng.uniform(0.35, 0.55))
        s = max(6, w // 40)
        cv2.rectangle(img, (sx, sy), (sx + s, sy + int(1.4 * s)), (235, 235, 235), -1)
        cv2.rectangle(img, (sx, sy), (sx + s, sy + int(1.4 * s)), (120, 120, 120), 1)
        dx = int(w * rng.uniform(0.75, 0.95))
        cv2.rectangle(img, (dx, 0), (dx + max(4, w // 60), sk), (205, 205, 205), -1)
    return np.clip(img, 0, 255)


def synth_car_park(w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    """An outdoor car park at night: dark asphalt, faint bay lines, a few sodium/LED lamps."""
    img = np.zeros((h, w, 3), np.float32)
    horizon = int(h * rng.uniform(0.3, 0.42))
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    sky = (6 + 6 * yy) * np.ones((1, w), np.float32)
    ground = (14 + 16 * yy) * np.ones((1, w), np.float32)
    lum = np.where(np.arange(h)[:, None] < horizon, sky, ground)
    img[:] = lum[..., None] * np.array([1.05, 1.0, 0.95], np.float32)
    img *= (0.85 + 0.3 * value_noise(w, h, rng, 30))[..., None]
    vx = w * rng.uniform(0.35, 0.65)
    for k in range(-8, 9):
        x_bottom = vx + k * w * 0.18
        cv2.line(img, (int(vx + k * w * 0.02), horizon + 4), (int(x_bottom), h),
                 (38, 40, 42), max(1, w // 350), cv2.LINE_AA)
    glow = np.zeros((h, w, 3), np.float32)
    for _ in range(int(rng.integers(2, 5))):
        lx, ly = int(rng.uniform(0.05, 0.95) * w), int(rng.uniform(0.12, 0.4) * h)
        color = np.array(rng.choice([[60, 150, 255], [235, 240, 255], [90, 170, 250]]),
                         np.float32)
        cv2.line(img, (lx, ly), (lx, int(h * rng.uniform(0.55, 0.8))), (10, 10, 12),
                 max(2, w // 200))
        cv2.circle(glow, (lx, ly), max(3, w // 160), color.tolist(), -1, cv2.LINE_AA)
        pool = np.zeros((h, w), np.float32)
        cv2.ellipse(pool, (lx, int(h * rng.uniform(0.65, 0.9))), (w // 7, h // 14), 0, 0, 360,
                    1.0, -1)
        pool = cv2.GaussianBlur(pool, (0, 0), w / 40)
        img += pool[..., None] * (color * 0.12)[None, None, :]
    halo = cv2.GaussianBlur(glow, (0, 0), w / 90) * 3.0 + cv2.GaussianBlur(glow, (0, 0), w / 25)
    img += glow + halo
    return np.clip(img, 0, 255)


def synth_tiles(w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    """A tiled facade/wall seen slightly obliquely: strong, natural periodic texture."""
    big_w, big_h = int(w * 1.4), int(h * 1.4)
    tile = int(rng.uniform(22, 48) * w / 704)
    base = np.array(rng.choice([[200, 205, 210], [120, 150, 190], [170, 170, 150]]), np.float32)
    img = np.ones((big_h, big_w, 3), np.float32) * base
    img *= (0.9 + 0.15 * value_noise(big_w, big_h, rng, 40))[..., None]
    grout = (90, 95, 100)
    for y in range(0, big_h, tile):
        cv2.line(img, (0, y), (big_w, y), grout, max(1, tile // 10))
    offset = tile // 2 if rng.random() < 0.5 else 0
    for row, y in enumerate(range(0, big_h, tile)):
        for x in range(-tile + (offset if row % 2 else 0), big_w, tile):
            cv2.line(img, (x, y), (x, y + tile), grout, max(1, tile // 10))
    src = np.float32([[0, 0], [big_w, 0], [big_w, big_h], [0, big_h]])
    d = rng.uniform(0.05, 0.18)
    dst = np.float32([[0, 0], [w, d * h], [w, h * (1 - d)], [0, h]])
    m = cv2.getPerspectiveTransform(src, dst)
    return np.clip(cv2.warpPerspective(img, m, (w, h), borderMode=cv2.BORDER_REFLECT), 0, 255)


def overlay_palisade(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A metal bar fence in the foreground of a still (periodic, in focus, from frame one)."""
    h, w = img.shape[:2]
    out = img.copy()
    period = int(rng.uniform(22, 46) * w / 704)
    bar = max(3, int(period * rng.uniform(0.3, 0.45)))
    top = int(h * rng.uniform(0.25, 0.5))
    color = np.array(rng.choice([[30, 45, 30], [25, 25, 28], [60, 60, 62]]), np.float32)
    for x in range(int(rng.integers(0, period)), w, period):
        shade = color * float(rng.uniform(0.9, 1.1))
        out[top:, x:x + bar] = shade
        out[top:, x:x + max(1, bar // 4)] = shade * 1.6
    for ry in (top + int(0.1 * h), h - int(0.12 * h)):
        out[ry:ry + max(3, h // 70)] = color * 1.2
    return out


def overlay_blinds(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Venetian blinds across the view: horizontal slats with a light-to-dark gradient each."""
    h, w = img.shape[:2]
    out = img.copy()
    period = int(rng.uniform(12, 26) * h / 576)
    slat = max(2, int(period * rng.uniform(0.55, 0.8)))
    grad = np.linspace(1.0, 0.7, slat, dtype=np.float32)[:, None, None]
    color = np.array(rng.choice([[215, 220, 222], [170, 190, 200], [120, 120, 125]]),
                     np.float32)
    x0, x1 = 0, w
    if rng.random() < 0.5:
        x0, x1 = int(w * rng.uniform(0.0, 0.2)), int(w * rng.uniform(0.75, 1.0))
    for y in range(int(rng.integers(0, period)), h - slat, period):
        out[y:y + slat, x0:x1] = color * grad
    return out


def chainlink_layers(w: int, h: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Alpha and colour of a chain-link fence in front of the camera (diamond mesh)."""
    period = rng.uniform(16, 30) * w / 704
    thick = max(1.2, period / 11)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = np.zeros((h, w), np.float32)
    for sign in (1.0, -1.0):
        u = (xx + sign * yy) / (period * math.sqrt(2))
        d = np.abs(u - np.round(u)) * period * math.sqrt(2) / math.sqrt(2)
        a = np.maximum(a, np.clip(thick - d, 0, 1))
    a *= 0.9
    color = np.ones((h, w, 3), np.float32) * np.float32(rng.uniform(95, 150))
    color *= (0.85 + 0.3 * value_noise(w, h, rng, 12))[..., None]
    return a, color


# --------------------------------------------------------------------------------------------
# blocked: near-lens occluders


class Occluder:
    """Something near the lens, drawn on a low-res canvas, defocused and composited.

    Subclasses supply `draw(t)` -> (alpha, colour) on the low-res canvas; this base handles
    timing (the object arriving over `arrive_s`), sway, auto-exposure reaction and upscaling.
    """

    def __init__(self, w: int, h: int, onset: float, arrive_s: float, blur_lr: float,
                 rng: np.random.Generator, coverage: float = 1.0, ae: float = 0.0,
                 sway_px: float = 0.0, direction: tuple[float, float] = (0.0, -1.0)):
        self.w, self.h, self.onset, self.arrive_s = w, h, onset, arrive_s
        self.target = coverage
        self.lw = LOWRES_W
        self.lh = max(8, int(round(LOWRES_W * h / w)))
        self.blur_lr, self.rng, self.ae, self.sway_px = blur_lr, rng, ae, sway_px
        self.direction = direction  # where the object comes from (unit vector, image coords)
        self.sway_f = float(rng.uniform(0.15, 0.5))
        self.sway_phase = float(rng.uniform(0, 2 * math.pi))
        self.alpha_lr, self.color_lr = self.build()
        self._static: tuple[np.ndarray, np.ndarray, float] | None = None
        self.cacheable = True  # False for objects that keep moving (a passer-by)

    def build(self) -> tuple[np.ndarray, np.ndarray]:
        """Final (fully arrived) low-res alpha (lh, lw) and colour (lh, lw, 3), unblurred."""
        raise NotImplementedError

    def offset(self, t: float) -> tuple[float, float]:
        """Low-res translation at time t: slide in from `direction`, then sway."""
        p = ramp(t, self.onset, self.arrive_s)
        dist = (1.0 - p) * 1.05 * max(self.lw, self.lh)
        dx, dy = self.direction[0] * dist, self.direction[1] * dist
        if self.sway_px > 0:
            s = math.sin(2 * math.pi * self.sway_f * t + self.sway_phase)
            dx += self.sway_px * s
            dy += 0.4 * self.sway_px * math.cos(2 * math.pi * 0.7 * self.sway_f * t)
        return dx, dy

    def layers(self, t: float) -> tuple[np.ndarray, np.ndarray, float]:
        """Full-res alpha, colour and current coverage; cached once the object is still."""
        still = self.cacheable and t >= self.onset + self.arrive_s and self.sway_px <= 0
        if still and self._static is not None:
            return self._static
        dx, dy = self.offset(t)
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        a = cv2.warpAffine(self.alpha_lr, m, (self.lw, self.lh), borderValue=0.0)
        c = cv2.warpAffine(self.color_lr, m, (self.lw, self.lh), borderMode=cv2.BORDER_REPLICATE)
        a = cv2.GaussianBlur(a, (0, 0), self.blur_lr, borderType=cv2.BORDER_REPLICATE)
        c = cv2.GaussianBlur(c, (0, 0), self.blur_lr * 0.6, borderType=cv2.BORDER_REPLICATE)
        cov = float(a.mean())
        a_full = cv2.resize(a, (self.w, self.h), interpolation=cv2.INTER_LINEAR)
        c_full = cv2.resize(c, (self.w, self.h), interpolation=cv2.INTER_LINEAR)
        out = (a_full, c_full, cov)
        if still:
            self._static = out
        return out

    def __call__(self, img: np.ndarray, t: float, st: SensorState) -> np.ndarray:
        if t < self.onset:
            return img
        a, c, cov = self.layers(t)
        if cov <= 1e-4:
            return img
        if self.ae > 0:
            # Camera auto-exposure reacts to a dark object filling the view: more gain, more
            # noise (a covered camera rarely shows clean black).
            dark = max(0.0, 1.0 - float(self.color_lr.mean()) / 128.0)
            boost = self.ae * cov * dark
            st.gain *= 1.0 + boost
            st.noise *= 1.0 + 1.5 * boost
        return cv2.blendLinear(img, c, 1.0 - a, a)

    # shared geometry helpers -----------------------------------------------------------------

    def coverage(self, alpha: np.ndarray) -> float:
        """Fraction of the view the (hard) shape covers."""
        return float((alpha > 0.5).mean())


def edge_direction(rng: np.random.Generator) -> tuple[float, float]:
    """Entry direction of an occluder: from an edge or a corner (unit vector, image coords)."""
    choices = [(0, -1), (-1, 0), (1, 0), (0, 1), (-0.7, -0.7), (0.7, -0.7)]
    d = choices[int(rng.integers(len(choices)))]
    return float(d[0]), float(d[1])


class Leaves(Occluder):
    """A branch with leaves right in front of the lens, swaying in the wind."""

    def build(self) -> tuple[np.ndarray, np.ndarray]:
        lw, lh, rng = self.lw, self.lh, self.rng
        a = np.zeros((lh, lw), np.float32)
        # Near-lens leaves are mostly seen against the light: dark, dull green; a few are
        # sunlit and brighter, never the saturated green of a leaf photographed in focus.
        base = np.array([rng.uniform(15, 40), rng.uniform(35, 75), rng.uniform(20, 45)],
                        np.float32)
        c = np.ones((lh, lw, 3), np.float32) * base
        ex, ey = -self.direction[0], -self.direction[1]  # points into the frame
        # Entry point on the border opposite to the direction of travel into the frame.
        ox = lw / 2 - ex * lw / 2 + rng.uniform(-0.25, 0.25) * lw * (1 - abs(ex))
        oy = lh / 2 - ey * lh / 2 + rng.uniform(-0.25, 0.25) * lh * (1 - abs(ey))
        reach = 0.0
        for _ in range(600):
            if self.coverage(a) >= self.target:
                break
            reach = min(reach + 1.2, 1.6 * max(lw, lh))
            d = rng.uniform(0, reach)
            side = rng.normal(0, 0.35 + 0.002 * reach) * max(lw, lh)
            cx = ox + ex * d + (-ey) * side
            cy = oy + ey * d + ex * side
            length = rng.uniform(0.1, 0.28) * lw
            ang = math.degrees(math.atan2(ey, ex)) + rng.normal(0, 50)
            axes = (int(length / 2), int(length * rng.uniform(0.16, 0.25)))
            lit = rng.random() < 0.15
            col = base * rng.uniform(0.4, 1.1) if not lit else base * rng.uniform(1.3, 1.9)
            cv2.ellipse(a, (int(cx), int(cy)), axes, ang, 0, 360, 1.0, -1, cv2.LINE_AA)
            cv2.ellipse(c, (int(cx), int(cy)), axes, ang, 0, 360, col.tolist(), -1, cv2.LINE_AA)
        cv2.line(a, (int(ox), int(oy)), (int(ox + ex * reach), int(oy + ey * reach)), 1.0, 3)
        return np.clip(a, 0, 1), np.clip(c, 0, 255)


class Hand(Occluder):
    """A hand over the lens (vandal or curious passer-by): skin tone, extremely defocused."""

    def _draw(self, scale: float) -> np.ndarray:
        lw, lh = self.lw, self.lh
        a = np.zeros((lh, lw), np.float32)
        ex, ey = -self.direction[0], -self.direction[1]
        ox, oy = lw / 2 - ex * lw / 2, lh / 2 - ey * lh / 2
        r = scale * lw
        pc = (ox + ex * r * 0.55 + self.jx * lw, oy + ey * r * 0.55 + self.jy * lh)
        ang = math.degrees(math.atan2(ey, ex))
        cv2.ellipse(a, (int(pc[0]), int(pc[1])), (int(r * 0.55), int(r * 0.5)), ang, 0, 360,
                    1.0, -1, cv2.LINE_AA)
        for k, spread in enumerate((-28, -10, 8, 26)):
            fa = math.radians(ang + spread)
            fl = r * (0.75 if k in (1, 2) else 0.62)
            reach = r * 0.45 + fl / 2
            fc = (pc[0] + math.cos(fa) * reach, pc[1] + math.sin(fa) * reach)
            cv2.ellipse(a, (int(fc[0]), int(fc[1])), (int(fl / 2), int(r * 0.1)),
                        math.degrees(fa), 0, 360, 1.0, -1, cv2.LINE_AA)
        ta = math.radians(ang + self.thumb)
        tc = (pc[0] + math.cos(ta) * r * 0.6, pc[1] + math.sin(ta) * r * 0.6)
        cv2.ellipse(a, (int(tc[0]), int(tc[1])), (int(r * 0.3), int(r * 0.11)),
                    math.degrees(ta), 0, 360, 1.0, -1, cv2.LINE_AA)
        return a

    def build(self) -> tuple[np.ndarray, np.ndarray]:
        rng = self.rng
        self.jx, self.jy = rng.uniform(-0.15, 0.15), rng.uniform(-0.15, 0.15)
        self.thumb = float(rng.choice([-70.0, 70.0]))
        lo, hi = 0.1, 4.0
        for _ in range(18):  # binary search the hand size that gives the wanted coverage
            mid = (lo + hi) / 2
            if self.coverage(self._draw(mid)) < self.target:
                lo = mid
            else:
                hi = mid
        a = self._draw(hi)
        if self.target >= 0.97:
            a[:] = 1.0
        # Skin lit from the scene side only: warm, darker than in a portrait, strongly shaded.
        skin = np.array([rng.uniform(60, 110), rng.uniform(90, 140), rng.uniform(140, 210)],
                        np.float32) * rng.uniform(0.45, 1.0)
        shade = 0.5 + 0.7 * value_noise(self.lw, self.lh, rng, 3)
        c = shade[..., None] * skin[None, None, :]
        return a, np.clip(c, 0, 255)


class Cloth(Occluder):
    """A bag or cloth pulled over the camera: dark fabric with soft folds, wavy edge."""

    def build(self) -> tuple[np.ndarray, np.ndarray]:
        lw, lh, rng = self.lw, self.lh, self.rng
        yy, xx = np.mgrid[0:lh, 0:lw].astype(np.float32)
        ex, ey = -self.direction[0], -self.direction[1]
        depth = (xx - (lw / 2 - ex * lw / 2)) * ex + (yy - (lh / 2 - ey * lh / 2)) * ey
        field = depth + value_noise(lw, lh, rng, 4) * 0.35 * max(lw, lh)
        if self.target >= 0.97:
            a = np.ones((lh, lw), np.float32)
        else:
            thr = float(np.quantile(field, self.target))
            a = (field <= thr).astype(np.float32)
        base = np.array(rng.choice([[20, 20, 22], [45, 25, 20], [25, 40, 35], [30, 45, 70],
                                    [70, 70, 75]]), np.float32)
        folds = 0.7 + 0.6 * value_noise(lw, lh, rng, 6)
        c = folds[..., None] * base[None, None, :]
        if self.target >= 0.97:
            leak = np.clip(1.0 - depth / max(lw, lh), 0, 1) ** 3
            c += (leak * rng.uniform(10, 40))[..., None]
        return a, np.clip(c, 0, 255)


class LensCap(Occluder):
    """A lens cap (or tape): the whole view goes (nearly) black, maybe a faint light leak."""

    def build(self) -> tuple[np.ndarray, np.ndarray]:
        lw, lh, rng = self.lw, self.lh, self.rng
        a = np.ones((lh, lw), np.float32)
        level = rng.uniform(1, 10)
        yy, xx = np.mgrid[0:lh, 0:lw].astype(np.float32)
        leak = np.clip(1 - np.hypot(xx - rng.uniform(0, lw), yy) / (0.8 * lw), 0, 1) ** 2
        c = (level + leak * rng.uniform(0, 14))[..., None] * np.ones((1, 1, 3), np.float32)
        return a, c


class SprayPaint:
    """Spray paint on the dome/lens: a semi-opaque coloured haze that builds up, with blotches.

    Paint also scatters light, so what still shows through is blurred.
    """

    #: Paint colours (BGR). Faint coats use only the saturated/dark ones: a thin silver or white
    #: coat is optically a fogged lens, and would make the blocked/blur label a coin toss.
    COLORS = {"black": [20, 20, 20], "red": [30, 30, 200], "blue": [180, 60, 30],
              "green": [60, 160, 60], "white": [235, 235, 235], "silver": [190, 190, 195]}

    def __init__(self, w: int, h: int, onset: float, rng: np.random.Generator, opacity: float,
                 coverage: float, build_s: float, allow_light: bool = True):
        self.onset, self.build_s, self.opacity = onset, build_s, opacity
        lw, lh = LOWRES_W, max(8, int(round(LOWRES_W * h / w)))
        blot = value_noise(lw, lh, rng, 5)
        spots = value_noise(lw, lh, rng, 14)
        field = 0.7 * blot + 0.3 * spots
        thr = float(np.quantile(field, 1.0 - coverage))
        a = np.clip((field - thr) / 0.08 + 0.5, 0, 1) * (0.8 + 0.2 * spots)
        a = cv2.GaussianBlur(a, (0, 0), 2.0)
        self.alpha = cv2.resize(a, (w, h), interpolation=cv2.INTER_LINEAR)
        names = [n for n in self.COLORS if allow_light or n not in ("white", "silver")]
        self.color_name = str(rng.choice(names))
        color = self.COLORS[self.color_name]
        self.color = np.ones((h, w, 3), np.float32) * np.array(color, np.float32)
        self.scatter = float(rng.uniform(2.0, 5.0)) * w / 704

    def __call__(self, img: np.ndarray, t: float, st: SensorState) -> np.ndarray:
        if t < self.onset:
            return img
        p = ramp(t, self.onset, self.build_s)
        a = self.alpha * (self.opacity * p)
        soft = gauss(img, self.scatter * p)
        return cv2.blendLinear(soft, self.color, 1.0 - a, a)


# --------------------------------------------------------------------------------------------
# blur


class Defocus:
    """Focus lost (bumped camera, focus drift, vari-focal slip): disk or Gaussian PSF."""

    def __init__(self, onset: float, radius: float, ramp_s: float, gaussian: bool):
        self.onset, self.radius, self.ramp_s, self.gaussian = onset, radius, ramp_s, gaussian

    def __call__(self, img: np.ndarray, t: float, st: SensorState) -> np.ndarray:
        if t < self.onset:
            return img
        r = self.radius * ramp(t, self.onset, self.ramp_s)
        return gauss(img, r / 2.0) if self.gaussian else defocus(img, r)


class DirtyLens:
    """A smudged/dirty lens or dome: smeared blur, patchy veil of scattered light, less contrast."""

    def __init__(self, w: int, h: int, onset: float, rng: np.random.Generator, sigma: float,
                 veil: float, contrast: float, build_s: float):
        self.onset, self.sigma, self.veil, self.contrast = onset, sigma, veil, contrast
        self.build_s = build_s
        lw, lh = LOWRES_W, max(8, int(round(LOWRES_W * h / w)))
        s = np.zeros((lh, lw), np.float32)
        for _ in range(int(rng.integers(4, 10))):
            cv2.ellipse(s, (int(rng.uniform(0, lw)), int(rng.uniform(0, lh))),
                        (int(rng.uniform(8, 45)), int(rng.uniform(5, 25))),
                        float(rng.uniform(0, 180)), 0, 360, float(rng.uniform(0.5, 1.0)), -1)
        s = np.maximum(s, 0.35 + 0.35 * value_noise(lw, lh, rng, 6))
        s = cv2.GaussianBlur(s, (0, 0), 6.0)
        s /= max(float(s.max()), 1e-6)
        self.smudge = cv2.resize(s, (w, h), interpolation=cv2.INTER_LINEAR)

    def __call__(self, img: np.ndarray, t: float, st: SensorState) -> np.ndarray:
        if t < self.onset:
            return img
        p = ramp(t, self.onset, self.build_s)
        b = gauss(img, self.sigma * p)
        mean = np.array(cv2.mean(b)[:3], np.float32)
        a = (self.smudge * (self.veil * p))[..., None]
        out = b + a * ((mean * 1.1 + 25.0) - b)
        c = 1.0 - (1.0 - self.contrast) * p
        m = float(mean.mean())
        return cv2.addWeighted(out, c, out, 0.0, m * (1.0 - c))


class Fog:
    """Condensation on the lens/dome: slowly building haze, blur and glow around highlights."""

    def __init__(self, onset: float, sigma: float, haze: float, glow: float, build_s: float):
        self.onset, self.sigma, self.haze, self.glow, self.build_s = (
            onset, sigma, haze, glow, build_s)

    def __call__(self, img: np.ndarray, t: float, st: SensorState) -> np.ndarray:
        if t < self.onset:
            return img
        p = ramp(t, self.onset, self.build_s)
        h, w = img.shape[:2]
        b = gauss(img, self.sigma * p)
        # Highlights bloom through the droplets; computed on a 1/8 image (it is very soft).
        small = cv2.resize(img, (w // 8, h // 8), interpolation=cv2.INTER_AREA)
        mean = np.array(cv2.mean(small)[:3], np.float32)
        veil = mean * 0.6 + 95.0
        a = self.haze * p
        glow = cv2.GaussianBlur(cv2.max(small - 170.0, 0.0), (0, 0), 0.04 * w / 8)
        glow = cv2.resize(glow, (w, h), interpolation=cv2.INTER_LINEAR)
        return cv2.addWeighted(b, 1.0 - a, glow, self.glow * p, 0.0) + (veil * a)


# --------------------------------------------------------------------------------------------
# ripple: electrical interference on the video signal


class Ripple:
    """Periodic interference added to the signal (ground loop hum bars, RF stripes, moire).

    `amplitude` is the peak of the sinusoid in 8-bit RGB levels (added equally to B, G, R, so
    it is a luma disturbance, as on a coax/analogue-to-IP encoder path).
    """

    def __init__(self, w: int, h: int, onset: float, rng: np.random.Generator, kind: str,
                 amplitude: float):
        self.onset, self.kind, self.amp = onset, kind, amplitude
        self.w, self.h = w, h
        self.gratings: list[tuple[float, float, float, float]] = []  # (kx, ky, speed, weight)
        scale = w / 704
        if kind == "rolling_bars":
            period = rng.uniform(40, 200) * h / 576
            self.bar_period = period
            self.bar_speed = float(rng.choice([-1, 1]) * rng.uniform(5, 40)) * h / 576
            self.bar_harm = float(rng.uniform(0.0, 0.4))
        elif kind == "diagonal_stripes":
            ang = math.radians(rng.uniform(25, 65) * rng.choice([-1, 1]))
            period = rng.uniform(8, 30) * scale
            speed = rng.uniform(0.5, 3.0) if rng.random() < 0.6 else 0.0
            self.gratings.append((math.cos(ang) / period, math.sin(ang) / period, speed, 1.0))
        elif kind == "moire":
            base = math.radians(rng.uniform(0, 180))
            cross = math.radians(rng.uniform(25, 60))
            speed = rng.uniform(0.2, 1.5) if rng.random() < 0.5 else 0.0
            for sgn in (-1.0, 1.0):
                ang = base + sgn * cross
                period = rng.uniform(3.0, 7.0) * scale
                self.gratings.append((math.cos(ang) / period, math.sin(ang) / period, speed,
                                      0.5))
        elif kind == "fine_lines":
            ang = math.radians(90 + rng.uniform(-12, 12))
            period = rng.uniform(2.5, 5.0) * scale
            speed = rng.uniform(0.5, 4.0) if rng.random() < 0.7 else 0.0
            self.gratings.append((math.cos(ang) / period, math.sin(ang) / period, speed, 1.0))
        else:
            raise ValueError(kind)
        self.chroma = np.array([1.0, 1.0, 1.0], np.float32)
        if rng.random() < 0.4:
            self.chroma = np.array(rng.uniform(0.8, 1.2, 3), np.float32)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        self.phases = [np.float32(2 * math.pi) * (kx * xx + ky * yy)
                       for kx, ky, _, _ in self.gratings]
        self.still = all(s == 0.0 for _, _, s, _ in self.gratings) and kind != "rolling_bars"
        self._cache: np.ndarray | None = None
        self.mod_f = float(rng.uniform(0.05, 0.3))
        self.ys = np.arange(h, dtype=np.float32)

    def describe(self) -> dict[str, object]:
        """Geometry for the label's details (periods in output pixels, angles in degrees)."""
        if self.kind == "rolling_bars":
            return {"period_px": round(self.bar_period, 1),
                    "drift_px_s": round(self.bar_speed, 1)}
        return {"gratings": [
            {"period_px": round(1.0 / math.hypot(kx, ky), 2),
             "angle_deg": round(math.degrees(math.atan2(ky, kx)), 1),
             "drift_cycles_s": round(sp, 2)} for kx, ky, sp, _ in self.gratings]}

    def pattern(self, t: float) -> np.ndarray:
        """The additive pattern at time t, (h, w) or (h, 1) for horizontal bars."""
        if self.kind == "rolling_bars":
            ph = 2 * math.pi * (self.ys - self.bar_speed * t) / self.bar_period
            col = np.sin(ph) + self.bar_harm * np.sin(2 * ph)
            return (col / (1 + self.bar_harm))[:, None].astype(np.float32)
        if self.still and self._cache is not None:
            return self._cache
        out = np.zeros((self.h, self.w), np.float32)
        for (_, _, speed, weight), phase in zip(self.gratings, self.phases, strict=True):
            out += weight * np.sin(phase + np.float32(2 * math.pi * speed * t))
        if self.still:
            self._cache = out
        return out

    def __call__(self, img: np.ndarray, t: float, st: SensorState) -> np.ndarray:
        if t < self.onset:
            return img
        # Interference level wanders a little (+-15%), as real hum and RF pickup do.
        a = self.amp * (1.0 + 0.15 * math.sin(2 * math.pi * self.mod_f * t))
        p = self.pattern(t) * np.float32(a)
        return img + p[..., None] * self.chroma


# --------------------------------------------------------------------------------------------
# negatives: harmless things a detector must not alarm on


class Walker(Occluder):
    """A person walking right past the lens: big, dark, defocused, gone after a few seconds."""

    def __init__(self, w: int, h: int, passes: list[tuple[float, float, float]],
                 rng: np.random.Generator, coverage: float):
        self.passes = passes  # (start, dwell_s, direction +1 left->right / -1)
        super().__init__(w, h, onset=0.0, arrive_s=0.0, blur_lr=float(rng.uniform(3, 6)),
                         rng=rng, coverage=coverage)
        self.cacheable = False

    def build(self) -> tuple[np.ndarray, np.ndarray]:
        lw, lh, rng = self.lw, self.lh, self.rng
        a = np.zeros((lh, lw), np.float32)
        bw = self.target * lw
        cx = lw / 2
        cv2.ellipse(a, (int(cx), int(lh * 0.95)), (int(bw / 2), int(lh * 0.8)), 0, 0, 360, 1.0,
                    -1, cv2.LINE_AA)
        cv2.circle(a, (int(cx), int(lh * 0.05)), int(bw * 0.28), 1.0, -1, cv2.LINE_AA)
        base = np.array(rng.choice([[25, 25, 30], [70, 40, 30], [40, 40, 90], [110, 110, 115],
                                    [30, 60, 40]]), np.float32)
        shade = 0.75 + 0.5 * value_noise(lw, lh, rng, 3)
        return a, np.clip(shade[..., None] * base[None, None, :], 0, 255)

    def offset(self, t: float) -> tuple[float, float]:
        lw = self.lw
        for start, dwell, sgn in self.passes:
            cross = 1.0  # seconds to walk in (and out) of the view
            end = start + 2 * cross + dwell
            if start <= t <= end:
                if t < start + cross:
                    p = (t - start) / cross
                    x = -lw * (1 - p) - 0.075 * lw * p
                elif t < start + cross + dwell:
                    x = (t - start - cross) / max(dwell, 1e-3) * 0.15 * lw - 0.075 * lw
                else:
                    x = 0.075 * lw + lw * (t - start - cross - dwell) / cross
                return sgn * x, 0.0
        return 10.0 * lw, 0.0

    def layers(self, t: float) -> tuple[np.ndarray, np.ndarray, float]:
        dx, _ = self.offset(t)
        if abs(dx) >= 5 * self.lw:
            return np.zeros((1, 1), np.float32), np.zeros((1, 1, 3), np.float32), 0.0
        return super().layers(t)


class Rain:
    """Rain falling in front of the camera: fresh bright streaks every frame, duller scene."""

    def __init__(self, w: int, h: int, onset: float, rng: np.random.Generator, density: float):
        self.w, self.h, self.onset, self.rng = w, h, onset, rng
        self.n = int(density * w * h / (704 * 576))
        # A 10 fps camera exposes long enough for each drop to smear into a streak.
        self.length = rng.uniform(25, 60) * h / 576
        self.angle = math.radians(rng.uniform(-15, 15))
        self.level = float(rng.uniform(30, 60))
        self.layer = np.zeros((h, w), np.float32)
        self.thick = 1 if w < 1000 else 2

    def __call__(self, img: np.ndarray, t: float, st: SensorState) -> np.ndarray:
        if t < self.onset:
            return img
        p = ramp(t, self.onset, 5.0)
        self.layer.fill(0.0)
        n = int(self.n * p)
        xs = self.rng.uniform(-0.1 * self.w, 1.1 * self.w, n)
        ys = self.rng.uniform(-0.1 * self.h, self.h, n)
        ls = self.length * self.rng.uniform(0.6, 1.4, n)
        angs = self.angle + self.rng.normal(0, 0.05, n)
        x2 = xs + ls * np.sin(angs)
        y2 = ys + ls * np.cos(angs)
        lv = self.rng.uniform(0.4, 1.0, n) * self.level
        for k in range(n):
            cv2.line(self.layer, (int(xs[k]), int(ys[k])), (int(x2[k]), int(y2[k])),
                     float(lv[k]), self.thick, cv2.LINE_AA)
        st.gain *= 1.0 - 0.12 * p
        st.contrast *= 1.0 - 0.12 * p
        return img + self.layer[..., None]


class NightDimming:
    """Dusk / lights switched off: brightness falls to 15-25% over ~10 s, gain noise rises."""

    def __init__(self, onset: float, level: float, dur: float, noise_mult: float):
        self.onset, self.level, self.dur, self.noise_mult = onset, level, dur, noise_mult

    def __call__(self, img: np.ndarray, t: float, st: SensorState) -> np.ndarray:
        p = ramp(t, self.onset, self.dur)
        st.gain *= 1.0 + (self.level - 1.0) * p
        st.noise *= 1.0 + (self.noise_mult - 1.0) * p
        st.tint = (1.0 - 0.15 * p, 1.0 - 0.05 * p, 1.0)
        return img


class IrSwitch:
    """Day/night switch: IR-cut filter flips, picture turns monochrome with a new exposure.

    The flip itself shows as a short exposure hunt (dark, then too bright) and the IR
    illuminator gives a bright centre and darker corners.
    """

    def __init__(self, w: int, h: int, onset: float, rng: np.random.Generator):
        self.onset = onset
        self.gain = float(rng.uniform(0.75, 1.35))
        self.contrast = float(rng.uniform(0.75, 1.3))
        self.sat = float(rng.uniform(0.0, 0.08))
        self.noise_mult = float(rng.uniform(1.5, 2.5))
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r = np.hypot((xx - w / 2) / (w / 2), (yy - h / 2) / (h / 2))
        v = 1.0 + 0.12 - rng.uniform(0.15, 0.35) * r**2
        self.vignette = cv2.merge([v, v, v]).astype(np.float32)

    def __call__(self, img: np.ndarray, t: float, st: SensorState) -> np.ndarray:
        if t < self.onset:
            return img
        dt = t - self.onset
        hunt = 1.0
        if dt < 0.3:
            hunt = 0.35
        elif dt < 2.5:
            hunt = 1.0 + 0.5 * math.exp(-(dt - 0.3) * 2.0)
        st.gain *= self.gain * hunt
        st.contrast *= self.contrast
        st.sat = self.sat
        st.noise *= self.noise_mult
        st.vignette = self.vignette
        return img


class GainFlicker:
    """Auto-gain hiccups: brightness jumps for 0.5-1 s a few times (lights, AGC hunting)."""

    def __init__(self, events: list[tuple[float, float, float]]):
        self.events = events  # (start, duration, factor)

    def __call__(self, img: np.ndarray, t: float, st: SensorState) -> np.ndarray:
        for start, dur, factor in self.events:
            if start <= t < start + dur:
                st.gain *= factor
        return img


class FixedOverlay:
    """Something fixed in the scene in front of moving footage (a chain-link fence)."""

    def __init__(self, alpha: np.ndarray, color: np.ndarray):
        self.alpha, self.color = alpha, color
        self.inv = 1.0 - alpha

    def __call__(self, img: np.ndarray, t: float, st: SensorState) -> np.ndarray:
        return cv2.blendLinear(img, self.color, self.inv, self.alpha)


# --------------------------------------------------------------------------------------------
# on-screen display


class Osd:
    """Burned-in date/time and camera name, as most DVRs and cameras draw after the sensor."""

    def __init__(self, w: int, h: int, rng: np.random.Generator, name: str):
        self.scale = 0.5 * h / 360
        self.base = 1_790_000_000 + int(rng.integers(0, 10_000_000))
        self.name = name
        self.org = (int(0.02 * w), int(0.06 * h))
        self.thick = max(1, int(round(self.scale * 2)))

    def draw(self, img: np.ndarray, t: float) -> None:
        """Draw the clock for time t onto the uint8 frame in place."""
        import time as _time

        stamp = _time.strftime("%Y-%m-%d %H:%M:%S", _time.gmtime(self.base + int(t)))
        text = f"{stamp}  {self.name}"
        cv2.putText(img, text, self.org, cv2.FONT_HERSHEY_SIMPLEX, self.scale, (0, 0, 0),
                    self.thick + 2, cv2.LINE_AA)
        cv2.putText(img, text, self.org, cv2.FONT_HERSHEY_SIMPLEX, self.scale,
                    (255, 255, 255), self.thick, cv2.LINE_AA)
