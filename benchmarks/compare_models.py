"""Two builds of the feature graph, side by side: same outputs? which is cheaper?

    python -m benchmarks.compare_models OLD.onnx NEW.onnx [--rounds 9]

Why: a change to models/build.py is only a speed-up if the features stay what
pipeline/health.py's thresholds were set on. This runs both models on the same real
thumbnails (keyframes of benchmarks/speed.py's clips, consecutive pairs), prints the max
abs difference of every output, and times both through pipeline.detect.Detector (as the
agent runs them) at batch 16 and batch 1 in interleaved rounds (A B A B ..., process CPU
time), reporting the median NEW/OLD ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from benchmarks.bare_decode import iter_keyframes
from benchmarks.speed import CACHE
from pipeline.detect import Detector
from pipeline.frames import half_scale, native_mosaic, thumbnail


def session(path: Path) -> ort.InferenceSession:
    """A session configured exactly as pipeline.detect.Detector configures its own."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


Feed = dict[str, np.ndarray]


def frames(limit: int = 64) -> Feed:
    """Consecutive keyframe pictures from every cached clip, as the graph takes them: the
    thumbnail, the previous one at half scale (`prev`) and the native patches of the full
    picture (`native`)."""
    fr: list[np.ndarray] = []
    pv: list[np.ndarray] = []
    nat: list[np.ndarray] = []
    clips = sorted(c for c in CACHE.glob("*.mp4") if not c.name.endswith(".part.mp4"))
    if not clips:
        raise SystemExit("no clips cached: run `python -m benchmarks.speed --quick` first")
    for clip in clips:
        grays = [g.copy() for g in iter_keyframes(clip)]
        th = [thumbnail(g) for g in grays]
        fr += th[1:]
        pv += th[:-1]
        nat += [native_mosaic(g) for g in grays[1:]]
    idx = np.linspace(0, len(fr) - 1, min(limit, len(fr))).astype(int)
    f = np.stack([fr[i] for i in idx]).astype(np.float32)[:, None]
    p = np.stack([half_scale(pv[i]) for i in idx])[:, None]
    n = np.stack([nat[i] for i in idx]).astype(np.float32)[:, None]

    # Some over-exposed pairs too (gain x1.6, clipped), or the saturation output would only
    # ever be compared on zeros.
    def bright(x: np.ndarray) -> np.ndarray:
        return np.clip(np.round(x[::4] * 1.6), 0, 255).astype(np.float32)

    return {"frame": np.concatenate([f, bright(f)]), "prev": np.concatenate([p, bright(p)]),
            "native": np.concatenate([n, bright(n)])}


def per_frame(det: Detector, feed: Feed, batch: int, repeat: int = 4) -> float:
    """Process CPU seconds per frame over all frames (`repeat` passes) at this batch size,
    through Detector.run as the agent calls it (its chunking and uint8 feed included)."""
    f = feed["frame"][:, 0].astype(np.uint8)
    p, nat = feed["prev"][:, 0], feed["native"][:, 0]
    t0 = time.process_time()
    for _ in range(repeat):
        for i in range(0, len(f), batch):
            det.run(f[i:i + batch], p[i:i + batch], nat[i:i + batch])
    return (time.process_time() - t0) / (repeat * len(f))


def main(argv: list[str] | None = None) -> int:
    """Print output differences and the NEW/OLD cost ratio at batch 16 and 1."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args(argv)
    feed = frames()
    a, b = session(args.old), session(args.new)
    names = [o.name for o in a.get_outputs()]
    oa = a.run(None, feed)
    ob = dict(zip([o.name for o in b.get_outputs()], b.run(None, feed), strict=True))
    print(f"{len(feed['frame'])} frame pairs; max abs difference (and max abs value) per "
          "output:")
    for name, va in zip(names, oa, strict=True):
        d = float(np.abs(va - ob[name]).max())
        print(f"  {name:12} {d:.3g}  ({float(np.abs(va).max()):.4g})")
    da, db = Detector(args.old), Detector(args.new)
    for batch in (16, 1):
        ratios, ta, tb = [], [], []
        for _ in range(args.rounds):
            x = per_frame(da, feed, batch)
            y = per_frame(db, feed, batch)
            ta.append(x)
            tb.append(y)
            ratios.append(y / x)
        print(f"batch {batch:2}: old {statistics.median(ta) * 1e3:.3f} ms/frame, new "
              f"{statistics.median(tb) * 1e3:.3f} ms/frame, new/old median "
              f"{statistics.median(ratios):.3f} (rounds {min(ratios):.3f}-{max(ratios):.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
