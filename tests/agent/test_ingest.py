"""Ingest from a real RTSP server: a live stream is read in bursts, never falling behind."""

from __future__ import annotations

import re
import time
from contextlib import closing
from itertools import islice

import pytest

from edge_agent import sources
from tests.agent.conftest import RtspServer


def test_live_stream_is_read_in_bursts_without_falling_behind(clips, procs,
                                                              monkeypatch) -> None:
    server = RtspServer({"cam": clips["none"]}).start()
    procs.append(server)
    pauses: list[float] = []

    class Spy(sources.ReadPacer):
        def __init__(self) -> None:
            super().__init__(sleep=lambda s: (pauses.append(s), time.sleep(s)))

    monkeypatch.setattr(sources, "ReadPacer", Spy)
    it = sources.open_source(server.url("cam"), sample_interval=2.0, open_timeout=5,
                             read_timeout=3)
    frames, lags = [], []
    try:
        for f in it:
            frames.append(f)
            lags.append(time.monotonic() - f.t)  # wall clock minus stream time
            if len(frames) == 6:
                break
    finally:
        it.close()
    ts = [f.t for f in frames]
    # One keyframe per 2 s GOP (the first may come a frame early: its packet has no PTS).
    assert all(abs(b - a - 2.0) <= 0.15 for a, b in zip(ts, ts[1:], strict=False)), ts
    # ~10 s of a 10 fps stream: paused a few times a second instead of waking per frame.
    assert len(pauses) >= 10, pauses
    assert max(pauses) <= 0.25
    # Samples arrive as late as a pause at most, and that does not grow: no backlog builds.
    assert max(lags) - min(lags) < 0.6, lags


def _served_samples(procs, clip, *, interval: float, n: int) -> list[sources.Frame]:
    """The first `n` samples the agent's reader takes from `clip` served over real RTSP."""
    server = RtspServer({"cam": clip}).start()
    procs.append(server)
    with closing(sources.open_source(server.url("cam"), sample_interval=interval,
                                     open_timeout=5, read_timeout=3)) as it:
        return list(islice(it, n))


def _keyframe_slices(data: bytes, hevc: bool) -> int:
    """Slice NAL units of a keyframe in an Annex-B packet (IDR for H.264, IRAP for H.265)."""
    types = [data[m.end()] for m in re.finditer(b"\x00\x00\x01", data) if m.end() < len(data)]
    if hevc:
        return sum(16 <= (t >> 1) & 0x3F <= 21 for t in types)
    return sum(t & 0x1F == 5 for t in types)


@pytest.mark.parametrize("suffix", [".h264", ".h265"])
def test_keyframe_sent_as_several_slices_is_decoded_whole(tmp_path, procs, suffix) -> None:
    """Some cameras cut every picture into slices, and RTP delivers each H.264 slice as its
    own packet, every one flagged as a keyframe (the stream's first without a timestamp);
    FFmpeg reassembles H.265 pictures itself. Each sample must be the whole picture, the same
    as decoding the clip's keyframes from the file, where one packet holds all slices:
    FFmpeg's H.264 decoder would otherwise hand out the first slice as a finished picture,
    the lower three quarters of the thumbnail wrong by ~30 gray levels. And the untimed
    first picture must not shift the sampling clock, which skipped the second keyframe."""
    import av
    import numpy as np

    from edge_agent.clips import make_clip

    clip = make_clip(tmp_path / f"slices{suffix}", fps=10, seconds=6, slices=4)
    expected = []
    with av.open(str(clip)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == ("hevc" if suffix == ".h265" else "h264")
        dec = sources.keyframe_decoder(stream.codec_context)
        for pkt in c.demux(stream):
            if pkt.size and pkt.is_keyframe:
                assert _keyframe_slices(bytes(pkt), suffix == ".h265") >= 4, "not in slices"
                pictures = [*dec.decode(pkt), *dec.decode(None)]
                dec.flush_buffers()
                expected.append(sources.thumbnail_from_frame(pictures[0]).astype(np.float32))
    assert len(expected) == 3
    got = _served_samples(procs, clip, interval=2.0, n=5)
    assert all(f.keyframe for f in got)
    ts = [f.t for f in got]
    assert all(abs(b - a - 2.0) <= 0.15 for a, b in zip(ts, ts[1:], strict=False)), ts
    for f in got:
        # The nearest of the clip's keyframes (the stream loops; the car moves between them).
        err = min(float(np.abs(f.gray.astype(np.float32) - e).mean()) for e in expected)
        assert err < 0.5, f"sample at {f.t:.1f} s differs from every keyframe by {err:.1f}"


@pytest.mark.parametrize("slices", [1, 4])
def test_long_gop_stream_switches_to_every_frame_without_a_repeat(tmp_path, procs,
                                                                  slices) -> None:
    """A camera whose keyframes are too far apart for the interval (6 s GOP, one sample a
    second) is decoded frame by frame from its buffered keyframe on. The keyframe was sampled
    already, so the samples must go on a second apart from it, not repeat it: replayed
    without a timestamp, it came out again about 3 s later, and the samples between were
    lost."""
    import numpy as np

    from edge_agent.clips import make_clip

    clip = make_clip(tmp_path / f"gop6_s{slices}.h264", fps=10, seconds=12, gop_seconds=6.0,
                     slices=slices)
    got = _served_samples(procs, clip, interval=1.0, n=6)
    ts = [f.t for f in got]
    assert all(0.85 <= b - a <= 1.15 for a, b in zip(ts, ts[1:], strict=False)), ts
    for a, b in zip(got, got[1:], strict=False):  # the car moves: no picture twice
        assert np.abs(a.gray.astype(np.int16) - b.gray.astype(np.int16)).mean() > 0.05
