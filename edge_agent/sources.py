"""Open a camera (RTSP, HTTP or a file) and yield only the pictures a health check needs.

The cost to beat on an edge box is the video decode, not the detector, so this module decodes
as little as it can: only keyframes while they come often enough for the sample interval, and
every frame (sampled in time) only for long-GOP streams where keyframes alone would leave gaps.
The Y plane of the decoded picture is already the gray image; it is scaled to the analysis
thumbnail straight away so no full-size copy outlives the decode.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import av
import av.error
import cv2
import numpy as np
from av.codec.context import CodecContext
from av.video.reformatter import VideoReformatter

from pipeline.frames import THUMB_H, THUMB_W, native_mosaic

_NETWORK = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")
#: Live sources over TCP (RTSP is forced to TCP here), whose reads ReadPacer may space out:
#: TCP holds what arrives meanwhile, where a UDP socket could overflow and drop it.
_PACED = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "tcp://")

REASONS = ("refused", "timeout", "auth_failed", "not_found", "ended", "undecodable", "bad_url")


class SourceError(Exception):
    """A camera gave no usable pictures; `reason` is one of REASONS, the message says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(slots=True)
class Frame:
    """One sampled picture: `t` in seconds from the first decoded frame of this connection.

    `gray` is the analysis thumbnail; `native` the picture's full-resolution patches
    (pipeline.frames.native_mosaic), for interference finer than the thumbnail holds;
    `chroma` the picture's mean colour (Cb - 128, Cr - 128), None when the format has no
    chroma planes to read cheaply."""

    t: float
    gray: np.ndarray
    keyframe: bool
    native: np.ndarray | None = None
    chroma: np.ndarray | None = None


def mask_url(url: str) -> str:
    """The URL with any password replaced, safe for logs, metrics, events and pages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"//[^/@]*@", "//***@", url)
    if parts.password is None and "@" not in parts.netloc:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{user}:***@{host}" if user else f"***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def is_network(url: str) -> bool:
    """Whether `url` names a live stream (as opposed to a file that may end normally)."""
    return url.lower().startswith(_NETWORK)


def classify(exc: BaseException) -> str:
    """Map a PyAV/FFmpeg failure to the reason an operator and a crew can act on.

    Exception types first; FFmpeg's wording ("Server returned 401 Unauthorized") second, and
    never bare status numbers, which a URL's port or path can contain."""
    text = str(exc).lower()
    if isinstance(exc, av.error.ProtocolNotFoundError) or "protocol not found" in text:
        return "bad_url"
    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError) or re.search(
            r"returned 40[13]|unauthorized|forbidden|authori[sz]ation failed", text):
        return "auth_failed"
    if isinstance(exc, av.error.HTTPNotFoundError | av.error.FileNotFoundError
                  | FileNotFoundError) or re.search(r"returned 404|no such file", text):
        return "not_found"
    if isinstance(exc, ConnectionRefusedError) or "connection refused" in text:
        return "refused"
    if isinstance(exc, TimeoutError | av.error.ExitError) or any(
        k in text for k in ("timed out", "timeout", "immediate exit")
    ):
        return "timeout"
    return "undecodable"


_ADVICE = {
    "refused": "the camera or its RTSP server is not listening: check power, IP and port",
    "timeout": "the camera did not answer in time: check the network path and the camera",
    "auth_failed": "the camera rejected the credentials: check the user and password",
    "not_found": "no such file or stream path: check the URL path (e.g. the channel name)",
    "ended": "the stream ended",
    "undecodable": "the data is not a video this decoder can read: check codec and stream",
    "bad_url": "the URL is not valid: use rtsp://host[:port]/path, http(s)://..., or a file",
}


def _error(reason: str, url: str, detail: str) -> SourceError:
    # FFmpeg's own messages quote the raw URL: scrub it so no password reaches a log.
    detail = detail.replace(url, mask_url(url))
    return SourceError(reason, f"{mask_url(url)}: {detail} ({_ADVICE[reason]})")


