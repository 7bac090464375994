"""Build the labelled lenswatch accuracy set (H.264 clips + labels.json).

    python -m benchmarks.make_dataset --out benchmarks/data/accuracy [--quick] [--jobs 2]

Footage is real surveillance video and photos from Debian's `opencv-doc` package, fetched into
a cache directory (default benchmarks/data/, gitignored) on first use; nothing generated is ever
committed. Faults and harmless look-alikes are rendered on top (see render.py and DATASET.md).
Every clip has its own seed derived from the master seed and the clip name, so a clip renders
identically whether it is built alone, in `--quick` or in the full set.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing as mp
import resource
import subprocess
import sys
import tarfile
import time
import zlib
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from tqdm import tqdm

from benchmarks import render as R

FPS = 10
DURATION_S = 60.0
GENERATOR_VERSION = 1
DEFAULT_SEED = 20261127
DATA_SUBDIR = "usr/share/doc/opencv-doc/examples/data"
VIDEO = "vtest.avi"
#: Photos used as static scenes: outdoor views and indoor rooms a camera could watch.
PHOTOS = ["building.jpg", "leuvenA.jpg", "home.jpg", "aero1.jpg", "aero3.jpg", "stuff.jpg",
          "right.jpg", "box_in_scene.png", "graf1.png"]
#: Photos large enough to fill 1280x720 without looking obviously upscaled.
BIG_PHOTOS = ["building.jpg", "leuvenA.jpg", "graf1.png"]
EXTRA_PHOTOS = ["left01.jpg"]  # a chessboard: periodic texture negative
NEEDED = [VIDEO, *PHOTOS, *EXTRA_PHOTOS]

RESOLUTIONS: dict[str, tuple[int, int]] = {
    "704x576": (704, 576),  # D1 (PAL), the classic DVR/NVR channel size
    "640x360": (640, 360),  # typical sub-stream
    "1280x720": (1280, 720),  # 720p main stream
}

STRENGTHS = ("faint", "medium", "strong")

cv2.setNumThreads(1)  # keep CPU accounting honest on a shared 2-core machine


# ------------------------------------------------------------------------------------------
# sources


def fetch_sources(cache: Path) -> Path:
    """Return the opencv-doc examples/data dir, downloading the .deb once if needed.

    `apt-get download` needs no root and no install; only the few files used are extracted,
    and the .deb is deleted afterwards so the cache stays ~20 MB.
    """
    data = cache / "opencv-doc" / DATA_SUBDIR
    if all((data / n).exists() for n in NEEDED):
        return data
    cache.mkdir(parents=True, exist_ok=True)
    debs = sorted(cache.glob("opencv-doc_*.deb"))
    if not debs:
        print("fetching opencv-doc with apt-get download ...", file=sys.stderr)
        try:
            subprocess.run(["apt-get", "download", "opencv-doc"], cwd=cache, check=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            raise SystemExit(
                f"could not download opencv-doc ({exc}); run `apt-get update` first, or pass "
                "--sources DIR pointing at an extracted usr/share/doc/opencv-doc/examples/data"
            ) from exc
        debs = sorted(cache.glob("opencv-doc_*.deb"))
    wanted = {f"./{DATA_SUBDIR}/{n}" for n in NEEDED}
    dest = cache / "opencv-doc"
    with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(debs[-1])],
                          stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                if member.name in wanted and member.isfile():
                    tar.extract(member, dest, filter="data")
    missing = [n for n in NEEDED if not (data / n).exists()]
    if missing:
        raise SystemExit(f"opencv-doc package lacks {missing}")
    for deb in debs:
        deb.unlink()
    return data


def load_video(path: Path) -> list[np.ndarray]:
    """Decode the whole source video once (795 frames, ~1 GB) so clips can share it."""
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]


# ------------------------------------------------------------------------------------------
# clip specifications


@dataclass
class ClipSpec:
    """What one clip shows; everything else is drawn from `seed` at render time."""

    name: str
    fault: str | None
    kind: str
    strength: str | None
    source: str  # "vtest.avi", a photo file name, or "synthetic:<what>"
    resolution: str
    gop_s: float
    crf: int
    seed: int
    onset: float | None = None
    osd: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def key(self) -> str:
        """Content hash: a clip is re-rendered only when its spec or the generator changed."""
        code = b"".join(p.read_bytes() for p in sorted(Path(__file__).parent.glob("*.py"))
                        if p.name in ("render.py", "make_dataset.py"))
        blob = json.dumps(asdict(self), sort_keys=True).encode() + code
        return hashlib.sha256(blob).hexdigest()[:16]


def _clip_seed(master: int, name: str) -> int:
    return zlib.crc32(f"{master}:{name}".encode()) & 0x7FFFFFFF


def build_specs(master_seed: int) -> list[ClipSpec]:
    """The full set, in a fixed order (the --quick subset is every 4th clip of each group)."""
    rng = np.random.default_rng(master_seed)
    rows: list[tuple[str | None, str, str | None, str]] = []  # fault, kind, strength, source
    vt = VIDEO

    def photo() -> str:
        return str(rng.choice(PHOTOS))

    for kind, strength, src in [
        ("leaves", "faint", vt), ("leaves", "medium", "photo"), ("leaves", "strong", vt),
        ("hand", "faint", vt), ("hand", "medium", "photo"), ("hand", "strong", vt),
        ("cloth", "medium", vt), ("cloth", "strong", "photo"),
        ("lens_cap", "strong", vt), ("lens_cap", "strong", "photo"),
        ("spray_paint", "faint", vt), ("spray_paint", "strong", "photo"),
    ]:
        rows.append(("blocked", kind, strength, src))
    for kind, strength, src in [
        ("defocus", "faint", vt), ("defocus", "medium", "photo"), ("defocus", "strong", vt),
        ("defocus", "medium", vt),
        ("defocus_gaussian", "medium", "photo"), ("defocus_gaussian", "strong", vt),
        ("dirty_lens", "faint", vt), ("dirty_lens", "medium", "photo"),
        ("dirty_lens", "strong", vt),
        ("fogged", "faint", "photo"), ("fogged", "medium", vt), ("fogged", "strong", vt),
    ]:
        rows.append(("blur", kind, strength, src))
    for kind in ("rolling_bars", "diagonal_stripes", "moire", "fine_lines"):
        for strength in STRENGTHS:
            src = "photo" if (kind, strength) in {("rolling_bars", "medium"),
                                                   ("diagonal_stripes", "faint"),
                                                   ("moire", "strong"),
                                                   ("fine_lines", "medium")} else vt
            rows.append(("ripple", kind, strength, src))
    # Frozen "strength" is how much the picture moved before it stopped (static = hardest).
    for kind, strength, src in [
        ("freeze", "strong", vt), ("freeze", "strong", vt), ("freeze", "strong", vt),
        ("freeze", "strong", vt), ("freeze", "strong", vt),
        ("freeze_static", "faint", "photo"), ("freeze_static", "faint", "photo"),
        ("freeze_static", "faint", "photo"),
        ("freeze_osd_ticking", "medium", vt), ("freeze_osd_ticking", "medium", "photo"),
    ]:
        rows.append(("frozen", kind, strength, src))
    for kind, src in [
        ("walker_close", vt), ("walker_close", vt), ("walker_close", "photo"),
        ("night_dimming", vt), ("night_dimming", "photo"), ("night_dimming", "photo"),
        ("ir_switch", vt), ("ir_switch", "photo"), ("ir_switch", vt),
        ("gain_flicker", vt), ("gain_flicker", "photo"), ("gain_flicker", vt),
        ("rain", vt), ("rain", "photo"), ("rain", "photo"),
        ("low_bitrate", vt), ("low_bitrate", vt), ("low_bitrate", "photo"),
        ("static_scene", "building.jpg"), ("static_scene", "stuff.jpg"),
        ("static_scene", "aero1.jpg"), ("static_scene", "right.jpg"),
        ("car_park_night", "synthetic:car_park"), ("car_park_night", "synthetic:car_park"),
        ("chainlink_fence", vt), ("palisade_fence", "photo"), ("window_blinds", "photo"),
        ("tiled_facade", "building.jpg"), ("tiles", "synthetic:tiles"),
        ("chessboard", "left01.jpg"),
        ("plain_wall", "synthetic:plain_wall"), ("plain_wall", "synthetic:plain_wall_features"),
        ("healthy", vt),
    ]:
        rows.append((None, kind, None, src))

    n = len(rows)
    # 720p is the dearest to render and encode, so only a handful (CPU budget ~5 min).
    res_pool = (["704x576"] * round(0.46 * n) + ["640x360"] * round(0.46 * n)
                + ["1280x720"] * n)[:n]
    gop_pool = ([1.0] * round(0.1 * n) + [10.0] * round(0.1 * n) + [2.0] * n)[:n]
    res_list = list(rng.permutation(res_pool))
    gop_list = list(rng.permutation(gop_pool))
    low_crf = {("blocked", "leaves", "medium"), ("blur", "defocus", "strong"),
               ("ripple", "rolling_bars", "strong")}
    counts: dict[str, int] = {}
    specs = []
    for i, (fault, kind, strength, src) in enumerate(rows):
        res = str(res_list[i])
        if src == "photo":
            src = str(rng.choice(BIG_PHOTOS)) if res == "1280x720" else photo()
        if res == "1280x720" and (src in PHOTOS + EXTRA_PHOTOS and src not in BIG_PHOTOS
                                  or kind == "tiled_facade"):
            res = "704x576"  # a small photo blown up to 720p would look defocused
        stem = f"{fault or 'neg'}_{kind}" + (f"_{strength}" if strength else "")
        counts[stem] = counts.get(stem, 0) + 1
        name = f"{stem}_{counts[stem]:02d}"
        crf = int(rng.integers(21, 29))
        if (fault, kind, strength) in low_crf:
            crf = int(rng.integers(38, 41))
        if kind == "low_bitrate":
            crf = int(rng.integers(40, 46))
        onset = None
        if fault is not None:
            onset = int(rng.integers(20 * FPS, 30 * FPS + 1)) / FPS
        osd = kind == "freeze_osd_ticking" or (kind != "freeze" and kind != "freeze_static"
                                               and rng.random() < 0.2)
        specs.append(ClipSpec(name=name, fault=fault, kind=kind, strength=strength, source=src,
                              resolution=res, gop_s=float(gop_list[i]), crf=crf,
                              seed=_clip_seed(master_seed, name), onset=onset, osd=osd))
    return specs


def quick_subset(specs: list[ClipSpec]) -> list[ClipSpec]:
    """Every 4th clip of each class (blocked, blur, ripple, frozen, negatives)."""
    out: list[ClipSpec] = []
    for group in ("blocked", "blur", "ripple", "frozen", None):
        members = [s for s in specs if s.fault == group]
        out.extend(members[::4])
    return out


# ------------------------------------------------------------------------------------------
# rendering


_VIDEO_FRAMES: list[np.ndarray] = []
_SOURCE_DIR = Path()


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _scene(spec: ClipSpec, w: int, h: int, rng: np.random.Generator,
           n_frames: int) -> tuple[Any, float, float, dict[str, Any]]:
    """Build the scene; returns (scene, base noise sigma, illumination drift amplitude, info)."""
    info: dict[str, Any] = {}
    if spec.source == VIDEO:
        frames = _VIDEO_FRAMES
        start = int(rng.integers(0, len(frames) - n_frames + 1))
        mirror = bool(rng.random() < 0.5)
        info.update(video_start_s=start / FPS, mirrored=mirror)
        # vtest already carries real sensor noise and compression; add only a little.
        return R.VideoScene(frames, w, h, start, mirror, rng), _u(rng, 0.8, 1.6), 0.0, info
    if spec.source.startswith("synthetic:"):
        what = spec.source.split(":", 1)[1]
        if what == "car_park":
            img = R.synth_car_park(w, h, rng)
            sigma = _u(rng, 4.0, 6.0)
        elif what == "tiles":
            img = R.synth_tiles(w, h, rng)
            sigma = _u(rng, 1.5, 3.0)
        else:
            img = R.synth_plain_wall(w, h, rng, features=what.endswith("features"))
            sigma = _u(rng, 1.5, 3.0)
    else:
        photo = cv2.imread(str(_SOURCE_DIR / spec.source), cv2.IMREAD_COLOR)
        if photo is None:
            raise SystemExit(f"cannot read {spec.source}")
        if spec.kind == "tiled_facade":
            ph, pw = photo.shape[:2]
            photo = photo[int(0.05 * ph):int(0.6 * ph), int(0.2 * pw):int(0.95 * pw)]
        zoom = 1.0 if spec.kind in ("tiled_facade", "chessboard") else _u(rng, 1.0, 1.25)
        img = R.fit_cover(photo, w, h, rng, zoom)
        if spec.kind == "palisade_fence":
            img = R.overlay_palisade(img, rng)
        elif spec.kind == "window_blinds":
            img = R.overlay_blinds(img, rng)
        sigma = _u(rng, 1.5, 4.0)
    pan = _u(rng, 0.0, 1.0)
    jitter = _u(rng, 0.05, 0.25) if rng.random() < 0.25 else 0.0
    info.update(pan_px=round(pan, 2), jitter_px=round(jitter, 2))
    scene = R.StillScene(img, pan, _u(rng, 20, 90), jitter, rng)
    return scene, sigma, _u(rng, 0.015, 0.05), info


def _fault_effects(spec: ClipSpec, w: int, h: int, rng: np.random.Generator,
                   info: dict[str, Any]) -> tuple[list[R.Effect], list[R.Effect]]:
    """(optical, electrical) effects for a fault clip, strength-scaled."""
    assert spec.onset is not None
    t0, k, s = spec.onset, w / 704, spec.strength
    si = STRENGTHS.index(s) if s in STRENGTHS else 2
    optical: list[R.Effect] = []
    electrical: list[R.Effect] = []
    if spec.fault == "blocked":
        cov = [(0.40, 0.55), (0.60, 0.80), (0.85, 1.0)][si]
        coverage = 1.0 if spec.kind == "lens_cap" else _u(rng, *cov)
        ae = _u(rng, 0.0, 1.5)
        direction = R.edge_direction(rng)
        info.update(coverage=round(coverage, 2), auto_gain=round(ae, 2),
                    from_direction=[round(direction[0], 2), round(direction[1], 2)])
        if spec.kind == "leaves":
            arrive = _u(rng, 1.0, 5.0) if rng.random() < 0.7 else 0.3
            optical.append(R.Leaves(w, h, t0, arrive, _u(rng, 2.5, 5.0), rng, coverage, ae,
                                    _u(rng, 1.0, 4.0), direction))
        elif spec.kind == "hand":
            optical.append(R.Hand(w, h, t0, _u(rng, 0.5, 1.5), _u(rng, 5.0, 8.0), rng,
                                  coverage, ae, _u(rng, 0.5, 1.5), direction))
        elif spec.kind == "cloth":
            optical.append(R.Cloth(w, h, t0, _u(rng, 1.0, 2.5), _u(rng, 3.0, 6.0), rng,
                                   coverage, ae, _u(rng, 0.3, 1.2), direction))
        elif spec.kind == "lens_cap":
            optical.append(R.LensCap(w, h, t0, _u(rng, 0.3, 0.6), 2.0, rng, 1.0,
                                     _u(rng, 0.5, 2.0), 0.0, direction))
        elif spec.kind == "spray_paint":
            opacity = _u(rng, *[(0.5, 0.62), (0.7, 0.8), (0.88, 0.97)][si])
            coverage = _u(rng, 0.7, 1.0)
            spray = R.SprayPaint(w, h, t0, rng, opacity, coverage, _u(rng, 2.0, 5.0),
                                 allow_light=s != "faint")
            info.update(coverage=round(coverage, 2), opacity=round(opacity, 2),
                        color=spray.color_name)
            optical.append(spray)
    elif spec.fault == "blur":
        if spec.kind.startswith("defocus"):
            r = _u(rng, *[(2.5, 3.5), (4.5, 6.5), (9.0, 14.0)][si]) * k
            ramp_s = _u(rng, 0.0, 3.0)
            info.update(radius_px=round(r, 2), ramp_s=round(ramp_s, 2))
            optical.append(R.Defocus(t0, r, ramp_s, gaussian=spec.kind.endswith("gaussian")))
        elif spec.kind == "dirty_lens":
            sig, veil, con = [(1.5, 0.25, 0.85), (2.5, 0.4, 0.7), (4.0, 0.55, 0.55)][si]
            build = _u(rng, 0.5, 6.0)
            info.update(sigma_px=round(sig * k, 2), veil=veil, contrast=con)
            optical.append(R.DirtyLens(w, h, t0, rng, sig * k, veil, con, build))
        elif spec.kind == "fogged":
            sig, haze, glow = [(2.0, 0.3, 0.4), (3.5, 0.5, 0.7), (6.0, 0.7, 1.0)][si]
            build = _u(rng, 5.0, 12.0)
            info.update(sigma_px=round(sig * k, 2), haze=haze, build_s=round(build, 1))
            optical.append(R.Fog(t0, sig * k, haze, glow, build))
    elif spec.fault == "ripple":
        amp = _u(rng, *[(4.0, 6.0), (10.0, 16.0), (20.0, 40.0)][si])
        rip = R.Ripple(w, h, t0, rng, spec.kind, amp)
        info.update(amplitude=round(amp, 1), **rip.describe())
        electrical.append(rip)
    return optical, electrical


def _negative_effects(spec: ClipSpec, w: int, h: int, rng: np.random.Generator,
                      info: dict[str, Any]) -> list[R.Effect]:
    """Optical/sensor modifiers for a negative (no-fault) clip."""
    kind = spec.kind
    if kind == "walker_close":
        n = int(rng.integers(1, 4))
        starts = [_u(rng, 22, 40)] + [_u(rng, 3, 52) for _ in range(n - 1)]
        passes = []
        for st in sorted(starts):
            if passes and st < passes[-1][0] + 8:
                continue
            passes.append((round(st, 1), round(_u(rng, 0.0, 3.0), 1),
                           float(rng.choice([-1.0, 1.0]))))
        cov = _u(rng, 0.5, 0.9)
        info.update(passes=[[p[0], round(p[1] + 2.0, 1)] for p in passes],
                    peak_coverage=round(cov, 2))
        return [R.Walker(w, h, passes, rng, cov)]
    if kind == "night_dimming":
        t0, level, dur = _u(rng, 15, 35), _u(rng, 0.15, 0.25), _u(rng, 8, 12)
        info.update(start_s=round(t0, 1), level=round(level, 2), dur_s=round(dur, 1))
        return [R.NightDimming(t0, level, dur, _u(rng, 2.0, 3.0))]
    if kind == "ir_switch":
        t0 = _u(rng, 20, 40)
        info.update(switch_s=round(t0, 1))
        return [R.IrSwitch(w, h, t0, rng)]
    if kind == "gain_flicker":
        n = int(rng.integers(3, 6))
        starts = np.sort(rng.uniform(5, 55, n))
        starts[-2:] = np.maximum(starts[-2:], [30.0, 45.0])
        events = []
        for st in starts:
            f = _u(rng, 1.3, 1.8) if rng.random() < 0.6 else _u(rng, 0.5, 0.7)
            events.append((round(float(st), 1), round(_u(rng, 0.5, 1.0), 2), round(f, 2)))
        info.update(flickers=events)
        return [R.GainFlicker(events)]
    if kind == "rain":
        t0 = 0.0 if rng.random() < 0.33 else _u(rng, 10, 30)
        info.update(start_s=round(t0, 1))
        return [R.Rain(w, h, t0, rng, _u(rng, 150, 400))]
    if kind == "chainlink_fence":
        a, c = R.chainlink_layers(w, h, rng)
        return [R.FixedOverlay(a, c)]
    return []


def render_clip(spec: ClipSpec, out_dir: Path, preset: str) -> dict[str, Any]:
    """Render and encode one clip; returns its labels.json entry."""
    w, h = RESOLUTIONS[spec.resolution]
    rng = np.random.default_rng(spec.seed)
    n_frames = int(round(DURATION_S * FPS))
    scene, sigma, drift, info = _scene(spec, w, h, rng, n_frames)
    info.update(noise_sigma=round(sigma, 2), illumination_drift=round(drift, 3))
    if spec.fault is not None:
        optical, electrical = _fault_effects(spec, w, h, rng, info)
    else:
        optical, electrical = _negative_effects(spec, w, h, rng, info), []
    drift_period, drift_phase = _u(rng, 30, 120), _u(rng, 0, 2 * math.pi)
    noise = R.NoiseBank(w, h, rng)
    osd = R.Osd(w, h, rng, f"CAM{int(rng.integers(1, 64)):02d}") if spec.osd else None
    freeze_at = (int(round(spec.onset * FPS))
                 if spec.fault == "frozen" and spec.onset is not None else None)
    frozen: np.ndarray | None = None

    path = out_dir / f"{spec.name}.mp4"
    tmp = path.with_suffix(".tmp.mp4")
    gop = int(round(spec.gop_s * FPS))
    with av.open(str(tmp), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.time_base = Fraction(1, FPS)
        # Fixed GOP and no B-frames, as IP cameras stream; one thread for fair CPU use.
        # Deblocking and adaptive quantisation back on (ultrafast drops them; camera encoders
        # keep them): without AQ, x264 quantises the sensor noise of a still scene away and
        # a live static camera would decode as bit-identical frames, i.e. look frozen.
        stream.options = {
            "crf": str(spec.crf), "preset": preset,
            "x264-params": (f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:threads=1"
                            ":deblock=0,0:aq-mode=1"),
        }
        for i in range(n_frames):
            t = i / FPS
            if frozen is not None:
                out = frozen.copy() if osd is not None else frozen
            else:
                st = R.SensorState(noise=sigma)
                st.gain = 1.0 + drift * math.sin(2 * math.pi * t / drift_period + drift_phase)
                img = scene.frame(i)
                for eff in optical:
                    img = eff(img, t, st)
                if electrical:
                    img = R.apply_sensor(img, st, noise, as_uint8=False)
                    for eff in electrical:
                        img = eff(img, t, st)
                    out = np.clip(img, 0, 255).astype(np.uint8)
                else:
                    out = R.apply_sensor(img, st, noise, as_uint8=True)
                if freeze_at is not None and i == freeze_at:
                    frozen = out.copy()  # from here on the picture stops, noise included
            if osd is not None:
                osd.draw(out, t)
            # BT.601 limited-range I420, the same conversion swscale would do, but cheaper.
            yuv = cv2.cvtColor(out, cv2.COLOR_BGR2YUV_I420)
            frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            frame.pts = i
            frame.time_base = Fraction(1, FPS)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    tmp.replace(path)
    return {
        "file": path.name,
        "fault": spec.fault,
        "onset": spec.onset,
        "kind": spec.kind,
        "strength": spec.strength,
        "resolution": spec.resolution,
        "gop_s": spec.gop_s,
        "source": spec.source,
        "crf": spec.crf,
        "fps": FPS,
        "duration_s": DURATION_S,
        "osd": spec.osd,
        "seed": spec.seed,
        "details": info,
    }


def _worker(args: tuple[ClipSpec, Path, str]) -> tuple[str, dict[str, Any], float]:
    spec, out_dir, preset = args
    t0 = time.process_time()
    label = render_clip(spec, out_dir, preset)
    return spec.key(), label, time.process_time() - t0


def write_sheet(path: Path, clip: Path, label: dict[str, Any]) -> None:
    """A contact sheet of the *encoded* clip around the onset, for eyeballing realism."""
    onset, info = label["onset"], label.get("details", {})
    times = [onset - 5, onset + 2, onset + 8, onset + 20] if onset is not None else [10.0, 55.0]
    if onset is None:
        # Show the negative's own event (the passer-by, the switch, ...) when it has one.
        events = [p[0] + 1.5 for p in info.get("passes", [])]
        events += [f[0] + 0.2 for f in info.get("flickers", [])]
        events += [info[k] + 1.0 for k in ("start_s", "switch_s") if k in info]
        times = sorted(times + (events[:2] if events else [25.0, 40.0]))
    want = {int(round(t * FPS)) for t in times}
    tiles = []
    with av.open(str(clip)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i in want:
                img = f.to_ndarray(format="bgr24")
                img = cv2.resize(img, (480, int(480 * img.shape[0] / img.shape[1])))
                cv2.putText(img, f"t={i / FPS:.1f}", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                            (0, 255, 255), 2)
                tiles.append(img)
    if tiles:
        cv2.imwrite(str(path), np.hstack(tiles))


# ------------------------------------------------------------------------------------------
# CLI


def main(argv: list[str] | None = None) -> int:
    """Build (or refresh) the set; clips whose spec and generator code are unchanged are kept."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("benchmarks/data/accuracy"))
    ap.add_argument("--quick", action="store_true", help="1/4-size subset for smoke runs")
    ap.add_argument("--cache", type=Path, default=Path("benchmarks/data"),
                    help="where the opencv-doc footage is downloaded and kept")
    ap.add_argument("--sources", type=Path, default=None,
                    help="use an already extracted opencv-doc examples/data directory")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--jobs", type=int, default=1, help="parallel encoder processes")
    ap.add_argument("--preset", default="ultrafast",
                    help="x264 preset (deblocking is always on, as in camera encoders)")
    ap.add_argument("--only", default=None, help="render only clips whose name contains this")
    ap.add_argument("--sheets", action="store_true", help="also write contact sheets (PNG)")
    ap.add_argument("--force", action="store_true", help="re-render even unchanged clips")
    args = ap.parse_args(argv)

    global _SOURCE_DIR
    _SOURCE_DIR = args.sources or fetch_sources(args.cache)
    all_specs = build_specs(args.seed)
    if args.quick:
        all_specs = quick_subset(all_specs)
    specs = [s for s in all_specs if not args.only or args.only in s.name]
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    manifest: dict[str, Any] = {}
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
    done: dict[str, dict[str, Any]] = manifest.get("clips", {})
    todo = [s for s in specs if args.force or not (out / f"{s.name}.mp4").exists()
            or done.get(s.name, {}).get("key") != s.key()]

    wall0, cpu0 = time.time(), time.process_time()
    if todo and any(s.source == VIDEO for s in todo):
        _VIDEO_FRAMES.extend(load_video(_SOURCE_DIR / VIDEO))
    for stale_tmp in out.glob("*.tmp.mp4"):
        stale_tmp.unlink()  # left by an interrupted run
    jobs = [(s, out, args.preset) for s in todo]
    bar = tqdm(total=len(jobs), unit="clip", desc="rendering")

    def record(key: str, label: dict[str, Any], cpu: float) -> None:
        # Saved after every clip so an interrupted build resumes where it stopped.
        done[label["file"][:-4]] = {"key": key, "label": label, "cpu_s": round(cpu, 1)}
        manifest["clips"] = done
        manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
        bar.set_postfix_str(label["file"])
        bar.update()

    if args.jobs > 1 and len(jobs) > 1:
        with mp.get_context("fork").Pool(args.jobs) as pool:
            for key, label, cpu in pool.imap_unordered(_worker, jobs):
                record(key, label, cpu)
    else:
        for job in jobs:
            record(*_worker(job))
    bar.close()

    labels = [done[s.name]["label"] for s in all_specs
              if s.name in done and (out / f"{s.name}.mp4").exists()]
    (out / "labels.json").write_text(json.dumps(labels, indent=1) + "\n")
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_total = time.process_time() - cpu0 + kids.ru_utime + kids.ru_stime
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "seed": args.seed,
        "quick": args.quick,
        "clips": {k: v for k, v in done.items() if (out / f"{k}.mp4").exists()},
        "last_run": {"rendered": len(todo), "wall_s": round(time.time() - wall0, 1),
                     "cpu_s": round(cpu_total, 1)},
    }
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    if args.sheets:
        sheets = out / "sheets"
        sheets.mkdir(exist_ok=True)
        chosen = {f"{s.name}.mp4" for s in specs}
        for lab in tqdm([x for x in labels if x["file"] in chosen], desc="sheets", unit="clip"):
            write_sheet(sheets / f"{lab['file'][:-4]}.png", out / lab["file"], lab)
    by_class: dict[str, int] = {}
    for lab in labels:
        by_class[lab["fault"] or "negative"] = by_class.get(lab["fault"] or "negative", 0) + 1
    print(f"{len(labels)} clips in {out} ({len(todo)} rendered): {by_class}; "
          f"wall {time.time() - wall0:.0f} s, CPU {cpu_total:.0f} s")
    stale = [p for p in out.glob("*.mp4") if p.stem not in {s.name for s in all_specs}]
    if stale:
        print(f"note: {len(stale)} clip(s) in {out} are not in this set's labels.json",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
