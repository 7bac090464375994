"""Turn whatever a camera sends into the one small gray picture every detector works on.

All detectors see the same fixed-size thumbnail, so one ONNX graph with a static shape serves
every camera (static shapes let ONNX Runtime plan memory once) and frames from cameras of any
resolution batch together.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Analysis thumbnail: 10 x 6 cells of 32 x 32 pixels. Width 320 keeps a D1 (704 px) picture
#: within a 2.2x downscale and 1080p within 6x, enough for defocus and stripe periods that a
#: person can see on a monitor; every extra pixel is paid for by every camera, every sample.
THUMB_W = 320
THUMB_H = 192
CELL = 32
GRID_W = THUMB_W // CELL
GRID_H = THUMB_H // CELL
#: Native-resolution patches: NATIVE_ROWS x NATIVE_COLS patches of NATIVE x NATIVE pixels cut
#: straight from the decoded picture (no scaling), for interference finer than the thumbnail
#: can hold: lines 2.5-5 px apart on a D1 picture are averaged away by its 2.2-3x downscale.
NATIVE = 16
NATIVE_ROWS = 4
NATIVE_COLS = 8
MOSAIC_H = NATIVE_ROWS * NATIVE
MOSAIC_W = NATIVE_COLS * NATIVE


def thumbnail(gray: np.ndarray) -> np.ndarray:
    """Scale a gray picture (any size, rows may be strided) to the analysis thumbnail.

    INTER_AREA averages rather than samples, so sensor noise and compression blocks shrink
    instead of aliasing into false stripes.
    """
    if gray.ndim != 2:
        raise ValueError(f"expected a 2-D gray picture, got shape {gray.shape}")
    if gray.shape == (THUMB_H, THUMB_W):
        return np.ascontiguousarray(gray, dtype=np.uint8)
    interp = cv2.INTER_AREA if gray.shape[1] >= THUMB_W else cv2.INTER_LINEAR
    return cv2.resize(gray, (THUMB_W, THUMB_H), interpolation=interp)


def _native_index(n: int, k: int) -> np.ndarray:
    """Pixel indices of k patches of NATIVE pixels spread evenly over a line of n pixels,
    centred in k equal spans; clipped (patches repeat or overlap) on a picture that small."""
    centres = (np.arange(k) + 0.5) * n / k
    starts = np.clip(np.round(centres - NATIVE / 2).astype(np.int64), 0, max(0, n - NATIVE))
    return np.clip((starts[:, None] + np.arange(NATIVE)).ravel(), 0, n - 1)


_INDEX: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def native_mosaic(gray: np.ndarray) -> np.ndarray:
    """Full-resolution patches of a gray picture (any size, rows may be strided), tiled as one
    MOSAIC_H x MOSAIC_W image: the feature graph's `native` input.

    A slice, no scaling: it costs microseconds and keeps what the thumbnail averages away. The
    patches sit on a fixed grid over the whole view, as interference covers the whole picture
    while the scene differs from patch to patch (which is what the Welch average relies on).
    """
    if gray.ndim != 2:
        raise ValueError(f"expected a 2-D gray picture, got shape {gray.shape}")
    idx = _INDEX.get(gray.shape)
    if idx is None:
        idx = _INDEX[gray.shape] = (_native_index(gray.shape[0], NATIVE_ROWS),
                                    _native_index(gray.shape[1], NATIVE_COLS))
    # Whole rows first, then columns: measured 4x cheaper than one 2-D fancy index (15 us
    # of CPU at 1080p).
    rows, cols = idx
    return np.ascontiguousarray(gray[rows][:, cols], dtype=np.uint8)


def half_scale(thumb: np.ndarray) -> np.ndarray:
    """The thumbnail averaged over 2 x 2 blocks, as the feature graph's `half` output."""
    return thumb.astype(np.float32).reshape(THUMB_H // 2, 2, THUMB_W // 2, 2).mean(axis=(1, 3))


def snapshot_jpeg(gray: np.ndarray, quality: int = 70) -> bytes:
    """Encode a small JPEG of the moment, for evidence a person can look at."""
    ok, buf = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV only fails on empty input
        raise ValueError("could not encode snapshot")
    return buf.tobytes()
