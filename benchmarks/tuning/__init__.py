"""The envelope's TUNING part: fault cases swept over strength on the tuning footage.

    from benchmarks.tuning import cases
    for case in cases("sweep", quick=True):
        picture = case.render(12.0)

Implements the interface in ENVELOPE.md (shared with benchmarks/validation, which renders
other footage with renderers written apart from the detector). Thresholds may be chosen on
these cases; the figures quoted are the validation part's. Building the list is cheap: no
footage is read until a case's `render` is first called.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmarks.tuning.scenes import SCENES

__all__ = ["Case", "cases", "SCENES"]

KINDS = ("sweep", "long", "slow")
RESOLUTIONS = ((704, 576), (640, 360), (1280, 720))
ONSET = 30.0  # s of healthy picture first: the baseline is learned in 6 s, settled by 30
#: Bit rates (kbit/s) an encoded case gets, by resolution: a camera's usual range.
BITRATES = {(704, 576): (500, 1500), (640, 360): (250, 800), (1280, 720): (1000, 3000)}


@dataclass
class Case:
    """One clip of the envelope (benchmarks/ENVELOPE.md, "Case fields", says what each means)."""

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
    _renderer: Any = field(default=None, repr=False, compare=False)

    def render(self, t: float) -> np.ndarray:
        """The picture the camera's ISP hands the encoder at t: BGR uint8 (h, w, 3)."""
        if self._renderer is None:
            from benchmarks.tuning.renderer import LongRenderer, Renderer

            self._renderer = (LongRenderer(self) if self.family == "long_healthy"
                              else Renderer(self))
        return self._renderer(t)


def _rng(seed: int, key: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(f"tuning-params:{seed}:{key}".encode()))


