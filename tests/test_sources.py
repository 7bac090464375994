"""Decoding as the agent does it: keyframes only where that is enough, every reason named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_agent.sources import (
    ReadPacer,
    SourceError,
    keyframe_decoder,
    mask_url,
    open_source,
    thumbnail_from_frame,
)
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


def test_keyframes_decoded_alone_skip_deblocking_but_look_the_same(gop_clips) -> None:
    """The cheaper keyframe decoder really drops the deblocking filter (the full-size pictures
    differ), yet the thumbnails the detectors see agree to within a gray level on average
    (0.66 for this 320x240 clip, the least scaled case; 0.3-0.7 measured at 640x360 to 1080p)."""
    import av

    with av.open(str(gop_clips["gop2"])) as c:
        stream = c.streams.video[0]
        keys = [p for p in c.demux(stream) if p.size and p.is_keyframe][:3]
        full, cheap = stream.codec_context, keyframe_decoder(stream.codec_context)
        assert cheap is not full
        for pkt in keys:
            a = [*full.decode(pkt), *full.decode(None)][0]
            b = [*cheap.decode(pkt), *cheap.decode(None)][0]
            full.flush_buffers()
            cheap.flush_buffers()
            ya = a.to_ndarray(format="gray").astype(np.int16)
            yb = b.to_ndarray(format="gray").astype(np.int16)
            assert np.abs(ya - yb).max() > 0, "skip_loop_filter had no effect"
            ta = thumbnail_from_frame(a).astype(np.float32)
            tb = thumbnail_from_frame(b).astype(np.float32)
            assert np.abs(ta - tb).mean() < 1.0


def test_every_frame_decoding_keeps_the_deblocking_filter(gop_clips) -> None:
    """After the switch to every-frame decoding (a 10 s GOP), P-frames are predicted from
    deblocked references: the samples are bit-identical to a fully deblocked decode."""
    cheap = [f for f in open_source(str(gop_clips["gop10"]), sample_interval=1.0)
             if not f.keyframe]
    full = [f for f in open_source(str(gop_clips["gop10"]), sample_interval=1.0,
                                   deblock_keyframes=True) if not f.keyframe]
    assert len(cheap) == len(full) >= 15
    for a, b in zip(cheap, full, strict=True):
        assert a.t == b.t
        assert np.array_equal(a.gray, b.gray)


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s


def _live(pacer: ReadPacer, clock: _Clock, seconds: float, fps: int = 25, size: int = 500,
          read_cost: float = 0.0) -> None:
    """Packets of a live camera (stream time = arrival time - 7) read by a reader that takes
    `read_cost` seconds per packet and, when it is ahead, waits for the next one."""
    for i in range(int(seconds * fps)):
        arrival = 100.0 + i / fps
        clock.now = max(clock.now + read_cost, arrival)
        pacer.after(arrival - 7.0, size)


def test_pacer_pauses_a_reader_that_keeps_up() -> None:
    clock = _Clock()
    pacer = ReadPacer(max_pause=0.25, clock=clock, sleep=clock.sleep)
    _live(pacer, clock, 20)
    # After the first second (bit rate unknown), about one pause per pause length.
    assert 40 <= len(clock.slept) <= 80, len(clock.slept)
    assert set(clock.slept) == {0.25}
    # And it never fell behind by more than a pause plus CAUGHT_UP.
    assert clock.now - (100.0 + 20 - 1 / 25) <= 0.25 + ReadPacer.CAUGHT_UP


def test_pacer_never_pauses_a_reader_that_falls_behind() -> None:
    clock = _Clock()
    pacer = ReadPacer(clock=clock, sleep=clock.sleep)
    # Each packet takes longer to handle than the camera takes to send the next one.
    _live(pacer, clock, 20, read_cost=0.05)
    assert clock.slept == []


def test_pacer_pauses_less_for_a_high_bitrate_stream_and_not_without_timestamps() -> None:
    clock = _Clock()
    pacer = ReadPacer(max_pause=0.25, max_bytes=64 * 1024, clock=clock, sleep=clock.sleep)
    _live(pacer, clock, 10, size=20_000)  # 500 kB/s: 64 KiB is ~0.13 s of it
    assert clock.slept and max(clock.slept) < 0.14
    clock = _Clock()
    pacer = ReadPacer(clock=clock, sleep=clock.sleep)
    for _ in range(500):
        pacer.after(None, 500)
    assert clock.slept == []


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
