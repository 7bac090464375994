"""Ingest from a real RTSP server: a live stream is read in bursts, never falling behind."""

from __future__ import annotations

import time

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