def _rows(plane: av.video.plane.VideoPlane) -> np.ndarray:
    """A decoded plane's buffer as rows of `line_size` bytes (the padding included), a view:
    slice `[:height, :width]` for the picture."""
    return np.frombuffer(plane, dtype=np.uint8).reshape(-1, plane.line_size)


def thumbnail_from_frame(frame: av.VideoFrame,
                         scaler: VideoReformatter | None = None) -> np.ndarray:
    """The luma plane scaled straight to the analysis thumbnail by FFmpeg's swscale.

    Area averaging as in pipeline.frames.thumbnail, but measured 3-8x cheaper than OpenCV's
    for the non-integer ratios cameras have (1080p: 0.6 ms against 5 ms), and no full-size
    gray copy is ever made: for YUV frames the gray output is the Y plane, scaled.
    """
    # One `scaler` per stream keeps swscale's context: set up anew per frame it cost 0.5-1 ms
    # more per sample (measured, 704x576 to 1080p).
    small = (scaler or VideoReformatter()).reformat(
        frame, width=THUMB_W, height=THUMB_H, format="gray", interpolation="AREA")
    return np.ascontiguousarray(_rows(small.planes[0])[:THUMB_H, :THUMB_W])


#: Pixel formats whose first plane is 8-bit luma: the gray picture without a conversion.
_LUMA_FIRST = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p",
                         "yuv440p", "yuvj440p", "yuv411p", "yuv410p", "nv12", "nv21", "nv16",
                         "gray"})


def native_from_frame(frame: av.VideoFrame) -> np.ndarray:
    """The native-resolution patches of a decoded picture, sliced from its Y plane.

    No full-size copy: the patches are gathered straight from the decoder's buffer (about
    15 us at 1080p). A picture in another format (RGB from an MJPEG camera, 10-bit) is
    converted to gray first, which costs a full-size pass but is rare."""
    if frame.format.name in _LUMA_FIRST:
        y = _rows(frame.planes[0])[:frame.height, :frame.width]
    else:
        y = frame.to_ndarray(format="gray")
    return native_mosaic(y)


#: Planar formats whose second and third planes are Cb and Cr.
_PLANAR_CHROMA = frozenset(f for f in _LUMA_FIRST if not f.startswith(("nv", "gray")))
#: Every 16th chroma pixel each way: ~500 samples at 720p, ~20 us for both planes (measured;
#: a NumPy mean over a strided view cost 3-4x as much).
_CHROMA_STEP = 16


def chroma_from_frame(frame: av.VideoFrame) -> np.ndarray | None:
    """The picture's mean colour as (Cb - 128, Cr - 128), from a sparse grid of the decoded
    chroma planes: paint or a coloured film over the lens tints the whole view, which the
    gray thumbnail cannot tell from fog. None for formats without separate chroma planes."""
    name = frame.format.name
    step = _CHROMA_STEP
    if name in _PLANAR_CHROMA:
        out = []
        for plane in frame.planes[1:3]:
            out.append(cv2.mean(np.ascontiguousarray(
                _rows(plane)[:plane.height:step, :plane.width:step]))[0])
        return np.array(out, np.float32) - 128.0
    if name in ("nv12", "nv21"):
        plane = frame.planes[1]  # interleaved chroma pairs, half the picture's width
        w = frame.width // 2
        uv = np.ascontiguousarray(
            _rows(plane)[:plane.height:step, :2 * w].reshape(-1, w, 2)[:, ::step])
        m = np.array(cv2.mean(uv)[:2], np.float32) - 128.0
        return m if name == "nv12" else m[::-1].copy()
    return None


#: Decoders that honour AVCodecContext.skip_loop_filter (FFmpeg's H.264 and HEVC).
_DEBLOCKING = ("h264", "hevc")


def whole_picture_options(codec: str) -> dict[str, str]:
    """Decoder options that make a picture sent as several packets come out whole.

    Why: a camera that cuts its pictures into slices sends each slice over RTP as a packet of
    its own, and FFmpeg's H.264 decoder takes every packet for a whole picture unless told
    otherwise: it hands out the first slice as a finished picture, the rest of it gray. With
    `chunks` it hands a picture out only once the next one begins or the decoder is drained,
    which open_source does as soon as a packet of another picture arrives.
    """
    return {"flags2": "+chunks"} if codec == "h264" else {}


