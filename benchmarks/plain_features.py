"""The ONNX feature graph (models/build.py) written again as plain per-frame NumPy/OpenCV.

Why it exists: the ONNX graph is only worth its build script if it is cheaper than the code
a reasonable engineer would write without it. This module is that code: one frame at a
time, OpenCV for the area averages, NumPy for differences and np.fft for the spectra. It
computes the SAME features (same cells, same within-cell differences, same Hann-windowed
patches, same folding of the spectrum), so benchmarks/speed.py can check it against the
graph's outputs before it compares their costs; a faster implementation of different
features would prove nothing.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.frames import (
    CELL,
    GRID_H,
    GRID_W,
    MOSAIC_H,
    MOSAIC_W,
    THUMB_H,
    THUMB_W,
    native_mosaic,
)

FINE = 16     # Welch patch size at full scale (models/build.py FINE)
COARSE = 32   # Welch patch size at half scale (models/build.py COARSE)
SAT_LEVEL = 245.0

_HANN: dict[int, np.ndarray] = {}


def _hann(n: int) -> np.ndarray:
    """The graph's window: np.hanning(n + 2) without its zero ends (no sample is wasted)."""
    w = _HANN.get(n)
    if w is None:
        w = _HANN[n] = np.hanning(n + 2)[1:-1].astype(np.float32)
    return w


def _half(x: np.ndarray) -> np.ndarray:
    """2 x 2 mean (INTER_AREA at an exact factor of 2 is exactly that average)."""
    return cv2.resize(x, (x.shape[1] // 2, x.shape[0] // 2), interpolation=cv2.INTER_AREA)


def _cells(x: np.ndarray) -> np.ndarray:
    """Mean over each of the GRID_H x GRID_W cells, row-major."""
    return cv2.resize(x, (GRID_W, GRID_H), interpolation=cv2.INTER_AREA).ravel()


def _grad_cells(x: np.ndarray, k: int) -> np.ndarray:
    """Mean |dI/dx| + mean |dI/dy| per cell, differences taken only inside a cell (as the
    graph does: k - 1 differences per cell row and column, no padding)."""
    h, w = x.shape
    dx = np.abs(np.diff(x.reshape(h, GRID_W, k), axis=2)).sum(axis=2)        # h, gw
    dx = dx.reshape(GRID_H, k, GRID_W).sum(axis=1)
    dy = np.abs(np.diff(x.reshape(GRID_H, k, w), axis=1))                     # gh, k-1, w
    dy = dy.reshape(GRID_H, k - 1, GRID_W, k).sum(axis=(1, 3))
    return ((dx + dy) / (k * (k - 1))).ravel()


def _welch(x: np.ndarray, n: int, row_step: int) -> np.ndarray:
    """Log mean amplitude over n x n Hann-windowed patches, folded over the sign of u.

    The graph's real-basis product gives (|F(u,v)|^2 + |F(-u,v)|^2) / 2; here it is taken
    from the complex FFT, so the two agree only if both are right. Output [u (y), v (x)].
    """
    h, w = x.shape
    win = _hann(n)
    patches = x.reshape(h // n, n, w // n, n)[::row_step].transpose(0, 2, 1, 3)
    spec = np.fft.rfft2(patches * (win[:, None] * win[None, :]))             # ..., n(u), m(v)
    power = spec.real ** 2 + spec.imag ** 2
    m = n // 2 + 1
    folded = 0.5 * (power[..., :m, :] + power[..., (-np.arange(m)) % n, :])
    amp = np.sqrt(folded).reshape(-1, m, m).mean(axis=0)
    return np.log1p(amp).astype(np.float32)


def _profile(profiles: np.ndarray) -> np.ndarray:
    """Log amplitude spectrum of each (mean-removed, Hann-windowed) profile, averaged."""
    p = profiles - profiles.mean(axis=1, keepdims=True)
    amp = np.abs(np.fft.rfft(p * _hann(p.shape[1]), axis=1))
    return np.log1p(amp).mean(axis=0).astype(np.float32)


def plain_features(frame: np.ndarray, prev: np.ndarray,
                   native: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The graph's outputs for one uint8 thumbnail, the camera's previous half-scale
    picture (the graph's `half` output of the camera's last sample) and the picture's
    native-resolution patches (pipeline.frames.native_mosaic; None: cut from the thumbnail,
    as pipeline.detect does).

    Keys and shapes are those of the ONNX outputs without the batch axis.
    """
    if frame.shape != (THUMB_H, THUMB_W) or prev.shape != (THUMB_H // 2, THUMB_W // 2):
        raise ValueError(f"expected a {THUMB_H} x {THUMB_W} thumbnail and a half-scale "
                         f"previous picture, got {frame.shape} and {prev.shape}")
    if native is None:
        native = native_mosaic(frame)
    if native.shape != (MOSAIC_H, MOSAIC_W):
        raise ValueError(f"expected {MOSAIC_H} x {MOSAIC_W} native patches, got {native.shape}")
    f = frame.astype(np.float32)
    half = _half(f)
    quarter = _half(half)
    hh, hw = half.shape
    change = half - prev.astype(np.float32)
    return {
        "cell_mean": _cells(half),
        "cell_sat": _cells((half > SAT_LEVEL).astype(np.float32)),
        "cell_g1": _grad_cells(f, CELL),
        "cell_g2": _grad_cells(half, CELL // 2),
        "cell_g4": _grad_cells(quarter, CELL // 4),
        "cell_diff": _cells(np.abs(change)),
        "spec_fine": _welch(f, FINE, 2),
        "spec_coarse": _welch(half, COARSE, 1),
        "spec_rows": _profile(half.reshape(hh, 4, hw // 4).mean(axis=2).T),
        "spec_cols": _profile(half.reshape(3, hh // 3, hw).mean(axis=1)),
        "spec_drift": _profile(change.reshape(hh, 4, hw // 4).mean(axis=2).T),
        "half": half[None],
        "spec_native": _welch(native.astype(np.float32), FINE, 1),
    }
