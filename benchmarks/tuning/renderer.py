"""Turn a Case's description into pictures: `Renderer(case)(t)` -> BGR uint8.

Everything random comes from generators seeded by the case (its seed and name) and, per
frame, by the frame's time, so `render(t)` gives the same picture whatever order it is
called in. Light takes the order of render.py: scene (lit by day, lamps or IR) -> camera
geometry (moved, wind) -> optics in front of the sensor -> sensor (gain, noise) ->
interference on the signal -> frozen encoder (repeats one final picture).
"""

from __future__ import annotations

import math
import zlib
from typing import Any

import cv2
import numpy as np

from benchmarks import render as R
from benchmarks.tuning import effects as E
from benchmarks.tuning import footage
from benchmarks.tuning.scenes import SCENES, Scene, ir_map, lamp_map


def case_seed(seed: int, name: str) -> int:
    """A case's own seed: the part, the run's seed and the case's name."""
    return zlib.crc32(f"tuning:{seed}:{name}".encode()) & 0x7FFFFFFF


def _direction(p: dict[str, Any]) -> tuple[float, float]:
    d = p.get("from", [0.0, -1.0])
    return float(d[0]), float(d[1])


class Renderer:
    """The pictures of one sweep or slow case."""

    def __init__(self, case: Any) -> None:
        self.case = case
        self.seed = case_seed(case.params.get("_seed", 0), case.name)
        rng = np.random.default_rng(self.seed)
        w, h = case.width, case.height
        self.scene = Scene(case.scene, w, h, rng)
        self.noise = R.NoiseBank(w, h, rng, k=2)
        self.geometry: list[Any] = []
        self.optical: list[Any] = []
        self.electrical: list[Any] = []
        self.frozen_at: float | None = None
        self._frozen: np.ndarray | None = None
        self._build(case, rng, w, h)
        self.per_frame_rng = [e for e in (*self.geometry, *self.optical, *self.electrical)
                              if hasattr(e, "rng") and not isinstance(e, R.Occluder)]

    def _build(self, c: Any, rng: np.random.Generator, w: int, h: int) -> None:
        p, fam, t0 = c.params, c.family, c.onset
        night = SCENES[c.scene].night
        k = w / 704
        if fam in ("foliage", "foliage_growing", "foliage_translucent"):
            cov = p.get("coverage", c.strength)
            self.optical.append(E.Foliage(
                w, h, t0, rng, cov, p["opacity"], p["blur_lr"], p["sway_lr"],
                p.get("grow_s", 0.0), _direction(p), translucent=fam == "foliage_translucent",
                night=night))
        elif fam == "smudge":
            self.optical.append(E.Smudge(w, h, t0, rng, c.strength, p["sigma_px"] * k,
                                         p["veil"], p["build_s"]))
        elif fam in ("defocus", "focus_creep"):
            self.optical.append(R.Defocus(t0, c.strength * k, p["ramp_s"], gaussian=False))
        elif fam == "motion_blur":
            self.optical.append(E.MotionBlur(t0, c.strength * k, p["ramp_s"]))
        elif fam == "fog":
            self.optical.append(R.Fog(t0, p["sigma_px"] * k, c.strength, p["glow"], p["build_s"]))
        elif fam == "dust":
            self.optical.append(R.DirtyLens(w, h, t0, rng, p["sigma_px"] * k, c.strength,
                                            p["contrast"], p["ramp_s"]))
        elif fam in ("ripple", "ripple_periodic"):
            rip = R.Ripple(w, h, t0, rng, p["kind"], c.strength)
            p.setdefault("geometry", rip.describe())
            self.electrical.append(rip)
        elif fam == "dark":
            self.optical.append(E.Dark(w, h, t0, c.strength, p["ramp_s"], p["mode"],
                                       p["noise_mult"]))
        elif fam in ("moved", "sag"):
            self.geometry.append(E.Moved(w, h, t0, (p["dx"], p["dy"]), p["deg"], p["ramp_s"]))
        elif fam in ("frozen_busy", "frozen_still"):
            self.frozen_at = t0
            self.scene.noise = float(c.strength)
        elif fam == "healthy":
            self._lookalike(c, rng, w, h)
        if p.get("wind_px"):
            self.geometry.append(E.WindShake(w, h, p["wind_px"] * k, p.get("wind_hz", 0.7)))

    def _lookalike(self, c: Any, rng: np.random.Generator, w: int, h: int) -> None:
        what = c.params.get("what", "clean")
        if what == "dusk":
            self.optical.append(R.NightDimming(30.0, float(rng.uniform(0.2, 0.35)),
                                               float(rng.uniform(20, 40)), 2.0))
        elif what == "gain_flicker":
            self.optical.append(R.GainFlicker([(float(s), 0.8, float(f)) for s, f in
                                               zip(rng.uniform(10, c.duration - 5, 4),
                                                   rng.choice([0.6, 1.4, 1.6], 4),
                                                   strict=True)]))
        elif what == "person_close":
            self.optical.append(R.Walker(w, h, [(35.0, 1.5, 1.0), (70.0, 0.5, -1.0)], rng,
                                         float(rng.uniform(0.5, 0.85))))
        elif what == "ir_switch":
            self.optical.append(R.IrSwitch(w, h, 40.0, rng))
        elif what == "rain":
            self.optical.append(R.Rain(w, h, 20.0, rng, float(rng.uniform(150, 350))))
        elif what == "snow":
            self.optical.append(E.Snow(w, h, 20.0, float(rng.uniform(150, 400))))
        elif what == "headlights":
            self.optical.append(E.Headlights(w, h, [30.0, 55.0, 80.0], rng))
        elif what == "vehicle":
            self.optical.append(E.Vehicle(w, h, 45.0, rng))
        elif what == "night_noise":
            self.scene.noise *= 2.0

    def live(self, t: float) -> np.ndarray:
        """The camera's picture at t, ignoring any freeze."""
        fr = np.random.default_rng([self.seed, int(round(t * 1000))])
        self.noise.rng = fr
        for e in self.per_frame_rng:
            e.rng = fr
        st = R.SensorState(noise=self.scene.noise)
        img = self.scene.frame(t, st)
        for e in self.geometry:
            img = e(img, t, st)
        for e in self.optical:
            img = e(img, t, st)
        if not self.electrical:
            return R.apply_sensor(img, st, self.noise, as_uint8=True)
        img = R.apply_sensor(img, st, self.noise, as_uint8=False)
        for e in self.electrical:
            img = e(img, t, st)
        return np.clip(img, 0, 255).astype(np.uint8)

    def __call__(self, t: float) -> np.ndarray:
        if self.frozen_at is not None and t >= self.frozen_at:
            if self._frozen is None:
                self._frozen = self.live(self.frozen_at)
            return self._frozen
        return self.live(t)