def keyframe_decoder(stream_ctx: CodecContext) -> CodecContext:
    """A decoder for keyframes decoded alone, without the in-loop deblocking filter.

    Why: deblocking is 13-20 % of an H.264 keyframe's decode (callgrind and CPU time on 704x576
    and 1080p clips), and its effect, smoothing 4-8 pixel block edges, mostly averages out in
    the area scaling to the 320 x 192 thumbnail the detectors see: thumbnails moved by 0.3-0.7
    gray levels on average (a few pixels by up to ~16), and the labelled accuracy set gave the
    same events, to the tenth of a second, with and without it. Skipping
    it is safe only when no later picture is predicted from this one: true in keyframe mode,
    where every P-frame is dropped undecoded. Every-frame decoding keeps the stream's own, full
    decoder, or errors would build up along the GOP.

    A separate context because FFmpeg reads the option once, when the decoder opens. Other
    codecs (MJPEG, MPEG-4 part 2, ...) get the stream's own decoder back.
    """
    if stream_ctx.name not in _DEBLOCKING:
        return stream_ctx
    ctx = av.CodecContext.create(stream_ctx.name, "r")
    if stream_ctx.extradata:
        # avcC/hvcC from MP4 or the SDP's parameter sets: the decoder needs them to parse.
        ctx.extradata = stream_ctx.extradata
    ctx.thread_type = "NONE"
    ctx.options = {"skip_loop_filter": "all", **whole_picture_options(ctx.name)}
    return ctx


#: Keyframe decoders alive at once in this process, and how long a camera waits for one.
#: Why: cameras started together keep their GOPs in step, so without a bound every camera
#: thread of an agent holds a decoder (picture buffers and tables, 5-8 MB at 1080p) at the same
#: moment, although only as many decode at a time as there are cores; 64 cameras at 1080p
#: measured 670 MB resident. Decoding is CPU-bound, so waiting for a slot costs no throughput.
#: The wait is bounded: a camera whose stream stalls mid-keyframe holds its slot until the read
#: timeout, and the others must not starve behind it, so past the wait a camera decodes anyway.
DECODE_SLOTS = 2 * len(os.sched_getaffinity(0)) + 2 if hasattr(os, "sched_getaffinity") else 6
DECODE_SLOT_WAIT = 1.0
_decode_slots = threading.BoundedSemaphore(DECODE_SLOTS)
#: The PTS a held keyframe is known by when its first packet came without one.
_UNTIMED = -1e18