class _Builder:
    """Collects cases; spreads scenes and resolutions over a family's sweep."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.out: list[Case] = []

    def add(self, family: str, fault: str | None, strength: float, unit: str, scene: str,
            k: int, *, onset: float | None = ONSET, ramp: float = 0.0, tail: float = 40.0,
            res: tuple[int, int] | None = None, due: float | None = None,
            params: dict | None = None, tag: str = "", duration: float | None = None) -> Case:
        # Resolution by a hash of the rest of the name: a family's strengths and scenes then
        # spread over all three sizes whatever the grid's step.
        w, h = res or RESOLUTIONS[zlib.crc32(f"{family}{strength}{tag}{scene}{k}".encode())
                                  % len(RESOLUTIONS)]
        name = f"{family}/{unit}{strength:g}{tag}/{scene}/{w}x{h}/s{k}"
        rng = _rng(self.seed, name)
        p = dict(params or {})
        p["_seed"] = self.seed
        if onset is None:
            dur = duration or 90.0
            due_t = None
        else:
            due_t = due if due is not None else onset + ramp
            dur = duration or onset + max(tail, ramp + 30.0)
        case = Case(name, family, fault, float(strength), unit, scene,
                    SCENES[scene].night is not None, w, h, float(dur), onset, due_t,
                    fps=float(rng.choice([10.0, 12.0, 15.0])),
                    gop_s=float(rng.choice([1.0, 2.0, 4.0])),
                    bitrate_kbps=int(rng.uniform(*BITRATES.get((w, h), (300, 1000)))),
                    codec=str(rng.choice(["h264", "h265"], p=[0.7, 0.3])), params=p)
        self.out.append(case)
        return case


def _pick(rng: np.random.Generator, xs: list[str]) -> str:
    return str(xs[int(rng.integers(len(xs)))])


DAY_OUT = ["street_video", "hotel_facade", "graffiti_wall", "city_view", "palace_sky"]
INDOOR = ["desk_still", "shelf_boxes", "lab_chessboard"]
NIGHT = ["street_video_night", "old_lane_ir", "bookshelf_night", "coast_view_ir"]
ALL = list(SCENES)
PLAIN = [s for s, v in SCENES.items() if v.plain]
PERIODIC = [s for s, v in SCENES.items() if v.periodic]
STILL = [s for s, v in SCENES.items() if v.walkers == 0 and "video" not in s]
BUSY = ["street_video", "street_video_night", "hotel_facade", "graffiti_wall", "old_lane_ir"]


def _directions(rng: np.random.Generator) -> list[float]:
    from benchmarks import render as R

    return list(R.edge_direction(rng))


def _sweep(b: _Builder, quick: bool) -> None:
    seed = b.seed
    r = _rng(seed, "sweep")
    scenes_cycle = ALL * 10

    def sc(i: int, pool: list[str] | None = None) -> str:
        pool = pool or scenes_cycle
        return pool[(i * 7 + int(r.integers(0, 3))) % len(pool)]

    def grid(xs: list[float], n_quick: int = 3) -> list[float]:
        if not quick:
            return xs
        idx = np.linspace(0, len(xs) - 1, n_quick).round().astype(int)
        return [xs[i] for i in idx]

    reps = 1 if quick else 4
    i = 0
    for cov in grid([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.85, 1.0]):
        for _rep in range(reps):
            i += 1
            q = _rng(seed, f"foliage{i}")
            b.add("foliage", "blocked", cov, "coverage", sc(i), i, params={
                "opacity": round(float(q.uniform(0.6, 1.0)), 2),
                "blur_lr": round(float(q.uniform(2.5, 5.0)), 2),
                "sway_lr": round(float(q.uniform(0.5, 4.0)), 2), "from": _directions(q)})
    for cov in grid([0.3, 0.5, 0.7, 0.9]):
        for grow in ([20.0] if quick else [0.0, 10.0, 20.0, 40.0]):
            i += 1
            q = _rng(seed, f"grow{i}")
            b.add("foliage_growing", "blocked", cov, "coverage", sc(i), i, ramp=grow,
                  tag=f"/grow{grow:g}", params={
                      "opacity": round(float(q.uniform(0.7, 1.0)), 2), "grow_s": grow,
                      "blur_lr": round(float(q.uniform(2.5, 5.0)), 2),
                      "sway_lr": round(float(q.uniform(0.5, 3.0)), 2), "from": _directions(q)})
    for op in grid([0.3, 0.4, 0.5, 0.6]):
        for _rep in range(reps):
            i += 1
            q = _rng(seed, f"transl{i}")
            b.add("foliage_translucent", "blocked", op, "opacity", sc(i, DAY_OUT + INDOOR), i,
                  params={"coverage": round(float(q.uniform(0.5, 0.95)), 2), "opacity": op,
                          "blur_lr": round(float(q.uniform(2.5, 5.0)), 2),
                          "sway_lr": round(float(q.uniform(0.5, 3.0)), 2),
                          "from": _directions(q)})
    for frac in grid([0.15, 0.25, 0.35, 0.5]):
        for _rep in range(reps):
            i += 1
            q = _rng(seed, f"smudge{i}")
            b.add("smudge", "blocked", frac, "coverage", sc(i), i, params={
                "sigma_px": round(float(q.uniform(6, 16)), 1),
                "veil": round(float(q.uniform(0.3, 0.7)), 2),
                "build_s": round(float(q.uniform(0.5, 5)), 1)})
    for rad in grid([1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 9.0, 12.0]):
        for _rep in range(max(1, reps - 1)):
            i += 1
            q = _rng(seed, f"defocus{i}")
            b.add("defocus", "blur", rad, "radius_px", sc(i), i,
                  params={"ramp_s": round(float(q.uniform(0, 3)), 1)})
    for ln in grid([3.0, 5.0, 8.0, 12.0, 20.0, 30.0]):
        for _rep in range(max(1, reps - 1)):
            i += 1
            q = _rng(seed, f"mblur{i}")
            b.add("motion_blur", "blur", ln, "smear_px", sc(i), i,
                  params={"ramp_s": round(float(q.uniform(0, 3)), 1)})
    for den in grid([0.1, 0.2, 0.3, 0.45, 0.6, 0.8]):
        for _rep in range(max(1, reps - 1)):
            i += 1
            q = _rng(seed, f"fog{i}")
            b.add("fog", "blur", den, "haze", sc(i), i, ramp=8.0, params={
                "sigma_px": round(float(q.uniform(1.5, 6)), 1),
                "glow": round(float(q.uniform(0.3, 1.0)), 2), "build_s": 8.0})
    for rad in grid([3.0, 6.0, 10.0]):
        for ramp_s in ([40.0] if quick else [20.0, 40.0, 60.0]):
            i += 1
            b.add("focus_creep", "blur", rad, "radius_px", sc(i), i, ramp=ramp_s,
                  tag=f"/ramp{ramp_s:g}", params={"ramp_s": ramp_s})
    kinds = ["rolling_bars", "diagonal_stripes", "moire", "fine_lines"]
    for amp in grid([2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 20.0, 30.0]):
        for kk, kind in enumerate(kinds[:1] if quick else kinds):
            i += 1
            b.add("ripple", "ripple", amp, "grey_levels", sc(i + kk, PLAIN + INDOOR), i,
                  tag=f"/{kind}", params={"kind": kind})
    for amp in grid([2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 20.0, 30.0]):
        for kk, kind in enumerate(kinds[1:2] if quick else kinds[:3]):
            i += 1
            b.add("ripple_periodic", "ripple", amp, "grey_levels", sc(i + kk, PERIODIC), i,
                  tag=f"/{kind}", params={"kind": kind})
    for level in grid([0.01, 0.03, 0.06, 0.1, 0.15, 0.25]):
        for mode in ("lights_out", "ir_fail"):
            for ramp_s in ([5.0] if quick else [0.0, 20.0, 60.0]):
                i += 1
                q = _rng(seed, f"dark{i}")
                pool = (["old_lane_ir", "coast_view_ir"] if mode == "ir_fail"
                        else DAY_OUT + INDOOR + ["street_video_night", "bookshelf_night"])
                b.add("dark", "dark", level, "level", sc(i, pool), i, ramp=ramp_s,
                      tag=f"/{mode}/ramp{ramp_s:g}", params={
                          "mode": mode, "ramp_s": ramp_s,
                          "noise_mult": round(float(q.uniform(1.5, 4.0)), 2)})
    for how, ramp_s in (("bump", 0.0), ("pan", 4.0)):
        for pct in grid([2.0, 3.0, 5.0, 8.0, 12.0, 15.0]):
            i += 1
            q = _rng(seed, f"moved{i}")
            ang = float(q.uniform(0, 2 * np.pi))
            b.add("moved", "moved", pct, "shift_pct", sc(i), i, ramp=ramp_s, tag=f"/{how}",
                  params={"how": how, "ramp_s": ramp_s, "deg": 0.0,
                          "dx": round(pct / 100 * np.cos(ang), 4),
                          "dy": round(pct / 100 * np.sin(ang), 4)})
        for deg in grid([1.0, 2.0, 3.0, 5.0, 7.0, 10.0]):
            i += 1
            q = _rng(seed, f"rot{i}")
            b.add("moved", "moved", deg, "deg", sc(i), i, ramp=ramp_s, tag=f"/{how}",
                  params={"how": how, "ramp_s": ramp_s, "dx": 0.0, "dy": 0.0,
                          "deg": float(deg * q.choice([-1, 1]))})
    for pct in ([5.0] if quick else [3.0, 5.0, 8.0, 12.0]):
        i += 1
        q = _rng(seed, f"sag{i}")
        b.add("moved", "moved", pct, "shift_pct", sc(i, STILL), i, ramp=180.0, tag="/sag",
              params={"how": "sag", "ramp_s": 180.0, "dx": 0.0, "dy": pct / 100,
                      "deg": round(float(q.uniform(-2, 2)), 2)})
    for sigma in grid([0.5, 1.0, 2.0, 4.0]):
        for _rep in range(1 if quick else 2):
            i += 1
            b.add("frozen_busy", "frozen", sigma, "noise_sigma", sc(i, BUSY), i)
            i += 1
            b.add("frozen_still", "frozen", sigma, "noise_sigma", sc(i, STILL), i)
    looks = ["clean", "dusk", "gain_flicker", "person_close", "ir_switch", "rain", "snow",
             "headlights", "vehicle", "night_noise", "wind_shake", "static", "low_bitrate",
             "periodic"]
    for j, what in enumerate(looks[:5] if quick else looks):
        for _rep in range(1 if quick else 3):
            i += 1
            q = _rng(seed, f"healthy{i}")
            pool = {"headlights": NIGHT, "night_noise": NIGHT, "ir_switch": DAY_OUT,
                    "static": STILL, "periodic": PERIODIC, "dusk": DAY_OUT + INDOOR}.get(what)
            scene = ALL[(i + j) % len(ALL)] if what == "clean" and not quick else sc(i, pool)
            params: dict[str, Any] = {"what": what}
            if what == "wind_shake":
                params.update(wind_px=round(float(q.uniform(0.5, 2.0)), 2),
                              wind_hz=round(float(q.uniform(0.3, 1.5)), 2))
            c = b.add("healthy", None, 0.0, "none", scene, i, onset=None, tag=f"/{what}",
                      params=params, duration=60.0 if quick else 100.0)
            if what == "low_bitrate":
                c.encode = True
                c.bitrate_kbps = int(c.bitrate_kbps * 0.25)
    if not quick:
        for scene in ALL:  # every scene once healthy and plain, for the per-scene false alerts
            i += 1
            b.add("healthy", None, 0.0, "none", scene, i, onset=None, tag="/clean",
                  duration=120.0)
    _mark_encoded(b.out, per_family=1 if quick else 3)


def _mark_encoded(out: list[Case], per_family: int) -> None:
    """Encode a few cases per family as real clips (spread over its strengths), so the
    codec's effect is measured beside the rendered samples."""
    fams: dict[str, list[Case]] = {}
    for c in out:
        fams.setdefault(c.family, []).append(c)
    for group in fams.values():
        group = sorted(group, key=lambda c: (c.strength, c.name))
        n = len(group)
        for j in range(per_family):
            group[int((j + 0.5) * n / per_family) % n].encode = True


