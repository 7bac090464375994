"""What a camera's healthy picture looks like: an adapting baseline and a fixed reference.

The **baseline** follows the view slowly (time constant `adapt_seconds`, only while no fault
is pending or raised), so that dusk, seasons and a parked van become the new normal. The
**reference** is the view confirmed at install or after a repair, and never adapts: a fault
that grows over hours or weeks (foliage, dust, a sagging mount, focus creeping) is learned
by the baseline as it grows, but it still stands out against the reference. Both are learned
from the same first healthy samples; `reset` (a crew confirming the view) relearns both.

Both can be saved and restored (`state`, `from_state`), so an agent restart neither forgets
the reference nor learns a picture that is faulty at that moment as healthy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline import measures as M
from pipeline.detect import Features

SPECTRA = ("spec_fine", "spec_coarse", "spec_rows", "spec_cols", "spec_drift", "spec_native")


class Reference:
    """The confirmed view: detail (band-pass picture), layout, brightness. Never adapts."""

    def __init__(self, half: np.ndarray, mean: np.ndarray, brightness: float, sharp: float,
                 t: float, chroma: np.ndarray | None = None) -> None:
        self.half = half.astype(np.float32)
        self.sharp = sharp
        self.chroma = chroma  # mean (Cb, Cr) - 128; None when the source gave no colour
        self.bp = M.band_pass(self.half)
        self.energy = M.cell_means(self.bp * self.bp)
        self.mean = mean
        self.brightness = brightness
        self.t = t

    def state(self) -> dict[str, Any]:
        """Plain arrays and numbers, for the agent to keep on disk."""
        # Half precision: the picture is 8-bit luma averaged, 11 bits of mantissa keep it.
        return {"half": self.half.astype(np.float16), "mean": self.mean,
                "brightness": self.brightness, "sharp": self.sharp, "t": self.t,
                "chroma": self.chroma}

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> Reference:
        """The reference a `state()` described."""
        return cls(np.asarray(s["half"], np.float32), np.asarray(s["mean"]),
                   float(s["brightness"]), float(s["sharp"]), float(s["t"]),
                   None if s.get("chroma") is None else np.asarray(s["chroma"], np.float64))


class Baseline:
    """Slowly adapting summary of the camera's healthy picture."""

    #: Arrays adapted in place, and how to read each from a sample.
    ARRAYS = ("tex", "fine", "g2", "mean")

    def __init__(self) -> None:
        self.samples: list[Features] = []
        self.ready = False
        self.tex = np.zeros(M.CELLS)
        self.fine = np.zeros(M.CELLS)
        self.mean = np.zeros(M.CELLS)
        self.g2 = np.zeros(M.CELLS)
        self.sharp = 0.0
        self.spec: dict[str, np.ndarray] = {}
        self.change = 0.0
        self.chroma: np.ndarray | None = None
        self.brightness = 0.0
        # The view's detail (band-pass picture) as it looks lately: under other light than
        # the reference's (night, the IR picture) a cover is judged against this instead.
        self.bp = np.zeros((M.HALF_H, M.HALF_W), np.float32)
        self.bp_energy = np.zeros(M.CELLS, np.float32)

    def learn(self, f: Features, min_samples: int, min_seconds: float, t_span: float,
              textured_cell: float) -> np.ndarray | None:
        """Collect a healthy sample; once there are enough, set the baseline and return the
        median half-scale picture of the samples (the reference view), else None."""
        self.samples.append(f)
        if len(self.samples) < min_samples or t_span < min_seconds:
            return None
        s = self.samples
        self.tex = np.median([M.texture(x) for x in s], axis=0)
        self.fine = np.median([M.fine(x) for x in s], axis=0)
        self.g2 = np.median([x.g2 for x in s], axis=0)
        self.mean = np.median([x.mean for x in s], axis=0)
        self.brightness = float(self.mean.mean())
        self.sharp = float(np.median([M.sharpness(x, self.tex, textured_cell) for x in s]))
        self.spec = {k: np.median([getattr(x, k) for x in s], axis=0) for k in SPECTRA}
        # The first sample's difference is against itself; leave it out.
        self.change = float(np.median([M.change(x) for x in s[1:]]))
        colours = [x.chroma for x in s if x.chroma is not None]
        self.chroma = np.median(colours, axis=0) if len(colours) == len(s) else None
        # The median picture leaves passers-by out of the reference view.
        half = np.median([M.half_picture(x) for x in s], axis=0).astype(np.float32)
        self.bp = M.band_pass(half)
        self.bp_energy = M.cell_means(self.bp * self.bp)
        self.samples = []
        self.ready = True
        return half

    def adapt(self, f: Features, alpha: float, sharp: float, bp: np.ndarray) -> None:
        """Move a fraction `alpha` of the way towards this sample (`bp`: its band-pass
        picture, already computed by the judges)."""
        self.bp += np.float32(alpha) * (bp - self.bp)
        self.bp_energy = M.cell_means(self.bp * self.bp)
        self.tex += alpha * (M.texture(f) - self.tex)
        self.fine += alpha * (M.fine(f) - self.fine)
        self.g2 += alpha * (f.g2 - self.g2)
        self.mean += alpha * (f.mean - self.mean)
        self.brightness = float(self.mean.mean())
        self.sharp += alpha * (sharp - self.sharp)
        for k, v in self.spec.items():
            v += alpha * (getattr(f, k) - v)
        self.change += alpha * (M.change(f) - self.change)
        if self.chroma is not None and f.chroma is not None:
            self.chroma = self.chroma + alpha * (f.chroma - self.chroma)

    def state(self) -> dict[str, Any]:
        """Plain arrays and numbers, for the agent to keep on disk (a baseline still
        learning is saved as not ready: it learns again, which takes seconds)."""
        if not self.ready:
            return {"ready": False}
        return {"ready": True, "tex": self.tex, "fine": self.fine, "mean": self.mean,
                "g2": self.g2, "sharp": self.sharp, "change": self.change,
                "chroma": self.chroma, "brightness": self.brightness,
                "spec": dict(self.spec), "bp": self.bp.astype(np.float16)}

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> Baseline:
        """The baseline a `state()` described."""
        b = cls()
        if not s.get("ready"):
            return b
        for k in cls.ARRAYS:
            setattr(b, k, np.array(s[k], dtype=np.float64))
        b.sharp, b.change = float(s["sharp"]), float(s["change"])
        b.brightness = float(s["brightness"])
        b.chroma = None if s.get("chroma") is None else np.asarray(s["chroma"], np.float64)
        b.spec = {k: np.array(v) for k, v in s["spec"].items()}
        b.bp = np.asarray(s["bp"], np.float32)
        b.bp_energy = M.cell_means(b.bp * b.bp)
        b.ready = True
        return b
