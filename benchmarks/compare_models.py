"""Two builds of the feature graph, side by side: same outputs? which is cheaper?

    python -m benchmarks.compare_models OLD.onnx NEW.onnx [--rounds 9]

Why: a change to models/build.py is only a speed-up if the features stay what
pipeline/health.py's thresholds were set on. This runs both models on the same real
thumbnails (keyframes of benchmarks/speed.py's clips, consecutive pairs), prints the max
abs difference of every output, and times both at batch 16 and batch 1 in interleaved
rounds (A B A B ..., process CPU time), reporting the median NEW/OLD ratio.
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
from pipeline.frames import half_scale, thumbnail


def session(path: Path) -> ort.InferenceSession:
    """A session configured exactly as pipeline.detect.Detector configures its own."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def frames(limit: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive keyframe thumbnails from every cached clip: (frame, the previous one at
    half scale, as the graph's `prev` input takes it)."""
    fr: list[np.ndarray] = []
    pv: list[np.ndarray] = []
    clips = sorted(c for c in CACHE.glob("*.mp4") if not c.name.endswith(".part.mp4"))
    if not clips:
        raise SystemExit("no clips cached: run `python -m benchmarks.speed --quick` first")
    for clip in clips:
        th = [thumbnail(g) for g in iter_keyframes(clip)]
        fr += th[1:]
        pv += th[:-1]
    idx = np.linspace(0, len(fr) - 1, min(limit, len(fr))).astype(int)
    f = np.stack([fr[i] for i in idx]).astype(np.float32)[:, None]
    p = np.stack([half_scale(pv[i]) for i in idx])[:, None]
    # Some over-exposed pairs too (gain x1.6, clipped), or the saturation output would only
    # ever be compared on zeros.
    bright = np.clip(np.round(f[::4] * 1.6), 0, 255)
    return np.concatenate([f, bright]), np.concatenate([p, np.clip(p[::4] * 1.6, 0, 255)])


def per_frame(sess: ort.InferenceSession, f: np.ndarray, p: np.ndarray, batch: int,
              repeat: int = 4) -> float:
    """Process CPU seconds per frame over all frames (`repeat` passes) at this batch size."""
    t0 = time.process_time()
    for _ in range(repeat):
        for i in range(0, len(f), batch):
            sess.run(None, {"frame": f[i:i + batch], "prev": p[i:i + batch]})
    return (time.process_time() - t0) / (repeat * len(f))


def main(argv: list[str] | None = None) -> int:
    """Print output differences and the NEW/OLD cost ratio at batch 16 and 1."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args(argv)
    f, p = frames()
    a, b = session(args.old), session(args.new)
    names = [o.name for o in a.get_outputs()]
    oa = a.run(None, {"frame": f, "prev": p})
    ob = dict(zip([o.name for o in b.get_outputs()], b.run(None, {"frame": f, "prev": p}),
                  strict=True))
    print(f"{len(f)} frame pairs; max abs difference (and max abs value) per output:")
    for name, va in zip(names, oa, strict=True):
        d = float(np.abs(va - ob[name]).max())
        print(f"  {name:12} {d:.3g}  ({float(np.abs(va).max()):.4g})")
    for batch in (16, 1):
        ratios, ta, tb = [], [], []
        for _ in range(args.rounds):
            x = per_frame(a, f, p, batch)
            y = per_frame(b, f, p, batch)
            ta.append(x)
            tb.append(y)
            ratios.append(y / x)
        print(f"batch {batch:2}: old {statistics.median(ta) * 1e3:.3f} ms/frame, new "
              f"{statistics.median(tb) * 1e3:.3f} ms/frame, new/old median "
              f"{statistics.median(ratios):.3f} (rounds {min(ratios):.3f}-{max(ratios):.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
