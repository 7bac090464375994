"""Decoding as the agent does it: keyframes only where that is enough, every reason named."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.sources import SourceError, mask_url, open_source
from pipeline.frames import THUMB_H, THUMB_W
from tests.clips import Clip, encode, walkers


@pytest.fixture(scope="module")
def gop_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("gop")
    out = {}
    for name, gop in (("gop2", 2.0), ("gop10", 10.0)):
        out[name] = encode(d / f"{name}.mp4", Clip(width=320, height=240, seconds=24,
                                                   gop_s=gop),
                           lambda i, t, b: walkers(b, t))
    return out


def test_keyframes_only_when_gop_is_short(gop_clips) -> None:
    frames = list(open_source(str(gop_clips["gop2"]), sample_interval=1.0))
    assert all(f.keyframe for f in frames)
    ts = [f.t for f in frames]
    assert [round(b - a, 1) for a, b in zip(ts, ts[1:], strict=False)] == [2.0] * (len(ts) - 1)
    assert frames[0].gray.shape == (THUMB_H, THUMB_W)


def test_long_gop_falls_back_to_sampling_every_interval(gop_clips) -> None:
    frames = list(open_source(str(gop_clips["gop10"]), sample_interval=1.0))
    ts = [f.t for f in frames]
    gaps = [b - a for a, b in zip(ts, ts[1:], strict=False)]
    assert max(gaps) <= 1.5, f"a 10 s GOP must still be sampled about every second: {ts}"
    assert len(frames) >= 20
    assert not all(f.keyframe for f in frames)


@pytest.mark.parametrize(("url", "reason"), [
    ("/no/such/file.mp4", "not_found"),
    ("rtsp://127.0.0.1:9/stream", "refused"),
    ("bogus://camera", "bad_url"),
    ("", "bad_url"),
])
def test_failures_have_reasons(url: str, reason: str) -> None:
    with pytest.raises(SourceError) as info:
        list(open_source(url, open_timeout=2, read_timeout=2))
    assert info.value.reason == reason
    assert info.value.message  # says what is wrong and what to check


def test_corrupt_data_is_undecodable(tmp_path: Path) -> None:
    p = tmp_path / "noise.mp4"
    p.write_bytes(bytes(range(256)) * 200)
    with pytest.raises(SourceError) as info:
        list(open_source(str(p)))
    assert info.value.reason == "undecodable"
    assert str(p) in info.value.message


def test_credentials_are_masked() -> None:
    assert mask_url("rtsp://admin:s3cret@10.0.0.5:554/ch1") == "rtsp://admin:***@10.0.0.5:554/ch1"
    assert mask_url("rtsp://10.0.0.5/ch1") == "rtsp://10.0.0.5/ch1"
    with pytest.raises(SourceError) as info:
        list(open_source("rtsp://admin:s3cret@127.0.0.1:9/ch1", open_timeout=2))
    assert "s3cret" not in str(info.value)


@pytest.mark.parametrize("fmt", ["yuv420p", "nv12", "rgb24"])
def test_native_patches_and_colour_come_from_the_decoded_picture(fmt: str) -> None:
    """The native patches are the Y plane's own pixels (no scaling), and the mean colour is
    read from the chroma planes where the format has them (None where it has not)."""
    import av
    import numpy as np

    from edge_agent.sources import chroma_from_frame, native_from_frame
    from pipeline.frames import native_mosaic

    rng = np.random.default_rng(3)
    bgr = np.empty((360, 640, 3), np.uint8)
    bgr[:] = (150, 80, 40)                      # a blue picture: Cb > 0, Cr < 0
    bgr[::2] = np.clip(bgr[::2].astype(int) + rng.integers(-20, 20, (180, 640, 1)), 0, 255)
    frame = av.VideoFrame.from_ndarray(bgr, format="bgr24").reformat(format=fmt)
    luma = av.VideoFrame.from_ndarray(bgr, format="bgr24").reformat(format="yuv420p").planes[0]
    y = np.frombuffer(luma, np.uint8).reshape(-1, luma.line_size)[:360, :640]
    native = native_from_frame(frame)
    # The Y plane itself for YUV pictures; other formats are converted to gray (full range).
    tol = 40 if fmt == "rgb24" else 1  # swscale rounds bgr -> nv12 a little differently
    np.testing.assert_allclose(native.astype(int), native_mosaic(y).astype(int), atol=tol)
    chroma = chroma_from_frame(frame)
    if fmt == "rgb24":
        assert chroma is None
    else:
        assert chroma is not None and chroma[0] > 20 and chroma[1] < -10, chroma
