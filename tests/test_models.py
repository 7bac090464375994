"""The ONNX model is reproducible from its script and computes what its card says."""

from __future__ import annotations

import hashlib

import numpy as np

from models import FEATURES_MODEL
from models.build import build
from pipeline.detect import Detector
from pipeline.frames import THUMB_H, THUMB_W


def test_committed_model_is_what_the_script_builds() -> None:
    built = build().SerializeToString()
    assert hashlib.sha256(built).hexdigest() == hashlib.sha256(
        FEATURES_MODEL.read_bytes()).hexdigest(), "run `python -m models.build` and commit"


def test_model_is_small_enough_to_commit() -> None:
    assert FEATURES_MODEL.stat().st_size < 1_000_000


def test_features_match_numpy() -> None:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (1, THUMB_H, THUMB_W)).astype(np.uint8)
    prev = rng.uniform(0, 255, (1, THUMB_H // 2, THUMB_W // 2)).astype(np.float32)
    f = Detector().run(frame, prev)[0]
    x = frame[0].astype(np.float64)
    cells = x.reshape(6, 32, 10, 32).mean(axis=(1, 3)).ravel()
    np.testing.assert_allclose(f.mean, cells, rtol=1e-4)
    half = x.reshape(96, 2, 160, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(f.half[0], half, rtol=1e-5)
    d = np.abs(half - prev[0]).reshape(6, 16, 10, 16).mean(axis=(1, 3)).ravel()
    np.testing.assert_allclose(f.diff, d, rtol=1e-4)


def test_spectrum_finds_a_grating_where_it_is() -> None:
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:THUMB_H, 0:THUMB_W]
    base = rng.normal(128, 15, (THUMB_H, THUMB_W))
    det = Detector()
    plain = det.run(np.clip(base, 0, 255).astype(np.uint8)[None])[0]
    # Vertical stripes of period 4 px: horizontal frequency 16/4 = 4 in the 16-px patches.
    grating = np.clip(base + 20 * np.sin(2 * np.pi * xx / 4), 0, 255).astype(np.uint8)
    f = det.run(grating[None])[0]
    rise = f.spec_fine - plain.spec_fine
    u, v = np.unravel_index(np.argmax(rise), rise.shape)
    assert (u, v) == (0, 4)
    assert rise.max() > 1.0


def test_native_patches_see_lines_finer_than_the_thumbnail() -> None:
    """Lines 2.5 px apart on a D1 picture: the 3x area downscale to the thumbnail cancels
    them, the native-resolution patches keep them (bin 16 / 2.5 = 6.4 along y)."""
    from pipeline.frames import native_mosaic, thumbnail

    rng = np.random.default_rng(2)
    h, w = 576, 704
    yy = np.mgrid[0:h, 0:w][0]
    base = _scene(rng.normal(128, 30, (h, w)))
    det = Detector()

    def feats(img: np.ndarray):
        img = np.clip(img, 0, 255).astype(np.uint8)
        return det.run(thumbnail(img)[None], None, native_mosaic(img)[None])[0]

    plain = feats(base)
    lined = feats(base + 6 * np.sin(2 * np.pi * yy / 2.5))
    rise = lined.spec_native - plain.spec_native
    u, v = np.unravel_index(np.argmax(rise), rise.shape)
    assert (u, v) in ((6, 0), (7, 0)), (u, v)
    assert rise.max() > 1.0
    assert (lined.spec_fine - plain.spec_fine).max() < 0.3  # what the thumbnail alone sees


def _scene(x: np.ndarray) -> np.ndarray:
    """A scene-like picture: noise smoothed to a few pixels, as optics and compression do."""
    import cv2

    return cv2.GaussianBlur(x.astype(np.float32), (0, 0), 2.0) * 3 + 128 - 3 * 128


def test_features_do_not_depend_on_the_chunk_size() -> None:
    # Detector.run feeds the session a few frames at a time (for the cache); an odd batch
    # checks that the last, shorter chunk is not dropped or mixed up with another camera's.
    # Equal to float32 rounding, not bit for bit: the GEMM kernels sum in an order that
    # depends on how many rows a product has, i.e. on the batch (so it did before chunking).
    rng = np.random.default_rng(2)
    frames = rng.integers(0, 256, (7, THUMB_H, THUMB_W)).astype(np.uint8)
    prevs = rng.uniform(0, 255, (7, THUMB_H // 2, THUMB_W // 2)).astype(np.float32)
    whole = Detector(chunk=16).run(frames, prevs)
    for chunk in (1, 2, 3):
        got = Detector(chunk=chunk).run(frames, prevs)
        assert len(got) == len(whole) == 7
        for a, b in zip(whole, got, strict=True):
            for name in a.__slots__:
                if getattr(a, name) is None:  # not a graph output (e.g. chroma, from sources)
                    assert getattr(b, name) is None, name
                    continue
                np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-5,
                                           atol=1e-4, err_msg=name)