class ReadPacer:
    """Lets a live stream's packets pile up in the socket, so its thread wakes a few times a
    second instead of once per frame.

    Why: a camera thread blocked in a read wakes for every frame the camera sends (25 a
    second), and each wake-up (poll, three reads per RTP packet over TCP, the GIL, a context
    switch) costs more than the few bytes it brings: on a 2-core box receiving the 49 frames of
    a GOP that are never decoded took about a third of the CPU per sample (704x576, 16-32
    cameras per process). Pausing a quarter of a second whenever the reader has caught up
    with the camera turns those ~6 wake-ups into one and cut that cost by a third (measured).

    It only pauses when caught up: `wall clock - stream time` of the packet just read is
    within CAUGHT_UP (or half a pause) of the smallest value seen, i.e. it is about the
    freshest packet the camera has sent. A reader that falls behind (a busy box) therefore
    never pauses, and the backlog stays under a pause plus CAUGHT_UP. The reference creeps up
    by 1 ms per second so a camera clock slower than the agent's cannot stop the pausing for
    ever; a faster one simply lowers it. A pause is also capped by `max_bytes` at the
    stream's measured bit rate, so a high-bitrate camera pauses less and what waits in the
    socket stays around a default TCP receive buffer (beyond it TCP makes the camera wait a
    moment, as for any slow reader). The samples taken depend only on the camera's
    timestamps, not on when packets are read; a sample is at most one pause later.
    """

    CREEP = 0.001  # seconds per second: far above real clock drift (~50 ppm)
    CAUGHT_UP = 0.1  # seconds: a packet this close to the freshest is the last one waiting

    def __init__(self, max_pause: float = 0.25, max_bytes: int = 64 * 1024,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.max_pause = max_pause
        self.max_bytes = max_bytes
        self._clock = clock
        self._sleep = sleep
        self._best: float | None = None  # smallest (wall - stream time) seen ...
        self._best_at = 0.0  # ... and when
        self._first: float | None = None  # stream time of the first timed packet
        self._bytes = 0
        self.pauses = 0

    def after(self, ptime: float | None, size: int) -> None:
        """Account for the packet just read (stream time in seconds, bytes); maybe pause."""
        if ptime is None:
            return
        now = self._clock()
        lag = now - ptime
        self._bytes += size
        if self._first is None:
            self._first = ptime
        best = None if self._best is None else self._best + self.CREEP * (now - self._best_at)
        if best is None or lag <= best:
            self._best, self._best_at = lag, now
            best = lag
        span = ptime - self._first
        if span < 1.0:
            return  # the bit rate is not known yet
        pause = min(self.max_pause, self.max_bytes * span / max(1, self._bytes))
        if lag - best < min(self.CAUGHT_UP, pause / 2):
            self.pauses += 1
            self._sleep(pause)


def open_source(
    url: str,
    *,
    sample_interval: float = 1.0,
    open_timeout: float = 5.0,
    read_timeout: float = 5.0,
    max_keyframe_gap: float | None = None,
    max_buffered_packets: int = 1500,
    deblock_keyframes: bool = False,
    pace: bool = True,
) -> Iterator[Frame]:
    """Yield one thumbnail about every `sample_interval` seconds of stream time.

    Keyframes alone are decoded while they arrive at least every `max_keyframe_gap` seconds
    (default: twice the sample interval, at least 2.5 s, which admits the usual 2 s camera GOP).
    When a gap grows longer, the packets buffered since the last keyframe are decoded and the
    source switches to decoding every frame, taking one per interval. Raises SourceError with
    a reason and a message that names the (masked) URL; a file that simply ends just stops.

    Keyframes decoded alone skip H.264/HEVC's in-loop deblocking filter unless
    `deblock_keyframes` (see keyframe_decoder); every-frame decoding always runs it. A live
    stream over TCP is read in bursts a few times a second (ReadPacer) unless `pace` is false.
    """
    if not url or not isinstance(url, str):
        raise _error("bad_url", str(url), "empty camera URL")
    network = is_network(url)
    gap_limit = max_keyframe_gap if max_keyframe_gap is not None else max(2 * sample_interval,
                                                                          2.5)
    options: dict[str, str] = {}
    timeout: tuple[float, float | None] = (open_timeout, read_timeout)
    if network:
        # Measured: without these, probing a stream takes ~1.2 s before the first frame.
        options.update({"analyzeduration": "0", "probesize": "32", "fpsprobesize": "0"})
        if url.lower().startswith(("rtsp://", "rtsps://")):
            options["rtsp_transport"] = "tcp"
            # Reads time out in FFmpeg's socket layer, not in PyAV's interrupt callback: that
            # callback takes the GIL on every socket read (three per RTP packet over TCP),
            # which with dozens of camera threads costs CPU on every packet of every GOP.
            # A hung server fails the same way (TimeoutError after the read timeout); PyAV
            # still bounds the whole open (handshake included) by `open_timeout`.
            options["timeout"] = str(max(1, round(read_timeout * 1_000_000)))
            timeout = (open_timeout, None)
    try:
        container = av.open(url, options=options, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a classified SourceError
        reason = classify(exc)
        raise _error(reason, url, f"cannot open ({type(exc).__name__}: {exc})") from None
    try:
        if not container.streams.video:
            raise _error("undecodable", url, "no video stream in this source")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        ctx.thread_type = "NONE"  # one camera, one core: threads cost more than they save here
        ctx.options = whole_picture_options(ctx.name)

        def new_key_ctx() -> CodecContext:
            return ctx if deblock_keyframes else keyframe_decoder(ctx)

        yield from _sample(container, stream, ctx, new_key_ctx, url, sample_interval,
                           gap_limit, max_buffered_packets,
                           ReadPacer() if pace and url.lower().startswith(_PACED) else None)
    finally:
        container.close()


def _sample(container, stream, full_ctx, new_key_ctx, url: str, interval: float,
            gap_limit: float, max_buffered: int, pacer: ReadPacer | None) -> Iterator[Frame]:
    """The sampling loop of open_source.

    In keyframe mode each sampled keyframe gets a decoder of its own from `new_key_ctx`, kept
    only until its picture is out, and at most DECODE_SLOTS of them live at once. Why: a
    decoder kept between samples holds its picture buffers and per-picture tables, about 12 MB
    at 1080p; an agent with 64 such cameras measured 965 MB resident, over the 512 MB an edge
    box allows, and 372-375 MB with this (and limit_malloc_arenas in edge_agent.agent). A fresh
    H.264 decoder costs about 0.6 ms of a 1080p keyframe's 11 ms of decoding.
    """
    keyframe_mode = True
    ctx = full_ctx  # the every-frame decoder, once keyframes turn out too sparse
    key = None  # the decoder of the keyframe being decoded, while its picture is not out
    slot = False  # whether `key` holds one of the process's decode slots

    def open_key() -> CodecContext:
        nonlocal slot
        dec = new_key_ctx()
        if dec is not full_ctx:  # the stream's own decoder lives on anyway: nothing to bound
            slot = _decode_slots.acquire(timeout=DECODE_SLOT_WAIT)
        return dec

    def close_key() -> None:
        nonlocal key, slot
        key = None
        if slot:
            slot = False
            _decode_slots.release()
    pending: deque[av.Packet] = deque(maxlen=max_buffered)  # packets since the last keyframe
    last_key_time: float | None = None
    t0: float | None = None
    next_t = 0.0
    decoded_any = False
    bad_packets = 0
    packets_seen = 0
    tb = stream.time_base
    scaler = VideoReformatter()
    tb_seconds = float(tb)
    nominal_fps = float(stream.average_rate or stream.guessed_rate or 25)
    held_key: float | None = None  # pts of a keyframe whose picture the decoder still holds

    def emit(frames: list, keyframe: bool, when: float | None = None) -> list[Frame]:
        """The samples among decoded pictures, taken out of them before anything is yielded:
        the generator sleeps at a yield until the next sample is due, and a picture still
        referenced then keeps its decoder's buffer pool alive (3 MB at 1080p per camera).
        `when` times a picture that came without a PTS, when its packets tell it."""
        nonlocal t0, next_t, decoded_any
        out = []
        for fr in frames:
            # Frames drained from the decoder carry no time base of their own: use the stream's.
            # A raw H.264 file has no timestamps at all: count packets at the nominal rate.
            if fr.pts is not None:
                ft = float(fr.pts * tb)
            else:
                ft = when if when is not None else packets_seen / nominal_fps
            if t0 is None:
                t0 = ft
            t = ft - t0
            decoded_any = True
            if t + 1e-6 >= next_t:
                # 0.9: a keyframe that comes a little early (timestamp jitter) still counts.
                next_t = t + interval * (0.9 if keyframe else 1.0)
                out.append(Frame(t=t, gray=thumbnail_from_frame(fr, scaler), keyframe=keyframe,
                                 native=native_from_frame(fr), chroma=chroma_from_frame(fr)))
        frames.clear()
        return out

    def finish_key(frames: list) -> list[Frame]:
        """The keyframe's picture is out: its samples, and its decoder let go at once (not
        when the next sample is asked for), out of draining if it is the stream's own."""
        nonlocal held_key
        when = None if held_key is None or held_key == _UNTIMED else held_key
        held_key = None
        samples = emit(frames, keyframe=True, when=when)
        key.flush_buffers()
        close_key()
        return samples

    def decode(pkt, dec):
        nonlocal bad_packets
        try:
            out = dec.decode(pkt)
            bad_packets = 0
            return out
        except av.error.InvalidDataError:
            bad_packets += 1
            if bad_packets > 50:
                raise _error("undecodable", url, "50 packets in a row failed to decode") from None
            return []

    try:
        for pkt in container.demux(stream):
            if pkt.size == 0:
                continue
            packets_seen += 1
            # A float time base, once: PyAV builds a new Fraction on every `pkt.time_base`.
            ptime = pkt.pts * tb_seconds if pkt.pts is not None else None
            if pacer is not None:
                pacer.after(ptime, pkt.size)
            if held_key is not None:
                if ptime == held_key or (pkt.is_keyframe and held_key == _UNTIMED):
                    # Another slice of the same keyframe: RTP sends one packet per slice, and
                    # FFmpeg flags each as a keyframe. The stream's very first packet comes
                    # without a PTS and the other slices of its picture with one, so after an
                    # untimed keyframe packet the next keyframe packets are taken as its
                    # slices. (Were one a new picture, of an all-intra stream whose decoder
                    # delays its output, the first would come out and the second be lost.)
                    if held_key == _UNTIMED and ptime is not None:
                        last_key_time = held_key = ptime
                    pending.append(pkt)
                    frames = decode(pkt, key)
                    if frames:  # the last slice: the decoder saw the whole picture
                        yield from finish_key(frames)
                    continue
                # A packet of the next picture: take the held one out of the decoder.
                yield from finish_key(key.decode(None))
            if not keyframe_mode:
                yield from emit(decode(pkt, ctx), keyframe=bool(pkt.is_keyframe))
            elif pkt.is_keyframe:
                if ptime is None or ptime != last_key_time:  # not another slice of the last
                    pending.clear()
                pending.append(pkt)
                last_key_time = ptime
                if t0 is not None and ptime is not None and ptime - t0 + 1e-6 < next_t:
                    continue  # not due yet: with a 4 s interval on a 2 s GOP, every other one
                key = open_key()
                frames = decode(pkt, key)
                if frames:
                    yield from finish_key(frames)
                else:
                    held_key = ptime if ptime is not None else _UNTIMED
            else:
                pending.append(pkt)
                if last_key_time is None and ptime is not None:
                    # Joined mid-GOP (a live stream; its first packet often has no PTS): time
                    # the gap from the first timed packet, or every camera that is not joined
                    # on a keyframe decodes all frames forever.
                    last_key_time = ptime
                if (last_key_time is not None and ptime is not None
                        and ptime - last_key_time > gap_limit):
                    # Keyframes are too sparse for the interval: decode everything from here,
                    # starting again at the buffered keyframe so later frames have a reference.
                    keyframe_mode = False  # P-frames need deblocked reference pictures
                    ctx.flush_buffers()
                    # The buffered keyframe was sampled already: timed by its packets (the
                    # stream's first comes without a PTS), it is not due again, and the
                    # P-frames after it are.
                    for old in pending:
                        yield from emit(decode(old, ctx), keyframe=bool(old.is_keyframe),
                                        when=last_key_time)
                    pending.clear()
            if not decoded_any and packets_seen > 600:
                raise _error("undecodable", url, "600 packets but no picture decoded")
        if held_key is not None:
            yield from finish_key(key.decode(None))
        elif not keyframe_mode:
            yield from emit(ctx.decode(None), keyframe=False)
    except SourceError:
        raise
    except Exception as exc:  # noqa: BLE001 - classify and report, never crash the caller
        reason = classify(exc)
        if reason == "undecodable" and decoded_any:
            reason = "ended"
        raise _error(reason, url, f"stream failed ({type(exc).__name__}: {exc})") from None
    finally:
        close_key()  # also when the caller closes this generator at a yield
    if not decoded_any:
        raise _error("undecodable", url, "no picture could be decoded")

