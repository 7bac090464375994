"""Hours-long cameras at 320 x 192 (the analysis thumbnail): the false-alert runs and the
slow onsets.

A call must cost well under a millisecond, so each scene is prepared once in every look it
will need (day, lamp-lit night, IR night; each also as a low-bit-rate keyframe would
deliver it) and a call only mixes two of them, slices wind shake, pastes the passers-by
near t, adds a slice of noise and maybe rain.  The clock runs through the day: daylight
falls at dusk (the AE holds the picture up while the gain, and the noise, rise), lamps
come on, and below a light threshold the camera switches to IR mode (grey, hotspot);
before dawn it switches back.  Weather and the bit rate change in segments of tens of
minutes.
"""

from __future__ import annotations

import bisect
import functools
import math

import cv2
import numpy as np

from . import actors, scenes
from .camera import NoFault, noise_bank, smooth

W, H = 320, 192


def _jpeg(img: np.ndarray, q: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


@functools.lru_cache(maxsize=3)
def looks(scene_id: str) -> dict[tuple[str, bool], tuple[np.ndarray, ...]]:
    """(look, low_bitrate) -> world frames as float32: the day, lamp and IR looks."""
    frames, _ = scenes.world_frames(scene_id, W, H)
    frames = frames[:: max(1, len(frames) // 8)][:8]
    sd = scenes.SCENES[scene_id]
    lamps = sd.lamps or ((0.2, 0.05, 0.35), (0.8, 0.1, 0.4), (0.5, 0.75, 0.5))
    rng = np.random.default_rng(1)
    out: dict[tuple[str, bool], tuple[np.ndarray, ...]] = {}
    per = {"day": frames,
           "lamp": tuple(scenes.night_lamp(f, lamps, rng) for f in frames),
           "ir": tuple(scenes.night_ir(f) for f in frames)}
    for look, fs in per.items():
        out[(look, False)] = tuple(f.astype(np.float32) for f in fs)
        out[(look, True)] = tuple(_jpeg(f, 22).astype(np.float32) for f in fs)
    return out


def _smoothstep(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return x * x * (3 - 2 * x)


class LongCamera:
    """A healthy (or slowly failing) camera over hours; render(t) in any order, < 0.5 ms."""

    def __init__(self, scene_id: str, duration: float, seed: int, start_hour: float,
                 sunset: float, sunrise: float, fault: NoFault | None = None) -> None:
        rng = np.random.default_rng(seed)
        self.sd = scenes.SCENES[scene_id]
        self.looks = looks(scene_id)
        self.nf = len(self.looks[("day", False)])
        _, self.frame_dt = scenes.world_frames(scene_id, W, H)
        ww, wh = scenes.world_size(W, H)
        self.mx, self.my = (ww - W) // 2, (wh - H) // 2
        self.start, self.sunset, self.sunrise = start_hour, sunset, sunrise
        self.duration, self.seed = duration, seed
        self.fault = fault or NoFault()
        self.phases = rng.uniform(0, 2 * math.pi, 6)
        self.shake = 1.0 if self.sd.outdoor else 0.0
        self.noise_day = float(rng.uniform(1.2, 2.5))
        # weather and bit-rate segments, 15-90 min each
        self.seg_t: list[float] = []
        self.seg: list[tuple[str, bool]] = []
        t = 0.0
        wx_choices = ("clear", "clear", "overcast", "rain", "snow") if self.sd.outdoor \
            else ("clear",)
        while t < duration:
            self.seg_t.append(t)
            self.seg.append((str(rng.choice(wx_choices)), bool(rng.random() < 0.3)))
            t += float(rng.uniform(900, 5400))
        self.rain = actors.Weather(W, H, "rain", rng, 0.8) if self.sd.outdoor else None
        self.snow = actors.Weather(W, H, "snow", rng, 0.8) if self.sd.outdoor else None
        rate = max(0.3, self.sd.busy) * 0.6
        self.crowd = actors.Crowd(W, H, rate, duration, self.sd.walk_band, self.sd.person_h,
                                  rng, max_walkers=3000)
        self.crowd.index()

    def daylight(self, t: float) -> float:
        """1 by day, 0 at night; dusk and dawn take about an hour."""
        tod = (self.start + t / 3600.0) % 24.0
        dusk = 1.0 - _smoothstep((tod - self.sunset + 0.4) / 1.1)
        dawn = _smoothstep((tod - self.sunrise + 0.4) / 1.1)
        return dusk if tod > 12 else dawn

    def segment(self, t: float) -> tuple[str, bool]:
        return self.seg[max(0, bisect.bisect_right(self.seg_t, t) - 1)]

    def render(self, t: float) -> np.ndarray:
        e = self.daylight(t)
        wx, low = self.segment(t)
        k = int(t / self.frame_dt) % self.nf
        mv = self.fault.view(t)
        ir = e < 0.12
        if ir:
            base = self.looks[("ir", low)][k]
            img = self._view(base, t, mv)
            sd = 4.0
        else:
            a = _smoothstep((e - 0.12) / 0.6)
            day = self._view(self.looks[("day", low)][k], t, mv)
            if a < 0.999:
                lamp = self._view(self.looks[("lamp", low)][k], t, mv)
                img = cv2.addWeighted(day, a, lamp, 1 - a, 0)
            else:
                img = day
            sd = self.noise_day + 6.0 * (1 - a)
        if wx == "overcast":
            img = cv2.addWeighted(img, 0.8, img, 0.0, 25.0)
        g = 1.0 + 0.05 * smooth(t / 60.0, self.phases[:3]) * self.shake
        self.crowd.draw(img, t, gain=0.4 if e < 0.5 else 1.0)
        if wx == "rain" and self.rain is not None:
            self.rain.draw(img, t)
        elif wx == "snow" and self.snow is not None:
            self.snow.draw(img, t)
        img = self.fault.optics(img, t)
        rng = np.random.default_rng([self.seed, int(round(t * 1000)) & 0x7FFFFFFF])
        oy, ox = rng.integers(0, 48, 2)
        bank = noise_bank(W, H, ir)
        s = sd * (0.55 if low else 0.9) * (1 if rng.random() < 0.5 else -1)
        img = cv2.scaleAdd(bank[oy:oy + H, ox:ox + W], s, img)
        return cv2.convertScaleAbs(img, alpha=g) if g > 0 else img.astype(np.uint8)

    def _view(self, base: np.ndarray, t: float, mv: tuple[float, float, float] | None
              ) -> np.ndarray:
        ox = int(round(self.shake * smooth(t * 3.1, self.phases[1:4])))
        if mv is None:
            y, x = self.my, self.mx + ox
            return base[y:y + H, x:x + W].copy()
        dx, dy, deg = mv
        m = cv2.getRotationMatrix2D((W / 2, H / 2), deg, 1.0)
        m[0, 2] += self.mx + dx + ox
        m[1, 2] += self.my + dy
        return cv2.warpAffine(base, m, (W, H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REFLECT101)


class DustBuildUp(NoFault):
    """Dust and grime building up on the window over hours: a growing veil and blur."""

    def __init__(self, onset: float, due: float, radius_due: float, veil_due: float) -> None:
        self.onset, self.due, self.r, self.v = onset, due, radius_due, veil_due

    def level(self, t: float) -> float:
        return max(0.0, (t - self.onset) / (self.due - self.onset))

    def optics(self, img: np.ndarray, t: float) -> np.ndarray:
        u = self.level(t)
        if u <= 0:
            return img
        from .faults import disc_blur

        img = disc_blur(img, self.r * u)
        v = min(0.9, self.v * u)
        level = float(np.mean(img[::8, ::8])) * 1.1 + 15.0
        return cv2.addWeighted(img, 1 - v, img, 0.0, v * level)


class LinearSag(NoFault):
    """A mount sagging at a steady rate: shift (and a little roll) growing linearly."""

    def __init__(self, onset: float, due: float, shift_due_px: float, direction: float,
                 deg_due: float) -> None:
        self.onset, self.due = onset, due
        self.dx, self.dy = shift_due_px * math.cos(direction), shift_due_px * math.sin(direction)
        self.deg = deg_due

    def view(self, t: float) -> tuple[float, float, float] | None:
        u = (t - self.onset) / (self.due - self.onset)
        if u <= 0:
            return None
        u = min(u, 1.6)
        return self.dx * u, self.dy * u, self.deg * u
