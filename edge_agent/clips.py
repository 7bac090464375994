"""Synthetic camera clips (raw H.264) for the RTSP test server, the tests and the benchmark.

Why synthetic: CI has no camera footage and may not fetch any, yet the detectors and the
decoder must see something camera-like: a textured, mostly static scene with a little sensor
noise and one moving object, a fixed GOP and no B-frames (like most IP cameras). Faults are
painted onto that scene from a given second on, the way the volunteers' log describes them:
leaves over the lens (blocked), a defocused or fogged lens (blur), rolling interference bars
(ripple), a stuck encoder (frozen).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import av
import cv2
import numpy as np

FAULT_KINDS = ("none", "blocked", "blur", "ripple", "frozen")


def scene(width: int, height: int, seed: int = 1) -> np.ndarray:
    """A textured BGR still: sky gradient, buildings with windows, a fence, road markings."""
    rng = np.random.default_rng(seed)
    img = np.zeros((height, width, 3), np.uint8)
    sky = np.linspace(200, 120, height // 3, dtype=np.float32)[:, None]
    img[: height // 3] = np.stack([sky + 20, sky + 10, sky], axis=-1).astype(np.uint8)
    img[height // 3:] = (90, 95, 100)
    for _ in range(12):  # buildings
        x, w = int(rng.integers(0, width)), int(rng.integers(width // 12, width // 5))
        top = int(rng.integers(height // 6, height // 2))
        color = tuple(int(c) for c in rng.integers(60, 200, 3))
        cv2.rectangle(img, (x, top), (x + w, int(height * 0.75)), color, -1)
        step = max(6, w // 6)
        for wx in range(x + 4, x + w - 4, step):
            for wy in range(top + 6, int(height * 0.72), step):
                shade = int(rng.integers(20, 240))
                cv2.rectangle(img, (wx, wy), (wx + step // 2, wy + step // 2),
                              (shade, shade, int(shade * 0.9)), -1)
    for fx in range(0, width, max(4, width // 120)):  # fence
        cv2.line(img, (fx, int(height * 0.78)), (fx, int(height * 0.9)), (40, 40, 40), 1)
    for rx in range(0, width, width // 8):  # road markings
        cv2.rectangle(img, (rx, int(height * 0.95)), (rx + width // 16, int(height * 0.96)),
                      (230, 230, 230), -1)
    texture = rng.normal(0, 10, (height // 4 + 1, width // 4 + 1)).astype(np.float32)
    texture = cv2.resize(texture, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(img.astype(np.float32) + texture[..., None], 0, 255).astype(np.uint8)


def _paint_fault(frame: np.ndarray, kind: str, k: int, rng: np.random.Generator) -> np.ndarray:
    h, w = frame.shape[:2]
    if kind == "blocked":
        out = frame.copy()
        mask = np.zeros((h, w), np.uint8)
        for i in range(40):  # overlapping leaves, covering most of the picture
            cx = int((0.15 + 0.7 * ((i * 37) % 40) / 40) * w)
            cy = int((0.1 + 0.8 * ((i * 17) % 40) / 40) * h)
            cv2.ellipse(mask, (cx, cy), (w // 6, h // 8), (i * 23) % 180, 0, 360, 255, -1)
        leaves = np.zeros_like(frame)
        leaves[:] = (20, 45, 25)
        out[mask > 0] = leaves[mask > 0]
        return out
    if kind == "blur":
        sigma = max(w, h) / 90
        return cv2.GaussianBlur(frame, (0, 0), sigma)
    if kind == "ripple":
        period = max(8, h // 40)
        rows = np.arange(h, dtype=np.float32)
        bars = 45 * np.sin(2 * np.pi * (rows + 3 * k) / period)
        return np.clip(frame.astype(np.float32) + bars[:, None, None], 0, 255).astype(np.uint8)
    return frame


def encode_h264(path: str | Path, frames: Iterable[np.ndarray], *, fps: int,
                gop_seconds: float = 2.0, crf: int = 28, preset: str = "ultrafast",
                slices: int = 1, bitrate_kbps: int | None = None,
                hevc: bool | None = None) -> Path:
    """Encode BGR uint8 pictures as an Annex-B H.264 stream the RTSP server can loop, or
    H.265 when the file name ends in .h265 or .hevc (as many newer cameras send).

    Fixed GOP, no B-frames and one slice per picture, like most IP cameras: PyAV's default
    slice threading would split every picture into slices that RTP then delivers as separate
    packets. `slices` > 1 asks for exactly that, as some cameras send. Written to a temporary
    name first, so an interrupted run leaves no half clip.

    A name ending in .mp4 or .mkv gets that container (timestamps at `fps`, which a raw
    stream lacks: FFmpeg reads raw H.264 at 25 fps), with `hevc` choosing the codec.
    `bitrate_kbps` encodes at a constant bit rate (a camera's setting) instead of `crf`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    gop = max(1, round(gop_seconds * fps))
    container = {".mp4": "mp4", ".mkv": "matroska"}.get(path.suffix.lower())
    if hevc is None:
        hevc = path.suffix.lower() in (".h265", ".hevc")
    rate = ({"crf": str(crf)} if bitrate_kbps is None else
            {"b": f"{bitrate_kbps}k", "maxrate": f"{bitrate_kbps}k",
             "bufsize": f"{2 * bitrate_kbps}k"})
    with av.open(str(tmp), "w", format=container or ("hevc" if hevc else "h264")) as out:
        st = None
        for img in frames:
            if st is None:
                st = out.add_stream("libx265" if hevc else "libx264", rate=fps)
                st.height, st.width = img.shape[:2]
                st.pix_fmt = "yuv420p"
                st.codec_context.gop_size = gop
                st.codec_context.max_b_frames = 0
                st.codec_context.thread_type = "FRAME"
                if hevc:
                    params = (f"keyint={gop}:min-keyint={gop}:bframes=0:scenecut=0:"
                              "repeat-headers=1:log-level=error")
                    if slices > 1:
                        params += f":slices={slices}"
                    st.codec_context.options = {"preset": preset, **rate,
                                                "x265-params": params}
                else:
                    st.codec_context.options = {"preset": preset, **rate, "bf": "0",
                                                "keyint_min": str(gop), "sc_threshold": "0",
                                                "repeat-headers": "1"}
                    if slices > 1:
                        st.codec_context.thread_type = "NONE"
                        st.codec_context.options = {**st.codec_context.options,
                                                    "x264-params": f"slices={slices}"}
            for pkt in st.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(pkt)
        if st is not None:
            for pkt in st.encode(None):
                out.mux(pkt)
    tmp.rename(path)
    return path


def make_clip(path: str | Path, *, width: int = 704, height: int = 576, fps: int = 10,
              seconds: float = 6.0, gop_seconds: float = 2.0, fault: str = "none",
              fault_at: float = 0.0, seed: int = 1, crf: int = 28,
              preset: str = "ultrafast", slices: int = 1) -> Path:
    """Write an Annex-B H.264 clip of the synthetic scene; returns its path.

    From `fault_at` seconds on, the picture shows `fault`. Clips are cached: an existing file
    is kept, since the name is expected to encode the parameters.
    """
    if fault not in FAULT_KINDS:
        raise ValueError(f"fault must be one of {FAULT_KINDS}")
    path = Path(path)
    if path.exists() and path.stat().st_size > 0:
        return path
    rng = np.random.default_rng(seed)
    base = scene(width, height, seed)

    def frames() -> Iterator[np.ndarray]:
        frozen: np.ndarray | None = None
        for k in range(round(seconds * fps)):
            img = base.copy()
            x = int((k * 7) % max(1, width - width // 10))  # a car crossing
            cv2.rectangle(img, (x, int(height * 0.8)), (x + width // 10, int(height * 0.9)),
                          (30, 30, 180), -1)
            noise = rng.integers(-3, 4, (height // 2, width // 2, 1), dtype=np.int16)
            noise = cv2.resize(noise.astype(np.float32), (width, height))[..., None]
            img = np.clip(img + noise, 0, 255).astype(np.uint8)
            if fault != "none" and k >= fault_at * fps:
                if fault == "frozen":
                    frozen = img if frozen is None else frozen
                    img = frozen
                else:
                    img = _paint_fault(img, fault, k, rng)
            yield img

    return encode_h264(path, frames(), fps=fps, gop_seconds=gop_seconds, crf=crf,
                       preset=preset, slices=slices)
