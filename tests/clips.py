"""Synthetic camera footage with faults, encoded as real H.264, for tests and development.

Scenes are procedural (no footage is needed in CI): a textured courtyard of shapes, edges and
gradients, with live sensor noise and people-like blobs walking through. Faults and the
negatives the detectors must ignore are rendered over it, and the result goes through
libx264 and back through the same decoder the agent uses, so tests see compression, GOPs and
keyframes as they are in the field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

FPS = 10


def scene(w: int, h: int, seed: int = 0) -> np.ndarray:
    """A static, textured BGR scene: ground, walls, windows, poles, text, foliage-like noise."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img[:] = (90 + 60 * yy / h)[..., None] * np.array([0.9, 1.0, 1.05], np.float32)
    img = img.astype(np.uint8)  # OpenCV draws text on 8-bit pictures only
    for _ in range(40):
        x0, y0 = rng.integers(0, w), rng.integers(0, h)
        cw, ch = rng.integers(w // 30, w // 5), rng.integers(h // 30, h // 4)
        color = rng.uniform(20, 235, 3)
        if rng.random() < 0.6:
            cv2.rectangle(img, (int(x0), int(y0)), (int(x0 + cw), int(y0 + ch)), color.tolist(),
                          -1)
        else:
            cv2.circle(img, (int(x0), int(y0)), int(min(cw, ch) // 2), color.tolist(), -1)
    for _ in range(30):
        p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        p2 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.line(img, p1, p2, rng.uniform(0, 255, 3).tolist(), int(rng.integers(1, 4)))
    for _ in range(12):
        cv2.putText(img, "".join(rng.choice(list("ABCDEFGH0123456789"), 6)),
                    (int(rng.integers(0, w - 60)), int(rng.integers(20, h))),
                    cv2.FONT_HERSHEY_SIMPLEX, float(rng.uniform(0.4, 1.2)),
                    rng.uniform(0, 255, 3).tolist(), int(rng.integers(1, 3)))
    grain = cv2.GaussianBlur(rng.normal(0, 25, (h, w)).astype(np.float32), (0, 0), 1.5)
    img = img.astype(np.float32) + grain[..., None]
    return np.clip(img, 0, 255)


@dataclass
class Clip:
    """A rendering recipe: `frame(i, base)` gives frame i as float BGR."""

    width: int = 704
    height: int = 576
    seconds: float = 40.0
    gop_s: float = 2.0
    crf: int = 26
    noise: float = 2.0
    seed: int = 0


def walkers(img: np.ndarray, t: float, rng_seed: int = 0) -> np.ndarray:
    """People-sized blobs crossing the scene, so the picture is alive."""
    h, w = img.shape[:2]
    out = img.copy()
    for k in range(3):
        speed = 0.05 + 0.03 * k
        x = int(((t * speed + k * 0.37) % 1.2 - 0.1) * w)
        y = int(h * (0.55 + 0.12 * k))
        cv2.ellipse(out, (x, y), (w // 40, h // 9), 0, 0, 360, (40 + 50 * k, 60, 80), -1)
        cv2.circle(out, (x, y - h // 9), w // 70, (150, 170, 200), -1)
    return out


def encode(path: Path, clip: Clip, render: Callable[[int, float, np.ndarray], np.ndarray],
           base: np.ndarray | None = None) -> Path:
    """Render frames with `render(i, t, base)` and encode them as H.264 MP4 at `path`."""
    rng = np.random.default_rng(clip.seed + 1000)
    if base is None:
        base = scene(clip.width, clip.height, clip.seed)
    out = av.open(str(path), "w")
    st = out.add_stream("libx264", rate=FPS)
    st.width, st.height, st.pix_fmt = clip.width, clip.height, "yuv420p"
    st.options = {"g": str(int(round(clip.gop_s * FPS))), "crf": str(clip.crf),
                  "preset": "veryfast", "keyint_min": str(int(round(clip.gop_s * FPS)))}
    last: np.ndarray | None = None
    for i in range(int(clip.seconds * FPS)):
        t = i / FPS
        img = render(i, t, base)
        if img is None:  # frozen: repeat the last picture exactly
            img8 = last
        else:
            if clip.noise:
                img = img + rng.normal(0, clip.noise, img.shape[:2])[..., None]
            img8 = np.clip(img, 0, 255).astype(np.uint8)
        last = img8
        for p in st.encode(av.VideoFrame.from_ndarray(img8, format="bgr24")):
            out.mux(p)
    for p in st.encode():
        out.mux(p)
    out.close()
    return path


# ---- fault renderings -------------------------------------------------------------------

def ramp(t: float, onset: float, rise: float = 2.0) -> float:
    """0 before onset, rising to 1 over `rise` seconds."""
    return float(np.clip((t - onset) / rise, 0.0, 1.0)) if rise > 0 else float(t >= onset)


def cover(img: np.ndarray, mask: np.ndarray, color, texture_seed: int = 0,
          blur: float = 0.0) -> np.ndarray:
    """Blend an out-of-focus object over `mask` (float 0..1)."""
    h, w = img.shape[:2]
    obj = np.empty_like(img)
    obj[:] = np.asarray(color, np.float32)
    rng = np.random.default_rng(texture_seed)
    obj += cv2.GaussianBlur(rng.normal(0, 20, (h, w)).astype(np.float32), (0, 0),
                            max(2.0, w / 60))[..., None]
    if blur:
        mask = cv2.GaussianBlur(mask, (0, 0), blur)
    return img * (1 - mask[..., None]) + obj * mask[..., None]


def leaves_mask(w: int, h: int, fraction: float, seed: int = 0, side: str = "left"
                ) -> np.ndarray:
    """Leaf-cluster mask growing in from one side, covering about `fraction` of the view."""
    rng = np.random.default_rng(seed)
    m = np.zeros((h, w), np.float32)
    edge = fraction * w
    for _ in range(int(60 * fraction) + 10):
        x = rng.uniform(-0.1 * w, edge)
        y = rng.uniform(0, h)
        a, b = rng.uniform(w / 25, w / 8), rng.uniform(h / 25, h / 10)
        cv2.ellipse(m, (int(x), int(y)), (int(a), int(b)), float(rng.uniform(0, 180)), 0, 360,
                    1.0, -1)
    m[:, : int(edge * 0.85)] = np.maximum(m[:, : int(edge * 0.85)], 1.0)
    if side == "right":
        m = m[:, ::-1]
    elif side == "top":
        m = cv2.resize(m.T.copy(), (w, h))
    return m


def stripes(w: int, h: int, period: float, angle_deg: float, phase: float) -> np.ndarray:
    """A sinusoidal grating of unit amplitude."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = np.deg2rad(angle_deg)
    return np.sin(2 * np.pi * (xx * np.cos(a) + yy * np.sin(a)) / period + phase)


# ---- recipes: (expected fault or None, onset seconds, Clip, render) ----------------------

Render = Callable[[int, float, np.ndarray], np.ndarray | None]


def _live(render: Render) -> Render:
    """Add walkers under a fault rendering, as in a real courtyard."""
    return lambda i, t, base: render(i, t, walkers(base, t))


def recipes(onset: float = 20.0, width: int = 704, height: int = 576, seconds: float = 40.0
            ) -> dict[str, tuple[str | None, float | None, Clip, Render]]:
    """Every fault and negative the tests and the dev harness exercise."""
    r: dict[str, tuple[str | None, float | None, Clip, Render]] = {}

    def clip(**kw) -> Clip:
        """Every recipe shares the size and length."""
        return Clip(width=width, height=height, seconds=seconds, **kw)

    c = clip()
    w, h = c.width, c.height

    for frac, side in ((0.45, "left"), (0.7, "right"), (1.0, "left")):
        m = leaves_mask(w, h, frac, seed=int(frac * 10), side=side)

        def lv(i, t, b, m=m):
            k = ramp(t, onset, 3.0)
            sway = np.roll(m, int(3 * np.sin(t * 2)), axis=1)
            return cover(b, sway * k, (30, 70, 35), blur=w / 50) if k else b

        r[f"blocked_leaves_{int(frac * 100)}"] = ("blocked", onset, c, _live(lv))
    hand = np.zeros((h, w), np.float32)
    cv2.ellipse(hand, (w // 2, int(h * 0.7)), (int(w * 0.45), int(h * 0.55)), 10, 0, 360, 1.0, -1)
    r["blocked_hand"] = ("blocked", onset, c, _live(
        lambda i, t, b: cover(b, hand, (120, 150, 200), blur=w / 30) if t >= onset else b))
    bag = np.zeros((h, w), np.float32)
    bag[:, : int(w * 0.8)] = 1
    r["blocked_bag"] = ("blocked", onset, c, _live(
        lambda i, t, b: cover(b, bag, (35, 30, 30), blur=w / 40) if t >= onset else b))
    r["blocked_cap"] = ("blocked", onset, c, _live(
        lambda i, t, b: b * 0 + 3 if t >= onset else b))
    spray_rng = np.random.default_rng(7)
    spray = np.zeros((h, w), np.float32)
    for _ in range(25):
        cv2.circle(spray, (int(spray_rng.uniform(0, w)), int(spray_rng.uniform(0, h))),
                   int(spray_rng.uniform(w / 10, w / 4)), 0.95, -1)
    r["blocked_spray"] = ("blocked", onset, c, _live(
        lambda i, t, b: cover(b, spray, (40, 40, 200), blur=w / 40) if t >= onset else b))

    # A thin, even coat of coloured paint: the scene still shows through, a little softened,
    # with its layout of light and dark; what gives the coat away is its colour.
    coat = cv2.resize(np.random.default_rng(11).uniform(0.4, 0.6, (5, 7)).astype(np.float32),
                      (w, h), interpolation=cv2.INTER_CUBIC)

    def paint(i, t, b):
        if t < onset:
            return b
        a = (coat * ramp(t, onset, 2.0))[..., None]
        return cv2.GaussianBlur(b, (0, 0), 2.0) * (1 - a) + np.float32([150, 80, 40]) * a

    r["blocked_paint_faint"] = ("blocked", onset, c, _live(paint))

    for sigma in (2.5, 5.0, 10.0):
        r[f"blur_defocus_{sigma}"] = ("blur", onset, c, _live(
            lambda i, t, b, s=sigma: cv2.GaussianBlur(b, (0, 0), s) if t >= onset else b))

    def fog(i, t, b):
        if t < onset:
            return b
        soft = cv2.GaussianBlur(b, (0, 0), 3.0)
        return soft * 0.45 + 0.55 * cv2.GaussianBlur(soft, (0, 0), 25) + 40

    r["blur_fog"] = ("blur", onset, c, _live(fog))

    for name, period, angle, amp, drift in (
        ("ripple_bars_strong", 90.0, 90.0, 25.0, 1.5),
        ("ripple_bars_faint", 70.0, 90.0, 8.0, 1.0),
        ("ripple_diagonal", 14.0, 35.0, 12.0, 0.0),
        ("ripple_diagonal_faint", 11.0, 120.0, 6.0, 0.5),
        ("ripple_moire", 5.0, 75.0, 15.0, 0.0),
        # Faint lines finer than the analysis thumbnail holds: 2.2 px apart on a picture
        # scaled 2x down to 192 rows, the area average all but cancels them.
        ("ripple_fine_lines_faint", 2.2, 93.0, 5.0, 0.8),
    ):
        g = stripes(w, h, period, angle, 0.0)
        g2 = stripes(w, h, period * 1.1, -angle, 0.0) if "moire" in name else None

        def rip(i, t, b, g=g, g2=g2, amp=amp, drift=drift, period=period, angle=angle):
            if t < onset:
                return b
            pat = g if not drift else stripes(w, h, period, angle, t * drift)
            if g2 is not None:
                pat = 0.5 * (pat + g2)
            return b + amp * pat[..., None]

        r[name] = ("ripple", onset, c, _live(rip))

    r["frozen"] = ("frozen", onset, c, lambda i, t, b: None if t >= onset else walkers(b, t))
    r["frozen_static_scene"] = ("frozen", onset, clip(noise=2.0, seed=3),
                                lambda i, t, b: None if t >= onset else b)

    # ---- negatives: none of these may raise anything ----------------------------------
    def passer(i, t, b):
        b = walkers(b, t)
        if onset <= t < onset + 3.5:
            x = int((t - onset) / 3.5 * w * 1.6 - 0.3 * w)
            m = np.zeros((h, w), np.float32)
            cv2.ellipse(m, (x, h // 2), (int(w * 0.3), h), 0, 0, 360, 1.0, -1)
            return cover(b, m, (50, 45, 60), blur=w / 30)
        return b

    r["neg_passer_by"] = (None, None, c, passer)

    def dim(i, t, b):
        k = 1.0 - 0.82 * ramp(t, onset, 10.0)
        return walkers(b, t) * k

    r["neg_dimming"] = (None, None, clip(noise=3.0), dim)

    def ir(i, t, b):
        b = walkers(b, t)
        if t < onset:
            return b
        gray = cv2.cvtColor(np.clip(b, 0, 255).astype(np.uint8), cv2.COLOR_BGR2GRAY)
        g = gray.astype(np.float32) * 0.7 + 50
        return np.repeat(g[..., None], 3, axis=2)

    r["neg_ir_switch"] = (None, None, clip(noise=4.0), ir)

    def flicker(i, t, b):
        b = walkers(b, t)
        return b * 1.6 if any(s <= t < s + 0.7 for s in (onset, onset + 6, onset + 13)) else b

    r["neg_gain_flicker"] = (None, None, c, flicker)
    rain_rng = np.random.default_rng(5)

    def rain(i, t, b):
        b = walkers(b, t)
        if t < onset:
            return b
        out = b.copy()
        for _ in range(250):
            x, y = int(rain_rng.uniform(0, w)), int(rain_rng.uniform(0, h))
            cv2.line(out, (x, y), (x + 3, y + 25), (200, 200, 200), 1)
        return out

    r["neg_rain"] = (None, None, c, rain)
    r["neg_low_bitrate"] = (None, None, clip(crf=42), lambda i, t, b: walkers(b, t))
    r["neg_static_noise"] = (None, None, clip(noise=2.0, seed=4), lambda i, t, b: b)

    def night(i, t, b):
        d = walkers(b, t) * 0.12 + 4
        for k in range(3):
            cv2.circle(d, (int(w * (0.2 + 0.3 * k)), int(h * 0.3)), 12, (230, 230, 230), -1)
        return d

    r["neg_night_car_park"] = (None, None, clip(noise=4.0), night)
    fence = np.zeros((h, w), np.float32)
    fence[int(h * 0.45):, :] = (stripes(w, h, 12.0, 0.0, 0.0)[int(h * 0.45):, :] > 0.6)
    r["neg_fence"] = (None, None, c, lambda i, t, b: cover(walkers(b, t), fence,
                                                            (60, 60, 60)))
    r["neg_plain_wall"] = (None, None, c, lambda i, t, b: b * 0 + 150
                           + 8 * np.sin(np.arange(w) / 200.0)[None, :, None])
    return r



def make(name: str, path: Path, **recipe_args) -> Path:
    """Encode recipe `name` to `path` (a top-level function, so worker processes can run it)."""
    fault, onset, clip, render = recipes(**recipe_args)[name]
    return encode(path, clip, render)
