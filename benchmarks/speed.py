"""Detector speed: what the health check costs next to the video decode it rides on.

    python -m benchmarks.speed [--quick] [--out FILE.md] [--profile]

Why it is built this way: the edge boxes (and this development machine) are shared, so wall
times are noise. Every figure here is process CPU time (time.process_time in this process,
os.wait4's rusage for child processes), every comparison is a RATIO of two things measured in
the same round, rounds interleave all measurements (A B C ... A B C ...), and the table shows
the median over rounds. All measurements run on the SAME frames: H.264 clips rendered from a
textured synthetic scene (tests/clips.py) at four camera resolutions, decoded once for the
detector measurements. OpenCV is pinned to one thread, like the ONNX session, so that every
in-process figure is the cost on one core.

What is measured, per frame:
  decode-key   bare PyAV keyframe-only decode (benchmarks/bare_decode.py: demux all,
               decode keyframes, take the Y plane)
  decode-all   PyAV decode of every frame (first GOPs), for reference
  det b1/b16   pipeline.detect.Detector.run at batch 1 and 16 (uint8 -> float feed included)
  monitor b16  pipeline.monitor.Monitor.process at batch 16 on thumbnails: detector + health
  plain        benchmarks/plain_features.py: the same features in per-frame NumPy/OpenCV
  cam-health   camera-health 0.1.0 `check(frame, previous=...)` on the full-size gray frame
and, in child processes over many files: `lenswatch analyze` vs the bare keyframe decode.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import av
import cv2
import numpy as np

from benchmarks.bare_decode import decode_all, decode_keyframes, iter_keyframes

if TYPE_CHECKING:
    from tqdm import tqdm

    from pipeline.detect import Detector

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "benchmarks" / "data" / "speed"
RESOLUTIONS: tuple[tuple[int, int], ...] = ((1920, 1080), (1280, 720), (704, 576), (640, 360))
CAMERA_HEALTH_RES = ((704, 576), (640, 360))
BATCH = 16          # the agent's detector batch (edge_agent.analyze.DEFAULT_BATCH)
GOP_S = 2.0         # keyframe every 2 s, the usual camera setting
CRF = 26
CLIP_VERSION = 1    # bump when the rendering changes, so cached clips are rebuilt


@dataclass(frozen=True, slots=True)
class Config:
    """How much work one run does; --quick trades precision for a run of about a minute."""

    fps: int
    seconds: int
    rounds: int
    analyze_rounds: int
    copies: int              # files per resolution handed to `lenswatch analyze`
    decode_all_gops: int     # GOPs decoded frame by frame for the decode-all reference
    det_frames: int          # thumbnails per detector measurement


FULL = Config(fps=25, seconds=40, rounds=7, analyze_rounds=5, copies=4, decode_all_gops=2,
              det_frames=64)
QUICK = Config(fps=10, seconds=12, rounds=3, analyze_rounds=3, copies=2, decode_all_gops=1,
               det_frames=32)


def label(res: tuple[int, int]) -> str:
    """A resolution as people write it."""
    return f"{res[0]}x{res[1]}"


# ---- clips ---------------------------------------------------------------------------------

def clip_path(res: tuple[int, int], cfg: Config) -> Path:
    """Cache file for one clip; the name carries every parameter that changes its bytes."""
    return CACHE / f"v{CLIP_VERSION}_{label(res)}_{cfg.fps}fps_{cfg.seconds}s_crf{CRF}.mp4"


def encode_clip(path: Path, res: tuple[int, int], cfg: Config, seed: int = 0) -> Path:
    """Render the tests' textured courtyard (with walkers and sensor noise) as H.264.

    tests.clips.encode is fixed at 10 fps; cameras send 25, so the frame loop is repeated
    here with the same scene, walkers, GOP and CRF. Noise comes from a small pool of fields
    (rendering, not the benchmark, would otherwise dominate the set-up time at 1080p).
    """
    from tests.clips import scene, walkers

    w, h = res
    base = scene(w, h, seed)
    rng = np.random.default_rng(seed + 1000)
    noise = [rng.normal(0, 2.0, (h, w)).astype(np.float32)[..., None] for _ in range(5)]
    gop = int(round(GOP_S * cfg.fps))
    tmp = path.with_suffix(".part.mp4")
    out = av.open(str(tmp), "w")
    st = out.add_stream("libx264", rate=cfg.fps)
    st.width, st.height, st.pix_fmt = w, h, "yuv420p"
    st.options = {"g": str(gop), "keyint_min": str(gop), "crf": str(CRF), "preset": "veryfast"}
    for i in range(cfg.fps * cfg.seconds):
        img = walkers(base, i / cfg.fps) + noise[i % len(noise)]
        frame = av.VideoFrame.from_ndarray(np.clip(img, 0, 255).astype(np.uint8), format="bgr24")
        for p in st.encode(frame):
            out.mux(p)
    for p in st.encode():
        out.mux(p)
    out.close()
    tmp.replace(path)
    return path


# ---- timing --------------------------------------------------------------------------------

def cpu(fn: Callable[[], int]) -> float:
    """Process CPU seconds per item of `fn()` (which returns how many items it did)."""
    t0 = time.process_time()
    n = fn()
    return (time.process_time() - t0) / max(1, n)


def run_child(argv: list[str]) -> float:
    """CPU seconds (user + system) of one child process, from its own rusage."""
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):  # analyze exits 1 when a source failed: still an error
        raise RuntimeError(f"{' '.join(argv[:4])} ... exited {proc.returncode}: {err[-800:]!r}")
    if proc.returncode == 1:
        raise RuntimeError(f"a source failed in {' '.join(argv[:4])}: {err[-800:]!r}")
    return ru.ru_utime + ru.ru_stime


@dataclass(slots=True)
class Samples:
    """Per-round values of every measurement, keyed by name; medians at the end."""

    values: dict[str, list[float]] = field(default_factory=dict)

    def add(self, key: str, value: float) -> None:
        self.values.setdefault(key, []).append(value)

    def med(self, key: str) -> float:
        return statistics.median(self.values[key])

    def spread(self, key: str) -> str:
        v = self.values[key]
        return f"{min(v) / statistics.median(v):.2f}-{max(v) / statistics.median(v):.2f}"


# ---- the measurements ----------------------------------------------------------------------

@dataclass(slots=True)
class Material:
    """The same frames for every measurement: each clip's keyframes, full size and thumbs."""

    clips: dict[tuple[int, int], Path]
    grays: dict[tuple[int, int], list[np.ndarray]]
    thumbs: dict[tuple[int, int], list[np.ndarray]]
    frames: dict[tuple[int, int], list[av.VideoFrame]]


