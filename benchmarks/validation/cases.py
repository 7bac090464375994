"""The case catalogue: which scene, size, strength and timing each validation case has."""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import faults as F
from .camera import Camera
from .scenes import SCENES


@dataclass
class Case:
    """One validation case; render(t) gives the ISP's picture at t (see the interface)."""

    name: str
    family: str
    fault: str | None
    strength: float
    strength_unit: str
    scene: str
    night: bool
    width: int
    height: int
    duration: float
    onset: float | None
    due: float | None
    fps: float = 10.0
    gop_s: float = 2.0
    bitrate_kbps: int = 1000
    codec: str = "h264"
    encode: bool = False
    params: dict = field(default_factory=dict)
    _build: Callable[[], object] | None = field(default=None, repr=False, compare=False)
    _cam: object | None = field(default=None, repr=False, compare=False)

    def render(self, t: float) -> np.ndarray:
        """BGR uint8 (height x width x 3) at t s; the camera is built on the first call."""
        if self._cam is None:
            if self._build is None:
                raise RuntimeError(f"{self.name}: no renderer")
            self._cam = self._build()
        return self._cam.render(t)  # type: ignore[attr-defined]

    def release(self) -> None:
        """Drop the built camera (masks, sprites) to free memory after a case is done."""
        self._cam = None


def case_seed(seed: int, name: str) -> int:
    """The per-case seed: a function of (seed, name) only, so a case renders the same
    whatever else is in the list."""
    return (zlib.crc32(name.encode()) ^ (seed * 0x9E3779B1)) & 0x7FFFFFFF


RESOLUTIONS = ((640, 360), (704, 576), (1280, 720), (1920, 1080))
RES_WEIGHTS = (0.35, 0.4, 0.17, 0.08)

DAY = ("tree", "bikes", "carphone", "basketball", "rubberwhale", "street", "field", "aloe",
       "garden", "pcb", "notice", "tiles", "desk", "cardtable", "fruitstall")
NIGHT = ("tree_ir", "bikes_night", "basketball_ir", "street_night", "field_night",
         "garden_ir")
ALL = DAY + NIGHT
PERIODIC = tuple(s for s in ALL if SCENES[s].periodic)
PLAIN = ("basketball", "desk", "cardtable", "street", "tree", "bikes", "garden", "carphone",
         "fruitstall", "tree_ir", "basketball_ir", "street_night")
BUSY = ("bikes", "street", "field", "tree", "basketball", "carphone", "bikes_night",
        "field_night", "street_night")
STILL = ("aloe", "pcb", "notice", "desk", "tiles", "rubberwhale", "basketball_ir",
         "cardtable")
INDOOR = tuple(s for s in DAY if not SCENES[s].outdoor)
OUTDOOR_DAY = tuple(s for s in DAY if SCENES[s].outdoor)


