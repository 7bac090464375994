"""The camera model: scene -> optics -> sensor -> ISP -> (keyframe) compression.

The order follows the physics, because it matters for what a detector sees:

1. the *view*: a window on the world (wind shake moves it a pixel or two; a knocked camera
   moves or rotates it);
2. what moves in the scene: passers-by, vehicles, weather; the light level (drift, dusk,
   lights going out);
3. *optics*: things at the lens (leaves, smudges, fog, condensation) and the lens itself
   (defocus, a shaking mount's motion blur) act on the light *before* the sensor, so they
   blur/veil the scene but not the sensor noise;
4. the *sensor*: noise, fresh every frame, growing with the gain the AGC applies in low light;
5. interference on the video signal (ripple) adds to the signal after the sensor;
6. the OSD clock and a keyframe's compression (skipped for cases the harness encodes).

A frozen camera repeats one ISP output: identical pictures.
"""

from __future__ import annotations

import datetime
import functools
import math
from typing import Protocol

import cv2
import numpy as np

from . import actors, scenes


def smooth(t: float, phases: np.ndarray, periods: tuple[float, ...] = (7.3, 17.9, 41.0)) -> float:
    """A smooth pseudo-random signal in about [-1, 1]: a few incommensurate sines.

    Pure in t (no state), so render(t) may be called in any order.
    """
    return sum(math.sin(2 * math.pi * t / p + ph) for p, ph in zip(periods, phases, strict=False)
               ) / len(periods) * 1.6


@functools.lru_cache(maxsize=4)
def noise_bank(w: int, h: int, mono: bool) -> np.ndarray:
    """Unit sensor noise, a bit larger than the view; each call slices it at a random offset.

    Luma noise is fine grained; colour noise is blotchy (demosaicing correlates it), as on
    real small-pixel sensors.  A slice at a fresh offset per frame is as good as fresh noise
    and ~50x cheaper than drawing it.
    """
    rng = np.random.default_rng(12345 + w * 7 + h)
    pad = 48
    lum = rng.standard_normal((h + pad, w + pad), dtype=np.float32)
    if mono:
        bank = np.repeat(lum[..., None], 3, axis=2)
    else:
        chroma = rng.standard_normal((h + pad, w + pad, 3), dtype=np.float32)
        chroma = cv2.GaussianBlur(chroma, (0, 0), 1.2) * 1.8
        bank = lum[..., None] * 0.85 + chroma * 0.5
    bank.setflags(write=False)
    return bank


class Fault(Protocol):
    """Hooks a fault may provide; the camera calls each at its place in the chain."""

    def view(self, t: float) -> tuple[float, float, float] | None: ...  # dx, dy (px), deg
    def light(self, t: float) -> float: ...
    def noise(self, t: float) -> float: ...
    def optics(self, img: np.ndarray, t: float) -> np.ndarray: ...
    def signal(self, img: np.ndarray, t: float) -> np.ndarray: ...
    def frozen_at(self, t: float) -> float | None: ...


class NoFault:
    """The identity for every hook (healthy cameras, and the base of every fault)."""

    def view(self, t: float) -> tuple[float, float, float] | None:
        return None

    def light(self, t: float) -> float:
        return 1.0

    def noise(self, t: float) -> float:
        return 1.0

    def optics(self, img: np.ndarray, t: float) -> np.ndarray:
        return img

    def signal(self, img: np.ndarray, t: float) -> np.ndarray:
        return img

    def frozen_at(self, t: float) -> float | None:
        return None