def keyframe_pictures(path: Path) -> list[av.VideoFrame]:
    """The decoded keyframes themselves: the agent scales each straight from the decoder's
    picture with swscale (edge_agent.sources), so that is what the thumbnail column times."""
    out = []
    with av.open(str(path)) as container:
        ctx = container.streams.video[0].codec_context
        for pkt in container.demux(video=0):
            if pkt.size and pkt.is_keyframe:
                got = ctx.decode(pkt) or ctx.decode(None)
                if not got:
                    continue
                ctx.flush_buffers()
                out.extend(got)
    return out


def prepare(cfg: Config, bar: tqdm) -> Material:
    """Encode (or reuse) the clips and decode their keyframes once."""
    from edge_agent.sources import thumbnail_from_frame

    CACHE.mkdir(parents=True, exist_ok=True)
    clips, grays, thumbs, frames = {}, {}, {}, {}
    for res in RESOLUTIONS:
        path = clip_path(res, cfg)
        if not path.is_file():
            bar.set_postfix_str(f"encoding {label(res)}")
            encode_clip(path, res, cfg)
        clips[res] = path
        grays[res] = [g.copy() for g in iter_keyframes(path)]
        frames[res] = keyframe_pictures(path)
        thumbs[res] = [thumbnail_from_frame(f) for f in frames[res]]
        bar.update(1)
    return Material(clips, grays, thumbs, frames)