class _Maker:
    """Draws the per-case nuisance parameters (size, codec, OSD...) and makes Cases."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = np.random.default_rng(seed + 1000)
        self.n = 0
        self.names: set[str] = set()

    def res(self, scene: str) -> tuple[int, int]:
        ok = [i for i, (w, _) in enumerate(RESOLUTIONS) if w <= SCENES[scene].max_width]
        p = np.array([RES_WEIGHTS[i] for i in ok])
        return RESOLUTIONS[ok[int(self.rng.choice(len(ok), p=p / p.sum()))]]

    def make(self, family: str, fault: str | None, strength: float, unit: str, scene: str,
             onset: float | None, due: float | None, fault_fn, params: dict,
             cam_kw: dict | None = None, duration: float | None = None,
             size: tuple[int, int] | None = None, encode: bool | None = None) -> Case:
        r = self.rng
        w, h = size or self.res(scene)
        if duration is None:
            end = (due if due is not None else 60.0) + r.uniform(20, 40)
            duration = float(min(130.0, max(60.0, round(end))))
        self.n += 1
        enc = (self.n % 6 == 0) if encode is None else encode
        pix = w * h
        kbps = int(r.uniform(0.5, 3.0) * 1000 * (pix / (704 * 576)) ** 0.75)
        kbps = int(params.get("kbps", kbps))
        fps = 10.0
        gop = float(r.choice([1.0, 2.0, 2.0, 3.0, 4.0]))
        codec = "h265" if enc and r.random() < 0.35 else "h264"
        osd = bool(r.random() < 0.5)
        kw = dict(cam_kw or {})
        if not enc and "jpeg_q" not in kw:
            bpp = kbps * 1000 / (fps * pix)
            q = int(np.clip(30 + 200 * bpp, 20, 95))
            # a real JPEG round trip costs ~8 ms at 704x576: kept for the low bit rates,
            # where its blocking matters; above, the encoder's noise smoothing is modelled
            kw["jpeg_q"] = q if q < 60 else None
            if q >= 60:
                kw.setdefault("noise_scale", 0.8)
        kw.setdefault("osd", osd)
        base = f"{family}/{unit}{strength:g}/{scene}/{w}x{h}"
        k = 0
        while f"{base}/s{k}" in self.names:
            k += 1
        name = f"{base}/s{k}"
        self.names.add(name)
        cs = case_seed(self.seed, name)
        sd = SCENES[scene]
        dur = duration

        def build() -> Camera:
            rng = np.random.default_rng(cs)
            cam = Camera(scene, w, h, dur, cs, **kw)
            if fault_fn is not None:
                cam.fault = fault_fn(cam, rng)
            return cam

        p = dict(params)
        p.pop("kbps", None)
        p.update({"osd": kw.get("osd", False), "jpeg_q": kw.get("jpeg_q")})
        return Case(name=name, family=family, fault=fault, strength=float(strength),
                    strength_unit=unit, scene=scene, night=sd.night is not None, width=w,
                    height=h, duration=dur, onset=onset, due=due, fps=fps, gop_s=gop,
                    bitrate_kbps=kbps, codec=codec, encode=enc, params=p, _build=build)


def _pick(rng: np.random.Generator, pool: tuple[str, ...], i: int) -> str:
    """Scenes in rotation (every scene gets used), started at a random place."""
    return pool[(i + int(rng.integers(0, len(pool)))) % len(pool)]


def sweep_cases(seed: int) -> list[Case]:
    m = _Maker(seed)
    r = m.rng
    out: list[Case] = []

    def onset() -> float:
        return float(round(r.uniform(20, 40), 1))

    # -- foliage --------------------------------------------------------------------------
    for lvl in (0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 1.0):
        for i in range(6):
            sc = _pick(r, ALL, i)
            on, op, grow = onset(), float(r.uniform(0.6, 1.0)), float(r.uniform(1, 4))
            anchor = str(r.choice(F.ANCHORS))
            night = SCENES[sc].night

            def fn(cam, rng, lvl=lvl, op=op, on=on, grow=grow, anchor=anchor, night=night):
                return F.Foliage(cam.w, cam.h, rng, lvl, op, on, grow, anchor, night=night)

            out.append(m.make("foliage", "blocked", lvl, "coverage", sc, on, on + grow, fn,
                              {"opacity": round(op, 2), "anchor": anchor, "grow_s": grow}))
    for lvl in (0.2, 0.4, 0.6, 0.8, 1.0):
        for i in range(8):
            sc = _pick(r, ALL, i)
            on, op, grow = onset(), float(r.uniform(0.6, 1.0)), float(r.uniform(0, 40))
            anchor = str(r.choice(F.ANCHORS))
            night = SCENES[sc].night

            def fn(cam, rng, lvl=lvl, op=op, on=on, grow=grow, anchor=anchor, night=night):
                return F.Foliage(cam.w, cam.h, rng, lvl, op, on, grow, anchor, night=night)

            out.append(m.make("foliage_growing", "blocked", lvl, "coverage", sc, on, on + grow,
                              fn, {"opacity": round(op, 2), "anchor": anchor,
                                   "grow_s": round(grow, 1)}))
    for lvl in (0.3, 0.375, 0.45, 0.525, 0.6):
        for i in range(8):
            sc = _pick(r, DAY, i)
            on, cov, grow = onset(), float(r.uniform(0.4, 1.0)), float(r.uniform(1, 5))
            anchor = str(r.choice(F.ANCHORS))

            def fn(cam, rng, lvl=lvl, cov=cov, on=on, grow=grow, anchor=anchor):
                return F.Foliage(cam.w, cam.h, rng, cov, lvl, on, grow, anchor,
                                 translucent=True)

            out.append(m.make("foliage_translucent", "blocked", lvl, "opacity", sc, on,
                              on + grow, fn, {"coverage": round(cov, 2), "anchor": anchor}))
    # -- smudge ---------------------------------------------------------------------------
    for lvl in (0.15, 0.22, 0.3, 0.4, 0.5):
        for i in range(8):
            sc = _pick(r, ALL, i)
            on, rs = onset(), float(r.uniform(0.5, 5))
            kind = str(r.choice(list(F.Smudge.COLOURS)))
            night = SCENES[sc].night

            def fn(cam, rng, lvl=lvl, on=on, rs=rs, kind=kind, night=night):
                return F.Smudge(cam.w, cam.h, rng, lvl, on, rs, kind, night)

            out.append(m.make("smudge", "blocked", lvl, "coverage", sc, on, on + rs, fn,
                              {"kind": kind}))
    # -- blur -----------------------------------------------------------------------------
    for frac in (0.002, 0.004, 0.007, 0.011, 0.016, 0.024):
        for i in range(7):
            sc = _pick(r, ALL, i)
            w, h = m.res(sc)
            rad = round(frac * w, 2)
            on, rs = onset(), float(r.uniform(0, 3))

            def fn(cam, rng, rad=rad, on=on, rs=rs):
                return F.Defocus(rad, on, rs)

            out.append(m.make("defocus", "blur", rad, "radius_px", sc, on, on + rs, fn,
                              {"radius_frac": frac}, size=(w, h)))
    for frac in (0.005, 0.01, 0.018, 0.028, 0.04):
        for i in range(8):
            sc = _pick(r, ALL, i)
            w, h = m.res(sc)
            ln = round(frac * w, 1)
            on = onset()

            def fn(cam, rng, ln=ln, on=on):
                return F.LooseMount(ln, on, rng)

            out.append(m.make("motion_blur", "blur", ln, "length_px", sc, on, on + 2, fn,
                              {"length_frac": frac}, size=(w, h)))
    for dens in (0.3, 0.45, 0.6, 0.75, 0.9):
        for i in range(8):
            sc = _pick(r, ALL, i)
            on, rs = onset(), float(r.uniform(5, 30))
            sd = SCENES[sc]

            def fn(cam, rng, dens=dens, on=on, rs=rs, sd=sd):
                return F.Fog(cam.w, cam.h, rng, dens, on, rs, sd.outdoor, sd.night)

            out.append(m.make("fog", "blur", dens, "veil", sc, on, on + rs, fn,
                              {"kind": "fog" if sd.outdoor else "condensation"}))
    for frac in (0.004, 0.007, 0.011, 0.016, 0.024):
        for i in range(8):
            sc = _pick(r, ALL, i)
            w, h = m.res(sc)
            rad = round(frac * w, 2)
            on, rs = onset(), float(r.uniform(20, 60))

            def fn(cam, rng, rad=rad, on=on, rs=rs):
                return F.Defocus(rad, on, rs)

            out.append(m.make("focus_creep", "blur", rad, "radius_px", sc, on, on + rs, fn,
                              {"radius_frac": frac, "creep_s": round(rs, 1)}, size=(w, h)))
    # -- ripple ---------------------------------------------------------------------------
    for fam, pool, reps in (("ripple", PLAIN, 7), ("ripple_periodic", PERIODIC, 6)):
        for amp in (2, 4, 7, 11, 17, 24, 30):
            for i in range(reps):
                sc = _pick(r, pool, i)
                w, h = m.res(sc)
                pat = ("bars", "stripes", "herringbone", "moire")[(i + amp) % 4]
                if pat == "bars":
                    period, angle = float(r.uniform(0.08, 0.5) * h), 90.0
                    drift = float(r.uniform(0.1, 2.0))
                else:
                    period = float(r.uniform(3, 16) * w / 704)
                    angle = float(r.uniform(10, 80) * r.choice([-1, 1]))
                    drift = float(r.uniform(0, 3))
                on = onset()

                def fn(cam, rng, amp=amp, period=period, angle=angle, drift=drift, pat=pat,
                       on=on):
                    return F.Ripple(cam.w, cam.h, rng, amp, period, angle, drift, pat, on)

                out.append(m.make(fam, "ripple", amp, "grey_levels", sc, on, on + 0.5, fn,
                                  {"pattern": pat, "period_px": round(period, 1),
                                   "angle_deg": round(angle, 1), "drift_hz": round(drift, 2)},
                                  size=(w, h)))
    # -- dark -----------------------------------------------------------------------------
    for lvl in (2, 5, 9, 14, 20):
        for i in range(8):
            sc = _pick(r, INDOOR + NIGHT, i)
            night = SCENES[sc].night is not None
            on = onset()
            rs = float(r.uniform(2, 60)) if night else float(r.uniform(0, 1))
            flick = bool(night and r.random() < 0.35)
            end_noise = float(r.uniform(2.5, 7))

            def fn(cam, rng, lvl=lvl, on=on, rs=rs, flick=flick, end_noise=end_noise):
                mean = float(np.mean(cam.frames[0][::4, ::4]))
                return F.Dark(lvl, on, rs, mean, cam.noise_sd, end_noise, flick, rng)

            out.append(m.make("dark", "dark", lvl, "luma", sc, on, on + rs, fn,
                              {"mode": "ir_fail" if night else "lights_out",
                               "flicker": flick, "end_noise_sd": round(end_noise, 1)}))
    # -- moved ----------------------------------------------------------------------------
    modes = (("bump", 0.2, 0.2), ("pan", 2.0, 6.0), ("sag", 40.0, 70.0))
    sweeps = [("shift_pct", v) for v in (2, 4, 6, 9, 12, 15)] + \
             [("deg", v) for v in (1, 2, 4, 6, 10)]
    for unit, v in sweeps:
        for i in range(5):
            sc = _pick(r, ALL, i)
            mode, lo, hi = modes[i % 3]
            on, rs = onset(), float(r.uniform(lo, hi))
            if unit == "shift_pct":
                shift, deg = float(v), float(r.uniform(0, 1)) * r.choice([-1, 1])
            else:
                shift, deg = float(r.uniform(0, 1)), float(v) * r.choice([-1, 1])
            direction = float(r.uniform(0, 2 * math.pi))

            def fn(cam, rng, shift=shift, deg=deg, direction=direction, on=on, rs=rs):
                return F.Moved(cam.w, shift, deg, direction, on, rs)

            out.append(m.make("moved", "moved", v, unit, sc, on, on + rs, fn,
                              {"mode": mode, "shift_pct": round(shift, 2),
                               "rotation_deg": round(deg, 2),
                               "direction_deg": round(math.degrees(direction), 1)}))
    # -- frozen ---------------------------------------------------------------------------
    for rate in (2, 5, 10, 20, 40):
        for i in range(8):
            sc = _pick(r, BUSY, i)
            on = onset()
            tick = i % 4 == 3

            def fn(cam, rng, on=on):
                return F.Frozen(on)

            kw = {"busy": float(rate), "osd": True if tick else None,
                  "osd_ticks_when_frozen": tick}
            if not tick:
                kw.pop("osd")
            out.append(m.make("frozen_busy", "frozen", rate, "passers_per_min", sc, on, on,
                              fn, {"osd_ticking": tick}, cam_kw=kw))
    for sdv in (0.8, 1.5, 2.5, 4.0, 6.0):
        for i in range(8):
            sc = _pick(r, STILL, i)
            on = onset()

            def fn(cam, rng, on=on):
                return F.Frozen(on)

            out.append(m.make("frozen_still", "frozen", sdv, "noise_sd", sc, on, on, fn, {},
                              cam_kw={"busy": 0.0, "noise_sd": sdv, "noise_scale": 1.0}))
    out += healthy_cases(m)
    return out


LOOKALIKES = ("plain", "dusk", "gain_flicker", "passers", "low_bitrate", "static", "ir_switch",
              "night_noise", "rain", "snow", "wind_shake", "headlights", "close_person",
              "vehicle", "periodic")


def healthy_cases(m: _Maker) -> list[Case]:
    """Nothing wrong: every scene plainly, then the harmless look-alikes, 8 each."""
    r = m.rng
    out = []
    for sc in ALL:
        out.append(m.make("healthy", None, 0.0, "none", sc, None, None, None,
                          {"lookalike": "plain"}, duration=float(r.uniform(60, 120))))
    for look in LOOKALIKES[1:]:
        pool = {"dusk": OUTDOOR_DAY, "rain": OUTDOOR_DAY + ("street_night", "bikes_night"),
                "snow": OUTDOOR_DAY + ("garden_ir", "tree_ir"), "wind_shake": OUTDOOR_DAY,
                "night_noise": NIGHT, "headlights": ("street_night", "bikes_night",
                                                     "field_night", "garden_ir"),
                "static": STILL, "periodic": PERIODIC, "ir_switch": DAY,
                "vehicle": ("street", "bikes", "field", "street_night", "garden"),
                }.get(look, ALL)
        for i in range(8):
            sc = _pick(r, pool, i)
            dur = float(round(r.uniform(60, 120)))
            kw: dict = {}
            params: dict = {"lookalike": look}
            ev: dict = {}
            if look == "dusk":
                ev["dusk"] = float(r.uniform(0.4, 0.8))
            elif look == "gain_flicker":
                ev["flicker"] = float(r.uniform(0.08, 0.25))
            elif look == "passers":
                kw["busy"] = float(r.uniform(15, 45))
            elif look == "low_bitrate":
                kw["jpeg_q"] = int(r.uniform(10, 25))
                params["kbps"] = int(r.uniform(120, 300))
            elif look == "static":
                kw.update(busy=0.0, noise_sd=float(r.uniform(0.5, 1.2)), shake=0.0)
            elif look == "ir_switch":
                ev["ir_switch"] = float(r.uniform(20, 40))
            elif look == "night_noise":
                kw["noise_sd"] = float(r.uniform(8, 13))
            elif look in ("rain", "snow"):
                ev.update(weather=look, wx=float(r.uniform(0.5, 1.5)))
            elif look == "wind_shake":
                kw["shake"] = float(r.uniform(3, 6))
            elif look == "headlights":
                ev.update(vehicles=sorted(r.uniform(5, dur - 5, int(r.integers(3, 8)))
                                          .tolist()), headlights=True, vsize=0.4)
            elif look == "close_person":
                ev["close_person"] = float(r.uniform(20, dur - 10))
            elif look == "vehicle":
                ev.update(vehicles=sorted(r.uniform(10, dur - 5, int(r.integers(1, 4)))
                                          .tolist()), vsize=float(r.uniform(0.5, 0.95)))
            kw["events"] = ev
            params.update({k: (round(v, 2) if isinstance(v, float) else v)
                           for k, v in ev.items() if k != "vehicles"})
            out.append(m.make("healthy", None, 0.0, "none", sc, None, None, None, params,
                              cam_kw=kw, duration=dur))
    return out


LONG_SCENES = DAY


def long_cases(seed: int, n_cameras: int = 42, hours: float = 7.5) -> list[Case]:
    """Healthy cameras over hours (>= 300 camera-hours in all), most crossing dusk or dawn."""
    from .long import H, LongCamera, W

    r = np.random.default_rng(seed + 2000)
    out = []
    for i in range(n_cameras):
        sc = LONG_SCENES[i % len(LONG_SCENES)]
        sunset, sunrise = float(r.uniform(17.0, 20.5)), float(r.uniform(5.0, 7.5))
        # two in three start in the afternoon (through dusk into night), the rest at night
        start = float(r.uniform(13, 19)) if i % 3 else float(r.uniform(0, 4))
        dur = hours * 3600.0
        name = f"long/{sc}/start{start:.1f}h/c{i}"
        cs = case_seed(seed, name)

        def build(sc=sc, dur=dur, cs=cs, start=start, sunset=sunset, sunrise=sunrise):
            return LongCamera(sc, dur, cs, start, sunset, sunrise)

        out.append(Case(name=name, family="healthy", fault=None, strength=0.0,
                        strength_unit="none", scene=sc, night=False, width=W, height=H,
                        duration=dur, onset=None, due=None,
                        params={"start_hour": round(start, 2), "sunset": round(sunset, 2),
                                "sunrise": round(sunrise, 2),
                                "note": "day/dusk/night with IR switch, weather, bit rate"},
                        _build=build))
    return out


def slow_cases(seed: int) -> list[Case]:
    """Slow onsets over 2-8 h, each crossing its threshold at `due`."""
    from . import long as L

    r = np.random.default_rng(seed + 3000)
    out = []
    kinds = ("foliage_growing", "dust", "sag", "focus_creep")
    for i in range(24):
        kind = kinds[i % 4]
        sc = LONG_SCENES[(i * 5) % len(LONG_SCENES)]
        dur = float(round(r.uniform(2, 8) * 3600))
        onset = float(round(dur * r.uniform(0.1, 0.3)))
        due = float(round(onset + (dur - onset) * r.uniform(0.5, 0.8)))
        start = float(r.uniform(6, 12))  # mostly daylight; the long ones run into dusk
        sunset, sunrise = float(r.uniform(17.5, 20.5)), 6.0
        params: dict = {"start_hour": round(start, 2)}
        if kind == "foliage_growing":
            fam, fault, strength, unit = "foliage_growing", "blocked", 0.4, "coverage"
            anchor = str(r.choice(F.ANCHORS))
            params.update(anchor=anchor, threshold="40 % of the view covered at due")
        elif kind == "dust":
            # dust on the window: a veil plus scatter, like condensation: the fog family
            fam, fault, strength, unit = "fog", "blur", 4.0, "radius_px"
            params.update(kind="dust", veil_at_due=0.35,
                          threshold="disc blur 4 px at 320 wide + 35 % veil at due")
        elif kind == "sag":
            fam, fault, strength, unit = "moved", "moved", 5.0, "shift_pct"
            params.update(mode="slow_sag", direction_deg=round(float(r.uniform(60, 120)), 1),
                          threshold="5 % of the view width at due")
        else:
            fam, fault, strength, unit = "focus_creep", "blur", 4.0, "radius_px"
            params.update(threshold="disc blur radius 4 px at 320 wide at due")
        name = f"slow/{kind}/{sc}/{dur / 3600:.1f}h/s{i}"
        cs = case_seed(seed, name)

        def build(kind=kind, sc=sc, dur=dur, cs=cs, start=start, sunset=sunset,
                  sunrise=sunrise, onset=onset, due=due, params=params):
            rng = np.random.default_rng(cs)
            if kind == "foliage_growing":
                # linear growth: 0 at onset, 40 % at due, on to 60 %
                grow = (due - onset) * 1.5
                flt = F.Foliage(L.W, L.H, rng, 0.6, float(rng.uniform(0.75, 1.0)), onset,
                                grow, params["anchor"])
            elif kind == "dust":
                flt = L.DustBuildUp(onset, due, 4.0, 0.35)
            elif kind == "sag":
                flt = L.LinearSag(onset, due, 0.05 * L.W,
                                  math.radians(params["direction_deg"]), 1.5)
            else:
                flt = F.Defocus(4.0 * (dur - onset) / (due - onset), onset, dur - onset)
            return L.LongCamera(sc, dur, cs, start, sunset, sunrise, fault=flt)

        out.append(Case(name=name, family=fam, fault=fault, strength=strength,
                        strength_unit=unit, scene=sc, night=False, width=L.W, height=L.H,
                        duration=dur, onset=onset, due=due, params=params, _build=build))
    return out