# ------------------------------------------------------------------------------------------
# long healthy runs at the thumbnail size


_SMALL: dict[tuple[str, int, int], Any] = {}


def _small_source(name: str, w: int, h: int, rng: np.random.Generator) -> Any:
    key = (name, w, h)
    if key not in _SMALL:
        if name == footage.VIDEO:
            frames = footage.video_frames()
            sh, sw = frames[0].shape[:2]
            ch = min(sh, int(round(sw * h / w)))
            _SMALL[key] = [cv2.resize(f[:ch], (w, h), interpolation=cv2.INTER_AREA)
                           for f in frames]
        else:
            _SMALL[key] = R.fit_cover(footage.photo(name), w, h, rng).astype(np.uint8)
    return _SMALL[key]


def daylight(hour: float) -> float:
    """0 (night) .. 1 (day) at a clock hour: dawn 5:30-7:00, dusk 17:30-19:00."""
    h = hour % 24.0
    return R.smoothstep((h - 5.5) / 1.5) * (1.0 - R.smoothstep((h - 17.5) / 1.5))


class LongRenderer:
    """Hours of one healthy camera at 320 x 192, cheap per picture (~0.3-0.5 ms).

    What drifts: daylight through dusk to night and back (with the IR switch on cameras that
    have one, lamps otherwise), auto gain and its noise, light clouds, rain spells, spells of
    low bit rate (JPEG blocking), passers-by and a pole swaying in wind."""

    def __init__(self, case: Any) -> None:
        p = case.params
        self.case = case
        self.seed = case_seed(p.get("_seed", 0), case.name)
        rng = np.random.default_rng(self.seed)
        w, h = case.width, case.height
        self.w, self.h = w, h
        spec = SCENES[case.scene]
        self.src = _small_source(spec.source, w, h, rng)
        self.video = isinstance(self.src, list)
        self.start_hour = float(p["start_hour"])
        self.has_ir = bool(p["ir"])
        self.ir = ir_map(w, h, rng)
        self.lamps = lamp_map(w, h, rng)
        self.noise = R.NoiseBank(w, h, rng, k=3)
        self.walkers = E.Passersby(w, h, rng, int(rng.integers(0, 4)))
        self.sigma = float(rng.uniform(1.5, 3.0))
        # Spells (start hour offset, length h) of rain, low bit rate and wind.
        dur_h = case.duration / 3600
        self.rain = [(float(s), float(rng.uniform(0.3, 1.5))) for s in
                     rng.uniform(0, dur_h, int(rng.integers(0, 3)))]
        self.lowrate = [(float(s), float(rng.uniform(0.2, 1.0)), int(rng.integers(12, 35)))
                        for s in rng.uniform(0, dur_h, int(rng.integers(0, 3)))]
        self.wind = [(float(s), float(rng.uniform(0.2, 1.0))) for s in
                     rng.uniform(0, dur_h, int(rng.integers(0, 3)))]
        self.rain_fx = R.Rain(w, h, 0.0, rng, float(rng.uniform(100, 250)))
        self.shake = E.WindShake(w, h, float(rng.uniform(0.3, 1.0)), float(rng.uniform(0.3, 1)))
        self.cloud = (float(rng.uniform(0.02, 0.08)), float(rng.uniform(300, 1800)))
        self._ir_on = daylight(self.start_hour) < 0.25

    @staticmethod
    def _in(spells: list, hours: float) -> Any:
        for s in spells:
            if s[0] <= hours < s[0] + s[1]:
                return s
        return None

    def __call__(self, t: float) -> np.ndarray:
        fr = np.random.default_rng([self.seed, int(round(t * 1000))])
        self.noise.rng = fr
        self.rain_fx.rng = fr
        hours = t / 3600
        day = daylight(self.start_hour + hours)
        if self.video:
            n = len(self.src)
            k = int(t * 10 / footage.VIDEO_STEP) % (2 * n - 2)
            base = self.src[k if k < n else 2 * n - 2 - k]
        else:
            base = self.src
        st = R.SensorState(noise=self.sigma)
        img = self.walkers(base.astype(np.float32), t, st)
        if self._in(self.wind, hours):
            img = self.shake(img, t, st)
        if self._in(self.rain, hours):
            img = self.rain_fx(img, t, st)
        # IR cut switches with hysteresis, as cameras do, so it flips once per dusk/dawn.
        if self.has_ir:
            self._ir_on = day < 0.2 or (self._ir_on and day < 0.3)
        light = 0.04 + 0.96 * day
        if self._ir_on:
            g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)[..., None] * self.ir
            img = np.repeat(g, 3, axis=2)
            st.sat, st.noise = 0.0, self.sigma * 2.2
        else:
            img = img * (light + (1 - light) * self.lamps)
            # Auto gain lifts a dim picture part of the way back, with its noise.
            boost = min(4.0, (1.0 / max(light + 0.1, 0.1)) ** 0.5)
            st.gain *= boost
            st.noise = self.sigma * boost
        a, period = self.cloud
        st.gain *= 1.0 + a * math.sin(2 * math.pi * t / period)
        out = R.apply_sensor(img, st, self.noise, as_uint8=True)
        low = self._in(self.lowrate, hours)
        if low:
            # A camera compresses its own, larger picture and the agent scales it down to the
            # thumbnail, which averages most blocking away: so the blocks are made at twice
            # the thumbnail's size and scaled down, not stamped onto the thumbnail itself
            # (that, tried first, was far harsher than any stream and read as blur).
            big = cv2.resize(out, (2 * self.w, 2 * self.h), interpolation=cv2.INTER_LINEAR)
            ok, buf = cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, low[2]])
            out = cv2.resize(cv2.imdecode(buf, cv2.IMREAD_COLOR), (self.w, self.h),
                             interpolation=cv2.INTER_AREA)
        return out