def pairs(mat: Material, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n (thumbnail, previous half-scale picture of the same clip) pairs, from every clip:
    the detector takes the camera's previous sample as its own `half` output."""
    from pipeline.frames import half_scale

    fr, pv = [], []
    per = [(mat.thumbs[r][1:], mat.thumbs[r][:-1]) for r in RESOLUTIONS]
    i = 0
    while len(fr) < n:
        for cur, prev in per:
            fr.append(cur[i % len(cur)])
            pv.append(half_scale(prev[i % len(prev)]))
        i += 1
    return np.stack(fr[:n]), np.stack(pv[:n])


def graph_feed(frames: np.ndarray, prevs: np.ndarray) -> dict[str, np.ndarray]:
    """The feature graph's inputs for thumbnails and their previous half-scale pictures, the
    native patches cut from the thumbnails (as pipeline.detect does without better ones)."""
    from pipeline.frames import native_mosaic

    return {"frame": frames.astype(np.float32)[:, None],
            "prev": prevs.astype(np.float32)[:, None],  # N x 1 x 96 x 160
            "native": np.stack([native_mosaic(f) for f in frames]).astype(np.float32)[:, None]}


def check_plain(det: Detector, frames: np.ndarray, prevs: np.ndarray) -> dict[str, float]:
    """Max abs error of the plain NumPy/OpenCV features against the ONNX graph's outputs."""
    from benchmarks.plain_features import plain_features

    outs = det.session.run(None, graph_feed(frames, prevs))
    err: dict[str, float] = {}
    for i in range(len(frames)):
        p = plain_features(frames[i], prevs[i])
        for name, v in zip(det.outputs, outs, strict=True):
            err[name] = max(err.get(name, 0.0), float(np.abs(v[i] - p[name]).max()))
    return err


class Bench:
    """Holds the material and the long-lived objects; one `round()` measures everything once."""

    def __init__(self, cfg: Config, mat: Material) -> None:
        from camera_health import check

        from benchmarks.plain_features import plain_features
        from edge_agent.sources import thumbnail_from_frame as thumbnail
        from pipeline.detect import Detector
        from pipeline.monitor import Monitor

        self.cfg = cfg
        self.mat = mat
        self.det = Detector(threads=1)
        self.frames, self.prevs = pairs(mat, cfg.det_frames)
        self.plain = plain_features
        self.check = check
        self.thumbnail = thumbnail
        # One Monitor per resolution, 16 cameras each, warmed past baseline learning so the
        # rounds time the steady state the agent lives in.
        self.monitors = {r: Monitor(detector=self.det) for r in RESOLUTIONS}
        self.t = dict.fromkeys(RESOLUTIONS, 0.0)
        for r in RESOLUTIONS:
            self._feed(r, 12)

    def _feed(self, res: tuple[int, int], batches: int) -> int:
        from pipeline.monitor import Sample

        grays = self.mat.thumbs[res]  # the agent feeds the monitor thumbnails
        n = 0
        for _ in range(batches):
            self.t[res] += 1.0
            j = int(self.t[res])
            batch = [Sample(f"cam{c:02d}", self.t[res], grays[(c + j) % len(grays)])
                     for c in range(BATCH)]
            self.monitors[res].process(batch)
            n += len(batch)
        return n

    def _det(self, batch: int) -> int:
        for i in range(0, len(self.frames), batch):
            self.det.run(self.frames[i:i + batch], self.prevs[i:i + batch])
        return len(self.frames)

    def _plain(self) -> int:
        for f, p in zip(self.frames, self.prevs, strict=True):
            self.plain(f, p)
        return len(self.frames)

    def _thumbs(self, res: tuple[int, int]) -> int:
        for f in self.mat.frames[res]:
            self.thumbnail(f)
        return len(self.mat.frames[res])

    def _camera_health(self, res: tuple[int, int]) -> int:
        g = self.mat.grays[res]
        for i in range(1, len(g)):
            self.check(g[i], previous=g[i - 1])
        return len(g) - 1

    def round(self, s: Samples) -> None:
        """Every in-process measurement once, interleaved, and the ratios of this round."""
        cfg = self.cfg
        det1 = cpu(lambda: self._det(1))
        det16 = cpu(lambda: self._det(BATCH))
        plain = cpu(self._plain)
        s.add("det1", det1)
        s.add("det16", det16)
        s.add("plain", plain)
        s.add("plain/det16", plain / det16)
        s.add("plain/det1", plain / det1)
        for res in RESOLUTIONS:
            key = label(res)
            path = self.mat.clips[res]
            dec = cpu(lambda path=path: decode_keyframes(path))
            mon = cpu(lambda res=res: self._feed(res, max(1, cfg.det_frames // BATCH)))
            thumb = cpu(lambda res=res: self._thumbs(res))
            n_all = int(cfg.decode_all_gops * GOP_S * cfg.fps)
            dall = cpu(lambda path=path, n_all=n_all: decode_all(path, n_all))
            s.add(f"dec/{key}", dec)
            s.add(f"decall/{key}", dall)
            s.add(f"mon/{key}", mon)
            s.add(f"thumb/{key}", thumb)
            # The monitor is fed thumbnails (as the agent does): what is left of its cost once
            # the detector is taken out is pipeline.health and the monitor's bookkeeping.
            s.add(f"health/{key}", mon - det16)
            s.add(f"pipe/{key}", thumb + mon)
            s.add(f"det16/dec/{key}", det16 / dec)
            s.add(f"det1/dec/{key}", det1 / dec)
            s.add(f"mon/dec/{key}", (thumb + mon) / dec)
            if res in CAMERA_HEALTH_RES:
                ch = cpu(lambda res=res: self._camera_health(res))
                s.add(f"ch/{key}", ch)
                s.add(f"ch/mon/{key}", ch / (thumb + mon))
                s.add(f"ch/det16/{key}", ch / det16)


def analyze_rounds(cfg: Config, mat: Material, s: Samples, bar: tqdm) -> tuple[int, int]:
    """`lenswatch analyze` over many files vs the bare keyframe decode of the same files,
    each in one child process, alternated; plus each side's start-up cost alone.

    Files are hard links to the four clips (`copies` per resolution): analyze names each
    camera by its path, so every link is a camera of its own with its own state.
    """
    tmp = Path(tempfile.mkdtemp(prefix="lenswatch-speed-"))
    try:
        files = []
        for res in RESOLUTIONS:
            for c in range(cfg.copies):
                link = tmp / f"cam{c}_{label(res)}.mp4"
                os.link(mat.clips[res], link)
                files.append(str(link))
        py = sys.executable
        runs = {
            "analyze": [py, "-m", "lenswatch.cli", "analyze", "--json", "--progress", "off",
                        *files],
            "bare": [py, "-m", "benchmarks.bare_decode", *files],
            "analyze-start": [py, "-c", "import lenswatch.cli as c, pipeline.monitor as m; "
                              "c.build_parser(); m.Monitor()"],
            "bare-start": [py, "-m", "benchmarks.bare_decode"],
        }
        for _ in range(cfg.analyze_rounds):
            got = {k: run_child(argv) for k, argv in runs.items()}
            for k, v in got.items():
                s.add(f"child/{k}", v)
            s.add("child/ratio", got["analyze"] / got["bare"])
            steady_a = got["analyze"] - got["analyze-start"]
            steady_b = got["bare"] - got["bare-start"]
            s.add("child/ratio-steady", steady_a / steady_b)
            bar.update(1)
        keyframes = sum(len(mat.grays[r]) for r in RESOLUTIONS) * cfg.copies
        return len(files), keyframes
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def profile_nodes(det: Detector, frames: np.ndarray, prevs: np.ndarray, top: int = 10,
                  reps: int = 20) -> list[tuple[str, str, float, float]]:
    """ONNX Runtime's per-node profile at batch 16: (node, op, us per batch, share)."""
    import onnxruntime as ort

    from models import FEATURES_MODEL

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.enable_profiling = True
    opts.profile_file_prefix = str(Path(tempfile.gettempdir()) / "lenswatch_ort_profile")
    sess = ort.InferenceSession(str(FEATURES_MODEL), opts, providers=["CPUExecutionProvider"])
    feed = graph_feed(frames[:BATCH], prevs[:BATCH])
    for _ in range(3 + reps):
        sess.run(None, feed)
    path = Path(sess.end_profiling())
    events = json.loads(path.read_text())
    path.unlink(missing_ok=True)
    per: dict[str, tuple[str, list[float]]] = {}
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            name = e["name"].removesuffix("_kernel_time")
            per.setdefault(name, (e["args"].get("op_name", "?"), []))[1].append(e["dur"])
    # The last `reps` runs only: the first ones warm caches and allocate.
    med = {n: (op, statistics.median(d[-reps:])) for n, (op, d) in per.items()}
    total = sum(v for _, v in med.values())
    ranked = sorted(med.items(), key=lambda kv: -kv[1][1])[:top]
    return [(n, op, us, us / total) for n, (op, us) in ranked] + [("(all nodes)", "", total, 1)]


# ---- report --------------------------------------------------------------------------------

def machine() -> str:
    """nproc, CPU model and load, so a reader can tell this box from theirs."""
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import onnxruntime as ort

    load = os.getloadavg()
    return (f"{os.cpu_count()} CPUs ({model}), load average {load[0]:.1f} at start; "
            f"Python {platform.python_version()}, ONNX Runtime {ort.__version__}, "
            f"PyAV {av.__version__} (FFmpeg libavcodec), NumPy {np.__version__}, "
            f"OpenCV {cv2.__version__}")


def ms(x: float) -> str:
    """Seconds as milliseconds, to a precision the noise supports."""
    v = x * 1e3
    return f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 10 else f"{v:.1f}"


def report(cfg: Config, s: Samples, err: dict[str, float], files: int, keyframes: int,
           prof: list[tuple[str, str, float, float]] | None, argv: list[str]) -> str:
    """The Markdown the run prints (and writes with --out)."""
    L: list[str] = []
    L.append(f"Command: `python -m benchmarks.speed {' '.join(argv)}`".rstrip())
    L.append("")
    L.append(f"Machine: {machine()}")
    L.append("")
    L.append(f"Clips: H.264 (libx264 veryfast, CRF {CRF}), {cfg.fps} fps, keyframe every "
             f"{GOP_S:g} s, {cfg.seconds} s each, textured synthetic scene with walkers and "
             f"sensor noise. Process CPU time per frame, median of {cfg.rounds} interleaved "
             f"rounds (ratios are taken within a round, then the median); one core (ONNX "
             f"Runtime 1 thread, OpenCV 1 thread, decoder 1 thread).")
    L.append("")
    L.append("| resolution | keyframe decode | decode-all, per frame | detector b1 | "
             "detector b16 | thumbnail | monitor b16 (det + health) | "
             "health (rest) | det b16 / decode | det b1 / decode | "
             "thumbnail + monitor / decode |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for res in RESOLUTIONS:
        k = label(res)
        L.append(f"| {k} | {ms(s.med(f'dec/{k}'))} | {ms(s.med(f'decall/{k}'))} | "
                 f"{ms(s.med('det1'))} | {ms(s.med('det16'))} | {ms(s.med(f'thumb/{k}'))} | "
                 f"{ms(s.med(f'mon/{k}'))} | {ms(s.med(f'health/{k}'))} | "
                 f"{s.med(f'det16/dec/{k}'):.1%} | {s.med(f'det1/dec/{k}'):.1%} | "
                 f"{s.med(f'mon/dec/{k}'):.1%} |")
    L.append("")
    L.append("Times in ms of process CPU per frame. The detector columns do not depend on the "
             "resolution (every camera's frame is scaled to the same 320x192 thumbnail first); "
             "`thumbnail` is swscale from the decoded picture (edge_agent.sources); "
             "`health (rest)` is monitor - detector b16, i.e. pipeline.health and "
             "the monitor's bookkeeping; the last column is everything after the decode.")
    L.append("")
    d1, d16 = s.med("det1"), s.med("det16")
    d1_key = "det16/dec/704x576"
    L.append(f"- Detector stack (ONNX, batch 16) per frame: **{ms(d16)} ms** (target <= 0.5 ms: "
             f"{'met' if d16 <= 5e-4 else 'NOT met'}); batch 1: {ms(d1)} ms. Against a D1 "
             f"(704x576) keyframe decode: **{s.med(d1_key):.1%}** (target <= 10%: "
             f"{'met' if s.med(d1_key) <= 0.10 else 'NOT met'}).")
    L.append(f"- Plain per-frame NumPy/OpenCV, same features: {ms(s.med('plain'))} ms per frame"
             f" = **{s.med('plain/det16'):.2f}x** the ONNX stack at batch 16, "
             f"{s.med('plain/det1'):.2f}x at batch 1 (rounds spread "
             f"{s.spread('plain/det16')} of the median).")
    worst = max(err.values())
    L.append(f"- Plain vs ONNX outputs, max abs error over {cfg.det_frames} frames: "
             f"**{worst:.2g}** ("
             + ", ".join(f"{k} {v:.1g}" for k, v in err.items()) + ").")
    for res in CAMERA_HEALTH_RES:
        k = label(res)
        L.append(f"- camera-health 0.1.0 `check(gray, previous=prev)` at {k}: "
                 f"{ms(s.med(f'ch/{k}'))} ms per frame = **{s.med(f'ch/mon/{k}'):.1f}x** "
                 f"lenswatch's whole monitor (thumbnail + detector + health, batch 16), "
                 f"{s.med(f'ch/det16/{k}'):.1f}x the detector stack alone (target >= 20x).")
    ca, cb = s.med("child/analyze"), s.med("child/bare")
    L.append(f"- `lenswatch analyze` over {files} files ({keyframes} keyframes, "
             f"{cfg.copies} per resolution) in one process: {ca:.2f} s CPU vs {cb:.2f} s for "
             f"the bare keyframe decode of the same files in one process: "
             f"**{s.med('child/ratio'):.2f}x** (target <= 2x, goal 1.25x; spread "
             f"{s.spread('child/ratio')}). Without each side's start-up "
             f"(imports + session: {s.med('child/analyze-start'):.2f} s vs "
             f"{s.med('child/bare-start'):.2f} s): **{s.med('child/ratio-steady'):.2f}x**.")
    if prof:
        L.append("")
        L.append("ONNX Runtime per-node profile, batch 16, one thread (median of 20 runs):")
        L.append("")
        L.append("| node | op | us per batch | share |")
        L.append("|---|---|---:|---:|")
        for name, op, us, share in prof:
            L.append(f"| {name} | {op} | {us:.0f} | {share:.1%} |")
    return "\n".join(L) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run everything once, print the Markdown table, optionally write it to --out."""
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short clips, fewer rounds")
    ap.add_argument("--out", type=Path, help="also write the Markdown report to this file")
    ap.add_argument("--profile", action="store_true",
                    help="add ONNX Runtime's per-node profile (top 10)")
    args = ap.parse_args(argv)
    from tqdm import tqdm

    cv2.setNumThreads(1)
    cfg = QUICK if args.quick else FULL
    s = Samples()
    steps = len(RESOLUTIONS) + cfg.rounds + cfg.analyze_rounds + (1 if args.profile else 0)
    with tqdm(total=steps, desc="speed", unit="step", file=sys.stderr) as bar:
        mat = prepare(cfg, bar)
        bench = Bench(cfg, mat)
        err = check_plain(bench.det, bench.frames, bench.prevs)
        bar.set_postfix_str("in-process rounds")
        for _ in range(cfg.rounds):
            bench.round(s)
            bar.update(1)
        bar.set_postfix_str("analyze vs decode")
        files, keyframes = analyze_rounds(cfg, mat, s, bar)
        prof = None
        if args.profile:
            prof = profile_nodes(bench.det, bench.frames, bench.prevs)
            bar.update(1)
    text = report(cfg, s, err, files, keyframes, prof, argv)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
