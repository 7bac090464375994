"""The bare keyframe-only decode: the cost `lenswatch analyze` is measured against.

    python -m benchmarks.bare_decode FILE...

Why a module of its own: benchmarks/speed.py runs this in a child process and compares its
CPU time with `lenswatch analyze` over the same files. It imports only PyAV and NumPy, so
the baseline pays for nothing a plain decoder would not (importing OpenCV or ONNX Runtime
here would flatter the ratio).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np


def luma(frame: av.VideoFrame) -> np.ndarray:
    """The Y plane as a row-strided view: the gray picture, no colour conversion."""
    plane = frame.planes[0]
    rows = np.frombuffer(plane, dtype=np.uint8).reshape(frame.height, plane.line_size)
    return rows[:, : frame.width]


def iter_keyframes(path: Path | str) -> Iterator[np.ndarray]:
    """Keyframe-only decode as edge_agent.sources does it in keyframe mode: demux every
    packet, decode only keyframes (draining the decoder when B-frame delay holds one back),
    one decoder thread per stream."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        ctx.thread_type = "NONE"
        for pkt in container.demux(stream):
            if pkt.size == 0 or not pkt.is_keyframe:
                continue
            frames = ctx.decode(pkt)
            if not frames:
                frames = ctx.decode(None)
                ctx.flush_buffers()
            for fr in frames:
                yield luma(fr)


def decode_keyframes(path: Path | str) -> int:
    """Decode a file's keyframes, take each Y plane and drop it; returns how many."""
    return sum(1 for _ in iter_keyframes(path))


def decode_all(path: Path | str, max_frames: int) -> int:
    """Decode every frame (up to max_frames) and take its Y plane; returns how many."""
    n = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        ctx.thread_type = "NONE"
        for pkt in container.demux(stream):
            for fr in ctx.decode(pkt):
                luma(fr)
                n += 1
            if n >= max_frames:
                return n
    return n


def main(argv: list[str] | None = None) -> int:
    """Decode the keyframes of every file given, one after the other."""
    for f in sys.argv[1:] if argv is None else argv:
        decode_keyframes(f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