class Camera:
    """A healthy camera on one scene; a fault object bends it at the right stage.

    Everything heavy (world frames, noise bank, sprites, fault masks) is computed once;
    a render call slices, pastes and blends.
    """

    def __init__(self, scene_id: str, w: int, h: int, duration: float, seed: int,
                 fault: Fault | None = None, *, busy: float | None = None,
                 noise_sd: float | None = None, jpeg_q: int | None = None,
                 osd: bool = False, osd_ticks_when_frozen: bool = False,
                 shake: float | None = None, events: dict | None = None,
                 noise_scale: float = 1.0) -> None:
        self.sd = scenes.SCENES[scene_id]
        self.w, self.h, self.duration, self.seed = w, h, duration, seed
        self.fault: Fault = fault or NoFault()
        rng = np.random.default_rng(seed)
        self.phases = rng.uniform(0, 2 * math.pi, 6)
        self.frames, self.frame_dt = scenes.world_frames(scene_id, w, h)
        ww, wh = scenes.world_size(w, h)
        self.mx, self.my = (ww - w) // 2, (wh - h) // 2
        self.mono = self.sd.night == "ir" or scene_id.startswith("basketball")
        night = self.sd.night is not None
        if noise_sd is None:
            noise_sd = rng.uniform(4.0, 7.0) if night else rng.uniform(1.2, 2.8)
        self.noise_sd = noise_sd * noise_scale
        self.jpeg_q = jpeg_q
        self.osd = osd
        self.osd_ticks = osd_ticks_when_frozen
        k = w / 704.0
        self.shake = (self.sd.shake if shake is None else shake) * k
        self.events = events or {}
        light = 0.3 if self.sd.night == "lamp" else 1.0
        grey = self.mono
        rate = self.sd.busy if busy is None else busy
        self.crowd = actors.Crowd(w, h, rate, duration, self.sd.walk_band, self.sd.person_h,
                                  rng, grey=grey, light=light)
        self.others: list = []
        ev = self.events
        if "vehicles" in ev:
            self.others.append(actors.Traffic(w, h, ev["vehicles"], rng, size=ev.get("vsize", 0.6),
                                              grey=grey, light=light,
                                              headlights=ev.get("headlights", False)))
        if "close_person" in ev:
            self.others.append(actors.CloseByPerson(w, h, ev["close_person"], rng, light))
        if "weather" in ev:
            self.others.append(actors.Weather(w, h, ev["weather"], rng, ev.get("wx", 1.0)))
        self.outdoor = self.sd.outdoor
        self._frozen: np.ndarray | None = None
        self._start = datetime.datetime(2024, 3, 1, 8, 0, 0) + datetime.timedelta(
            hours=int(rng.integers(0, 12)), minutes=int(rng.integers(0, 60)))
        if self.sd.night:
            self._start = self._start.replace(hour=int(rng.integers(21, 24)))

    # -- pieces ---------------------------------------------------------------------------
    def frame_at(self, t: float) -> np.ndarray:
        n = len(self.frames)
        if n == 1:
            return self.frames[0]
        k = int(t / self.frame_dt) % (2 * n - 2)
        if self.events.get("ir_switch") is not None and t >= self.events["ir_switch"]:
            return scenes.ir_version(self.sd.id, self.w, self.h)[k if k < n else 2 * n - 2 - k]
        return self.frames[k if k < n else 2 * n - 2 - k]

    def brightness(self, t: float) -> float:
        """Light drift (clouds outdoors, AE hunting indoors) and the look-alike events."""
        amp = 0.07 if self.outdoor else 0.025
        g = 1.0 + amp * smooth(t, self.phases[:3], (23.0, 61.0, 137.0))
        ev = self.events
        if "dusk" in ev:  # light falling over the clip; the AE keeps up only partly
            g *= 1.0 - ev["dusk"] * min(1.0, t / self.duration)
        if "flicker" in ev:  # gain flicker: AGC stepping, or lamps on a bad ballast
            g *= 1.0 + ev["flicker"] * (1 if int(t * 1.7 + self.phases[4]) % 3 == 0 else -0.5)
        return g

    def noise_level(self, t: float) -> float:
        s = self.noise_sd
        if "dusk" in self.events:
            s *= 1.0 + 2.0 * self.events["dusk"] * min(1.0, t / self.duration)
        if self.events.get("ir_switch") is not None and t >= self.events["ir_switch"]:
            s *= 2.0
        return s * self.fault.noise(t)

    def _view(self, t: float, frame: np.ndarray) -> np.ndarray:
        ox = oy = 0
        if self.shake > 0:
            ox = int(round(self.shake * smooth(t * 3.1, self.phases[1:4])))
            oy = int(round(0.5 * self.shake * smooth(t * 2.7, self.phases[2:5])))
        mv = self.fault.view(t)
        if mv is None:
            y, x = self.my + oy, self.mx + ox
            return frame[y:y + self.h, x:x + self.w].astype(np.float32)
        dx, dy, deg = mv
        cx, cy = self.mx + self.w / 2 + dx + ox, self.my + self.h / 2 + dy + oy
        m = cv2.getRotationMatrix2D((self.w / 2, self.h / 2), deg, 1.0)
        m[0, 2] += cx - self.w / 2
        m[1, 2] += cy - self.h / 2
        # m maps view -> world (inverse map): the camera turned by deg and moved by (dx,dy)
        out = cv2.warpAffine(frame, m, (self.w, self.h),
                             flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_REFLECT101)
        return out.astype(np.float32)

    def _osd(self, img: np.ndarray, t: float) -> None:
        ts = (self._start + datetime.timedelta(seconds=int(t))).strftime("%Y-%m-%d %H:%M:%S")
        scale = self.h / 720.0
        org = (int(12 * scale) + 4, int(34 * scale) + 8)
        cv2.putText(img, ts, org, cv2.FONT_HERSHEY_SIMPLEX, 0.9 * scale + 0.2, (0, 0, 0),
                    max(1, int(4 * scale)), cv2.LINE_AA)
        cv2.putText(img, ts, org, cv2.FONT_HERSHEY_SIMPLEX, 0.9 * scale + 0.2, (235, 235, 235),
                    max(1, int(2 * scale)), cv2.LINE_AA)

    def isp(self, t: float) -> np.ndarray:
        """The ISP's output at t before the OSD and compression (float32 BGR)."""
        img = self._view(t, self.frame_at(t))
        self.crowd.draw(img, t)
        for o in self.others:
            o.draw(img, t)
        g = self.brightness(t) * self.fault.light(t)
        if abs(g - 1.0) > 1e-4:
            img *= g
        img = self.fault.optics(img, t)
        rng = np.random.default_rng([self.seed, int(round(t * 1000)) & 0x7FFFFFFF])
        oy, ox = rng.integers(0, 48, 2)
        bank = noise_bank(self.w, self.h, self.mono)
        s = self.noise_level(t) * (1 if rng.random() < 0.5 else -1)
        img = cv2.scaleAdd(bank[oy:oy + self.h, ox:ox + self.w], s, img)
        return self.fault.signal(img, t)

    def render(self, t: float) -> np.ndarray:
        """BGR uint8 picture at t: what the agent would decode from the camera's keyframe."""
        ft = self.fault.frozen_at(t)
        if ft is not None:
            if self._frozen is None:
                self._frozen = self._to_u8(self.isp(ft))
            return self._finish(self._frozen.copy(), t if self.osd_ticks else ft)
        return self._finish(self._to_u8(self.isp(t)), t)

    @staticmethod
    def _to_u8(img: np.ndarray) -> np.ndarray:
        np.clip(img, 0, 255, out=img)
        return img.astype(np.uint8)

    def _finish(self, out: np.ndarray, t: float) -> np.ndarray:
        if self.osd:
            self._osd(out, t)
        if self.jpeg_q is not None:
            ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(self.jpeg_q)])
            out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        return out
