"""The TUNING part's scenes: which footage, day or night, how alive.

Twelve scenes from the tuning footage (benchmarks/tuning/footage.py): the one real video
(busy street) by day and by night, and photos brought to life with passers-by, pan, sensor
noise and light drift. Night is rendered, not found: lamp-lit (the scene at a tenth of its
light, pools under lamps, a warm tint, high-gain noise) or infrared (monochrome, the
illuminator's hotspot and vignette). Scenes with periodic texture (a facade's windows, a
chessboard) serve the ripple-over-texture family and the periodic-texture negatives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from benchmarks import render as R
from benchmarks.tuning import footage
from benchmarks.tuning.effects import Passersby


@dataclass(frozen=True)
class SceneSpec:
    """What a scene is made of; `night` is None (day), "lamps" or "ir"."""

    source: str  # footage.VIDEO or a photo name
    night: str | None
    walkers: int
    indoor: bool
    periodic: bool = False
    plain: bool = False  # little texture: a ripple shows most there


SCENES: dict[str, SceneSpec] = {
    "street_video": SceneSpec(footage.VIDEO, None, 0, False),
    "street_video_night": SceneSpec(footage.VIDEO, "lamps", 0, False),
    "hotel_facade": SceneSpec("building.jpg", None, 3, False, periodic=True),
    "old_lane_ir": SceneSpec("leuvenA.jpg", "ir", 2, False),
    "palace_sky": SceneSpec("home.jpg", None, 0, False, plain=True),
    "desk_still": SceneSpec("stuff.jpg", None, 0, True, plain=True),
    "bookshelf_night": SceneSpec("right.jpg", "lamps", 0, True, plain=True),
    "graffiti_wall": SceneSpec("graf1.png", None, 2, False),
    "lab_chessboard": SceneSpec("left01.jpg", None, 0, True, periodic=True),
    "shelf_boxes": SceneSpec("box_in_scene.png", None, 0, True),
    "city_view": SceneSpec("aero1.jpg", None, 0, False),
    "coast_view_ir": SceneSpec("aero3.jpg", "ir", 0, False),
}


class _Video:
    """vtest.avi cropped to the output aspect, played forward and back (no loop cut: a cut
    would be a scene change no real camera shows)."""

    def __init__(self, w: int, h: int, rng: np.random.Generator, mirror: bool) -> None:
        self.frames = footage.video_frames()
        self.w, self.h, self.mirror = w, h, mirror
        sh, sw = self.frames[0].shape[:2]
        self.ch = min(sh, int(round(sw * h / w)))
        self.y0 = int(rng.integers(0, sh - self.ch + 1))
        self.start = float(rng.uniform(0, len(self.frames)))
        self.fps = 10.0 / footage.VIDEO_STEP
        self._key = -1
        self._img: np.ndarray | None = None

    def frame(self, t: float) -> np.ndarray:
        n = len(self.frames)
        k = int(self.start + t * self.fps) % (2 * n - 2)
        k = k if k < n else 2 * n - 2 - k
        if k != self._key or self._img is None:
            src = self.frames[k][self.y0:self.y0 + self.ch]
            interp = cv2.INTER_LINEAR if src.shape[1] >= self.w else cv2.INTER_CUBIC
            out = cv2.resize(src, (self.w, self.h), interpolation=interp).astype(np.float32)
            self._img = cv2.flip(out, 1) if self.mirror else out
            self._key = k
        return self._img


class _Still:
    """A photo seen by a fixed camera: slow sub-pixel pan (render.StillScene)."""

    def __init__(self, name: str, w: int, h: int, rng: np.random.Generator) -> None:
        img = R.fit_cover(footage.photo(name), w, h, rng, float(rng.uniform(1.0, 1.2)))
        self.scene = R.StillScene(img, float(rng.uniform(0.0, 0.8)), float(rng.uniform(30, 90)),
                                  0.0, rng)

    def frame(self, t: float) -> np.ndarray:
        return self.scene.frame(int(round(t * 10)))


def lamp_map(w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    """Night under street or ceiling lamps: ~10 % ambient light, pools of 40-70 % under lamps,
    warm (sodium/tungsten) tint. (h, w, 3) multiplier."""
    m = np.full((h // 4, w // 4), float(rng.uniform(0.07, 0.14)), np.float32)
    for _ in range(int(rng.integers(2, 4))):
        pool = np.zeros_like(m)
        cv2.circle(pool, (int(rng.uniform(0.1, 0.9) * w / 4), int(rng.uniform(0.3, 0.9) * h / 4)),
                   int(rng.uniform(0.08, 0.18) * w / 4), 1.0, -1)
        m += cv2.GaussianBlur(pool, (0, 0), w / 40) * np.float32(rng.uniform(0.4, 0.7))
    m = cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR)
    tint = np.array([0.75, 0.95, 1.15], np.float32)
    return m[..., None] * tint


def ir_map(w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    """The IR illuminator's light: a hotspot near the centre, dark corners. (h, w, 1)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = w * rng.uniform(0.4, 0.6), h * rng.uniform(0.4, 0.65)
    r = np.hypot((xx - cx) / (w / 2), (yy - cy) / (h / 2))
    return (np.float32(rng.uniform(0.9, 1.2)) * np.exp(-0.9 * r * r) + 0.08)[..., None]


class Scene:
    """One scene at one size: `frame(t)` is the lit scene (float32 BGR) before any optics;
    `noise` the sensor noise sigma it wants, `drift` (amplitude, period, phase) of its light."""

    def __init__(self, scene_id: str, w: int, h: int, rng: np.random.Generator) -> None:
        spec = SCENES[scene_id]
        self.spec = spec
        if spec.source == footage.VIDEO:
            self.src: _Video | _Still = _Video(w, h, rng, bool(rng.random() < 0.5))
        else:
            self.src = _Still(spec.source, w, h, rng)
        self.walkers = Passersby(w, h, rng, spec.walkers)
        self.light: np.ndarray | None = None
        if spec.night == "lamps":
            self.light = lamp_map(w, h, rng)
            self.noise = float(rng.uniform(5.0, 8.0))
        elif spec.night == "ir":
            self.light = ir_map(w, h, rng)
            self.noise = float(rng.uniform(4.0, 6.5))
        else:
            self.noise = float(rng.uniform(1.2, 3.5))
        self.drift = (float(rng.uniform(0.01, 0.04)), float(rng.uniform(30, 120)),
                      float(rng.uniform(0, 2 * math.pi)))

    def frame(self, t: float, st: R.SensorState) -> np.ndarray:
        """The lit scene at t; sets the sensor state's light drift (and IR monochrome)."""
        img = self.walkers(self.src.frame(t), t, st)
        a, period, phase = self.drift
        st.gain *= 1.0 + a * math.sin(2 * math.pi * t / period + phase)
        if self.spec.night == "ir":
            g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)[..., None]
            img = g * self.light
            st.sat = 0.0
            return np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img
        if self.light is not None:
            return img * self.light
        return img
