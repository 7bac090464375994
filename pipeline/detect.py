"""Run the ONNX feature graph over a batch of thumbnails: one session for the whole process.

The graph (models/build.py) turns each thumbnail into a few hundred numbers: per-cell
brightness, saturation and gradient energy at three scales, the change since the camera's
previous sample, and spectra. Every per-pixel operation lives in the graph; what Python sees
per frame is small enough for per-camera judgement in pipeline.health.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from models import FEATURES_MODEL
from pipeline.frames import MOSAIC_H, MOSAIC_W, THUMB_H, THUMB_W, half_scale, native_mosaic

HALF_H, HALF_W = THUMB_H // 2, THUMB_W // 2


@dataclass(slots=True)
class Features:
    """One frame's features (cell arrays are GRID_H*GRID_W long, row-major)."""

    mean: np.ndarray      # cell brightness, 0..255
    sat: np.ndarray       # cell fraction of saturated pixels
    g1: np.ndarray        # cell mean |gradient| at full thumbnail scale
    g2: np.ndarray        # ... at half scale
    g4: np.ndarray        # ... at quarter scale
    diff: np.ndarray      # cell mean |frame - previous sample|
    spec_fine: np.ndarray    # log amplitude, 16-px Welch patches at full scale (u, v)
    spec_coarse: np.ndarray  # log amplitude, 32-px Welch patches at half scale (u, v)
    spec_rows: np.ndarray    # log amplitude of the row-mean profile
    spec_cols: np.ndarray    # log amplitude of the column-mean profile
    spec_drift: np.ndarray   # log amplitude of the row profile of the change since last sample
    half: np.ndarray         # the half-scale picture: the camera's `prev` for its next sample
    spec_native: np.ndarray  # log amplitude, 16-px Welch patches at the camera's resolution
    #: The picture's mean colour (Cb - 128, Cr - 128), not from the graph: the caller sets it
    #: when the decoder gave colour (pipeline.monitor.Sample.chroma).
    chroma: np.ndarray | None = None


_FIELDS = {
    "cell_mean": "mean", "cell_sat": "sat", "cell_g1": "g1", "cell_g2": "g2", "cell_g4": "g4",
    "cell_diff": "diff", "spec_fine": "spec_fine", "spec_coarse": "spec_coarse",
    "spec_rows": "spec_rows", "spec_cols": "spec_cols", "spec_drift": "spec_drift",
    "half": "half", "spec_native": "spec_native",
}


#: Frames per session run. The graph is a chain of passes over per-pixel tensors: two
#: thumbnails make a 0.5 MB float32 tensor, so each pass finds its input still in the core's
#: L2 cache, where sixteen (4 MB) spill to the shared L3 on every pass. Measured on the shared
#: 2-core box (Detector.run on 16 real thumbnails, interleaved, process CPU): chunks of 2 cost
#: 0.83x, of 4 0.88x, of 8 0.94x what one run of 16 does; single frames pay the ~130 kernel
#: launches per frame and lose again.
CHUNK = 2


class Detector:
    """An ONNX Runtime session over the feature graph, pinned to `threads` cores.

    One thread by default: an edge agent runs many cameras and scales over cores by running
    batches, and intra-op threading on inputs this small costs more in hand-offs than it saves.
    A batch is run `chunk` frames at a time (see CHUNK); results do not depend on it.
    """

    def __init__(self, model: Path = FEATURES_MODEL, threads: int = 1,
                 chunk: int = CHUNK) -> None:
        if chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {chunk}")
        self.chunk = chunk
        if not Path(model).is_file():
            raise FileNotFoundError(
                f"detector model {model} is missing: rebuild it with `python -m models.build`")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        self.outputs = [o.name for o in self.session.get_outputs()]

    def run(self, frames: np.ndarray, prevs: np.ndarray | None = None,
            natives: np.ndarray | None = None) -> list[Features]:
        """Features for N thumbnails (N x 192 x 320, uint8 or float).

        `prevs` holds each camera's previous sample as returned in `Features.half`
        (N x 96 x 160); None (a first sample) compares each frame with itself. `natives`
        holds each picture's native-resolution patches (pipeline.frames.native_mosaic,
        N x 64 x 128); None takes them from the thumbnails, for callers that have no more.
        """
        n = len(frames)
        if frames.shape[1:] != (THUMB_H, THUMB_W):
            raise ValueError(f"expected N x {THUMB_H} x {THUMB_W} thumbnails, got {frames.shape}")
        if prevs is None:
            prevs = np.stack([half_scale(f) for f in frames])
        if natives is None:
            natives = np.stack([native_mosaic(f) for f in frames])
        prev = np.ascontiguousarray(prevs, np.float32).reshape(n, 1, HALF_H, HALF_W)
        native = np.ascontiguousarray(natives, np.float32).reshape(n, 1, MOSAIC_H, MOSAIC_W)
        names = [_FIELDS[k] for k in self.outputs]
        feats: list[Features] = []
        for i in range(0, n, self.chunk):
            # Converted per chunk too, so the float copy is still in cache when the graph
            # reads it.
            feed = {"frame": frames[i:i + self.chunk].astype(np.float32)[:, None],
                    "prev": prev[i:i + self.chunk], "native": native[i:i + self.chunk]}
            outs = self.session.run(None, feed)
            feats += [Features(**{k: v[j] for k, v in zip(names, outs, strict=True)})
                      for j in range(len(outs[0]))]
        return feats


_shared: Detector | None = None
_lock = threading.Lock()


def shared_detector() -> Detector:
    """The process-wide detector: one ONNX Runtime session however many cameras there are."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = Detector()
        return _shared