def _long(b: _Builder, quick: bool) -> None:
    n, hours = (4, 0.5) if quick else (40, 7.5)
    scenes = [s for s in ALL]
    for k in range(n):
        q = _rng(b.seed, f"long{k}")
        b.add("long_healthy", None, 0.0, "none", scenes[k % len(scenes)], k, onset=None,
              res=(320, 192), duration=hours * 3600, tag=f"/cam{k}", params={
                  "start_hour": round(float(q.uniform(0, 24)), 2),
                  "ir": bool(q.random() < 0.7)})


def _slow(b: _Builder, quick: bool) -> None:
    families = [("foliage_growing", "blocked", 0.6, "coverage"),
                ("dust", "blur", 0.5, "veil"),
                ("sag", "moved", 6.0, "shift_pct"),
                ("focus_creep", "blur", 5.0, "radius_px")]
    ramps_h = [2.0] if quick else [2.0, 4.0, 6.0]
    scenes = [s for s in ALL if s not in ("street_video_night",)]
    i = 0
    for fam, fault, strength, unit in families:
        for ramp_h in ramps_h:
            i += 1
            q = _rng(b.seed, f"slow{i}")
            onset = 1800.0 if not quick else 600.0
            ramp = ramp_h * 3600
            p: dict[str, Any] = {"ramp_s": ramp}
            if fam == "foliage_growing":
                p.update(opacity=0.9, grow_s=ramp, blur_lr=3.5, sway_lr=1.5,
                         **{"from": _directions(q)})
            elif fam == "dust":
                p.update(sigma_px=round(float(q.uniform(2, 4)), 1), contrast=0.6)
            elif fam == "sag":
                ang = float(q.uniform(0.3, 1.2))
                p.update(dx=round(strength / 100 * np.cos(ang), 4),
                         dy=round(strength / 100 * np.sin(ang), 4),
                         deg=round(float(q.uniform(-2, 2)), 2))
            b.add(fam, fault, strength, unit, scenes[(i * 5) % len(scenes)], i, onset=onset,
                  ramp=ramp, res=(320, 192), tag=f"/slow{ramp_h:g}h", params=p,
                  duration=onset + ramp + (1800.0 if quick else 3600.0))


def cases(kind: str, quick: bool = False, seed: int = 0) -> list[Case]:
    """The tuning part's cases of `kind` ("sweep", "long" or "slow"); cheap to call."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    b = _Builder(seed)
    {"sweep": _sweep, "long": _long, "slow": _slow}[kind](b, quick)
    names = [c.name for c in b.out]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise AssertionError(f"duplicate case names: {dup[:3]}")
    return b.out
