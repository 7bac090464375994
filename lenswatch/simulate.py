"""`lenswatch simulate`: a fleet of fake cameras made from real footage, with faults on cue.

Demos, tests and benchmarks need cameras that fail the way the patrol log says they do, on a
schedule or on command, without a real camera to cover with leaves. Each simulated camera is
one GStreamer RTSP server process (edge_agent/rtsp_server.py under /usr/bin/python3) looping
a short Annex-B H.264 clip rendered from real footage (lenswatch.footage: vtest.avi and
street photos; procedural scenes if the footage cannot be fetched).

How a fault is injected, and why that way:

- picture faults (blocked, blur, ripple, frozen) are pre-rendered variants of the camera's
  clip. The mount reads a symlink; switching the fault atomically repoints it. GStreamer's
  multifilesrc re-reads its file on every loop, so the new picture appears at the next loop
  (at most one clip length, 10 s by default; 2 s for `frozen`, a one-GOP clip) with no
  reconnect: the agent sees what it would
  see when leaves grow over a lens, not a restart.
- drop: the camera's server process is stopped (connection refused, like a dead camera).
- hung: the process is SIGSTOPped: the TCP connection stays open but nothing comes, like a
  camera whose firmware froze. That is why there is one server process per camera.
- ok: clears everything (SIGCONT, restart if dropped, healthy clip).

Every change is appended to RUN_DIR/injections.jsonl (wall time, camera, fault), so a
benchmark can time each alert from the moment its fault began.

Control: ``--schedule "cam1:blocked@25,cam1:ok@120"`` (seconds after the fleet is ready), or
a small HTTP endpoint on ``--control-port``: ``POST /cameras/cam2/blur``, ``GET /cameras``;
``lenswatch simulate --send cam2=blur --control URL`` is the client for it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("lenswatch.simulate")

ROOT = Path(__file__).resolve().parents[1]
SYSTEM_PYTHON = "/usr/bin/python3"
RTSP_SERVER = ROOT / "edge_agent" / "rtsp_server.py"
PICTURE_FAULTS = ("blocked", "blur", "ripple", "frozen")
PROCESS_FAULTS = ("drop", "hung")
KINDS = ("ok", *PICTURE_FAULTS, *PROCESS_FAULTS)
#: Bump when the renderings change, so cached clips are not reused across versions.
RENDER_VERSION = 3
GOP_S = 2.0


# ---- rendering ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Look:
    """What one camera looks at: a video (with a start offset) or a still photo."""

    key: str
    video: Path | None = None
    photo: Path | None = None
    offset_s: float = 0.0
    mirror: bool = False
    seed: int = 0


def fleet_looks(n: int, cache: Path | None) -> list[Look]:
    """N camera looks from the footage, or procedural scenes when it is unavailable."""
    from lenswatch.footage import FootageUnavailable, fetch

    try:
        f = fetch(cache)
    except FootageUnavailable as exc:
        log.warning("no real footage (%s); using procedural scenes", exc)
        return [Look(key=f"proc{i}", seed=i) for i in range(n)]
    looks: list[Look] = []
    for i in range(n):
        if i % 2 == 0:  # pedestrians: cameras 0, 2, 4 ... see the same walkway, other times
            looks.append(Look(key=f"vtest{i}", video=f.video, offset_s=(i * 17.0) % 60,
                              mirror=(i // 2) % 2 == 1, seed=i))
        else:
            photo = f.photos[(i // 2) % len(f.photos)]
            looks.append(Look(key=f"{photo.stem}{i}", photo=photo, seed=i))
    return looks


def _video_frames(look: Look, w: int, h: int, fps: int, n: int) -> list[np.ndarray]:
    import cv2

    cap = cv2.VideoCapture(str(look.video))
    src_fps = cap.get(cv2.CAP_PROP_FPS) or fps
    cap.set(cv2.CAP_PROP_POS_FRAMES, int(look.offset_s * src_fps))
    out: list[np.ndarray] = []
    step = src_fps / fps
    pos = 0.0
    k = 0
    frame = None
    while len(out) < n:
        ok, img = cap.read()
        if not ok:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, img = cap.read()
            if not ok:
                break
        while pos <= k and len(out) < n:
            frame = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
            out.append(frame[:, ::-1].copy() if look.mirror else frame)
            pos += step
        k += 1
    cap.release()
    if not out:
        raise RuntimeError(f"cannot decode {look.video}")
    return out


def _still_frames(base: np.ndarray, fps: int, n: int, seed: int) -> list[np.ndarray]:
    """A still made alive: two people-sized blobs crossing, and sensor noise."""
    import cv2

    h, w = base.shape[:2]
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        t = i / fps
        img = base.astype(np.float32)
        for k in range(2):
            x = int(((t * (0.06 + 0.03 * k) + 0.4 * k) % 1.2 - 0.1) * w)
            y = int(h * (0.6 + 0.15 * k))
            cv2.ellipse(img, (x, y), (w // 40, h // 9), 0, 0, 360, (50 + 60 * k, 70, 90), -1)
            cv2.circle(img, (x, y - h // 9), w // 70, (150, 170, 200), -1)
        img += rng.normal(0, 2.0, (h, w))[..., None]
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


def healthy_frames(look: Look, w: int, h: int, fps: int, seconds: float) -> list[np.ndarray]:
    """The camera's healthy picture sequence, `seconds` long."""
    import cv2

    n = max(1, round(seconds * fps))
    if look.video is not None:
        return _video_frames(look, w, h, fps, n)
    if look.photo is not None:
        img = cv2.imread(str(look.photo))
        if img is None:
            raise RuntimeError(f"cannot read {look.photo}")
        base = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    else:
        from edge_agent.clips import scene

        base = scene(w, h, look.seed + 1)
    return _still_frames(base, fps, n, look.seed)


def _leaves(w: int, h: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A leaf cluster covering ~70 % of the view from one side, and its out-of-focus colour."""
    import cv2

    rng = np.random.default_rng(seed)
    m = np.zeros((h, w), np.float32)
    edge = 0.7 * w
    for _ in range(52):
        x, y = rng.uniform(-0.1 * w, edge), rng.uniform(0, h)
        a, b = rng.uniform(w / 25, w / 8), rng.uniform(h / 25, h / 10)
        cv2.ellipse(m, (int(x), int(y)), (int(a), int(b)), float(rng.uniform(0, 180)), 0, 360,
                    1.0, -1)
    m[:, : int(edge * 0.85)] = 1.0
    if seed % 2:
        m = m[:, ::-1].copy()
    m = cv2.GaussianBlur(m, (0, 0), w / 50)
    obj = np.empty((h, w, 3), np.float32)
    obj[:] = (30, 70, 35)
    obj += cv2.GaussianBlur(rng.normal(0, 20, (h, w)).astype(np.float32), (0, 0),
                            max(2.0, w / 60))[..., None]
    return m, obj


def fault_frames(kind: str, frames: list[np.ndarray], fps: int, seed: int
                 ) -> Iterator[np.ndarray]:
    """The healthy sequence as it looks with `kind`: leaves, defocus, bars, or stuck."""
    import cv2

    h, w = frames[0].shape[:2]
    if kind == "ok":
        yield from frames
    elif kind == "frozen":
        # A stuck encoder: the same picture, exactly, for ever. One GOP only: the loop then
        # repeats the very same keyframe bytes. A longer clip would not do: x264's rate
        # control codes later keyframes of an unchanged picture a little differently
        # (~0.8 grey levels), which is live noise to the frozen detector, not a stuck camera.
        for _ in range(max(1, round(GOP_S * fps))):
            yield frames[0]
    elif kind == "blocked":
        m, obj = _leaves(w, h, seed)
        for i, f in enumerate(frames):
            sway = np.roll(m, int(3 * np.sin(i / fps * 2)), axis=1)[..., None]
            yield np.clip(f * (1 - sway) + obj * sway, 0, 255).astype(np.uint8)
    elif kind == "blur":  # defocus, as after a knock or a badly refitted housing
        sigma = 8.0 * w / 704
        for f in frames:
            yield cv2.GaussianBlur(f, (0, 0), sigma)
    elif kind == "ripple":  # rolling interference bars (bad earth, a power cable nearby)
        yy = np.arange(h, dtype=np.float32)[:, None]
        for i, f in enumerate(frames):
            bars = 25 * np.sin(2 * np.pi * yy / (90 * h / 576) + 1.5 * i / fps)
            yield np.clip(f + bars[..., None], 0, 255).astype(np.uint8)
    else:
        raise ValueError(f"no rendering for {kind!r}")


def render_variants(look: Look, kinds: tuple[str, ...], clip_dir: Path, *, size: tuple[int, int],
                    fps: int, seconds: float) -> dict[str, Path]:
    """Render (or reuse from `clip_dir`) the camera's clip for each kind; kind -> path."""
    from edge_agent.clips import encode_h264

    w, h = size
    src = str(look.video or look.photo or "procedural")
    tag = hashlib.sha1(f"{RENDER_VERSION}|{src}|{look}|{w}x{h}|{fps}|{seconds}".encode()
                       ).hexdigest()[:10]
    out: dict[str, Path] = {}
    frames: list[np.ndarray] | None = None
    for kind in kinds:
        path = clip_dir / f"{look.key}_{kind}_{w}x{h}_{fps}fps_{tag}.h264"
        if not (path.exists() and path.stat().st_size > 0):
            if frames is None:
                frames = healthy_frames(look, w, h, fps, seconds)
            encode_h264(path, fault_frames(kind, frames, fps, look.seed), fps=fps,
                        gop_seconds=GOP_S, crf=26, preset="ultrafast")
        out[kind] = path
    return out


# ---- serving ------------------------------------------------------------------------------

def gstreamer_available() -> bool:
    """Whether /usr/bin/python3 can load GStreamer's RTSP server (python3-gi + gir)."""
    if not Path(SYSTEM_PYTHON).exists():
        return False
    probe = ("import gi; gi.require_version('Gst','1.0'); "
             "gi.require_version('GstRtspServer','1.0'); "
             "from gi.repository import GstRtspServer")
    try:
        return subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True,
                              timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM if we die, so a killed simulator leaves no cameras."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


@dataclass
class Camera:
    """One simulated camera: its variants, the symlink its mount reads, its server process."""

    name: str
    look: Look
    variants: dict[str, Path]
    live: Path
    port: int
    fps: int
    mode: str  # "rtsp" or "file"
    state: str = "ok"
    proc: subprocess.Popen[str] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        if self.mode == "file":
            return str(self.live)
        return f"rtsp://127.0.0.1:{self.port}/live"

    def point_at(self, kind: str) -> None:
        """Atomically repoint the live symlink at the `kind` variant."""
        tmp = self.live.with_suffix(".swap")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(self.variants[kind])
        os.replace(tmp, self.live)

    def start(self) -> None:
        if self.mode == "file" or (self.proc and self.proc.poll() is None):
            return
        cmd = [SYSTEM_PYTHON, str(RTSP_SERVER), "--port", str(self.port), "--fps",
               str(self.fps), "--mount", f"live={self.live}"]
        err = ""
        for _ in range(40):  # the port may linger for a moment after a kill
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True, preexec_fn=_die_with_parent)
            line = self.proc.stdout.readline() if self.proc.stdout else ""
            if line.startswith("READY"):
                return
            self.proc.wait(5)
            err = self.proc.stderr.read() if self.proc.stderr else ""
            time.sleep(0.25)
        raise RuntimeError(f"{self.name}: RTSP server did not start on {self.port}: {err}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def pid(self) -> int | None:
        return self.proc.pid if self.proc and self.proc.poll() is None else None


class Fleet:
    """The simulated cameras and the faults applied to them; thread-safe `apply`."""

    def __init__(self, cameras: list[Camera], render: Callable[[Camera, str], None]) -> None:
        self.cameras = {c.name: c for c in cameras}
        self._render = render
        self.journal: Path | None = None
        self._lock = threading.Lock()
        #: Requests from the control endpoint, carried out by the main thread: a server
        #: process started from a short-lived handler thread would get its PR_SET_PDEATHSIG
        #: signal as soon as that thread ends.
        self.requests: queue.Queue[tuple[str, str, Future[dict[str, Any]]]] = queue.Queue()

    def request(self, name: str, kind: str, timeout: float = 120) -> dict[str, Any]:
        """Ask the main thread to `apply`; raises what `apply` raised."""
        fut: Future[dict[str, Any]] = Future()
        self.requests.put((name, kind, fut))
        return fut.result(timeout)

    def serve_requests(self) -> None:
        """Carry out queued control requests (call from the main thread)."""
        while True:
            try:
                name, kind, fut = self.requests.get_nowait()
            except queue.Empty:
                return
            try:
                fut.set_result(self.apply(name, kind))
            except Exception as exc:  # noqa: BLE001 - handed to the requester
                fut.set_exception(exc)

    def start(self) -> None:
        for cam in self.cameras.values():
            cam.point_at("ok")
            cam.start()

    def apply(self, name: str, kind: str) -> dict[str, Any]:
        """Put camera `name` into state `kind` (one of KINDS); returns its new state."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault {kind!r}; use one of {', '.join(KINDS)}")
        cam = self.cameras.get(name)
        if cam is None:
            raise KeyError(f"no camera {name!r}; cameras: {', '.join(self.cameras)}")
        with self._lock:
            if kind in PICTURE_FAULTS and kind not in cam.variants:
                self._render(cam, kind)
            if kind == "drop":
                cam.stop()
            elif kind == "hung":
                cam.start()
                if cam.proc is not None:
                    cam.proc.send_signal(signal.SIGSTOP)
            else:
                if cam.proc is not None and cam.proc.poll() is None:
                    cam.proc.send_signal(signal.SIGCONT)
                cam.point_at(kind)
                cam.start()
            cam.state = kind
            log.info("%s -> %s", name, kind)
            if self.journal is not None:  # when each fault began: benchmarks time alerts by it
                with open(self.journal, "a") as fh:
                    fh.write(json.dumps({"t": time.time(), "camera": name, "fault": kind})
                             + "\n")
            return self.describe(cam)

    @staticmethod
    def describe(cam: Camera) -> dict[str, Any]:
        return {"camera": cam.name, "url": cam.url, "state": cam.state,
                "source": str(cam.look.video or cam.look.photo or "procedural"),
                "pid": cam.pid()}

    def stop(self) -> None:
        with self._lock:
            for cam in self.cameras.values():
                cam.stop()


def parse_schedule(spec: str) -> list[tuple[float, str, str]]:
    """'cam1:blocked@25,cam1:ok@120' -> [(25.0, 'cam1', 'blocked'), (120.0, 'cam1', 'ok')]."""
    out = []
    for item in filter(None, (s.strip() for s in (spec or "").split(","))):
        m = re.fullmatch(r"([\w.-]+):(\w+)@(\d+(?:\.\d+)?)", item)
        if not m or m.group(2) not in KINDS:
            raise ValueError(f"bad schedule item {item!r}: want CAMERA:FAULT@SECONDS with "
                             f"FAULT one of {', '.join(KINDS)}")
        out.append((float(m.group(3)), m.group(1), m.group(2)))
    return sorted(out)


def _control_server(fleet: Fleet, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, code: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path.rstrip("/") == "/cameras":
                self._send(200, [fleet.describe(c) for c in fleet.cameras.values()])
            else:
                self._send(404, {"detail": "GET /cameras, POST /cameras/NAME/FAULT"})

        def do_POST(self) -> None:  # noqa: N802
            parts = self.path.strip("/").split("/")
            if len(parts) != 3 or parts[0] != "cameras":
                self._send(404, {"detail": "POST /cameras/NAME/FAULT"})
                return
            try:
                self._send(200, fleet.request(parts[1], parts[2]))
            except KeyError as exc:
                self._send(404, {"detail": str(exc.args[0])})
            except (ValueError, RuntimeError) as exc:
                self._send(400, {"detail": str(exc)})

        def log_message(self, fmt: str, *args: Any) -> None:
            log.debug("control: " + fmt, *args)

    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True, name="sim-control").start()
    return srv


def build_fleet(n: int, *, cache: Path | None, size: tuple[int, int], fps: int,
                seconds: float, prerender: dict[str, tuple[str, ...]], run_dir: Path,
                port_base: int = 0) -> Fleet:
    """Render the clips each camera needs now and prepare (not start) its server.

    `prerender` maps a camera name to the picture faults its schedule will need, so that
    switching on schedule never waits for an encoder; other faults render on demand.
    """
    from lenswatch.footage import default_cache

    clip_dir = (cache or default_cache()) / "clips"
    mode = "rtsp" if gstreamer_available() else "file"
    if mode == "file":
        log.warning("GStreamer's RTSP server is not available to %s (install python3-gi and "
                    "gir1.2-gst-rtsp-server-1.0): cameras are only the current clip files "
                    "(raw H.264, switched by fault), not live streams; an agent cannot watch "
                    "them, and drop and hung are not simulated", SYSTEM_PYTHON)
    run_dir.mkdir(parents=True, exist_ok=True)
    looks = fleet_looks(n, cache)
    cams = []
    try:
        from tqdm import tqdm

        bar = tqdm(total=n, desc="rendering camera clips", unit="cam", leave=False,
                   disable=not sys.stderr.isatty())
    except ImportError:  # pragma: no cover - tqdm is a dependency
        bar = None
    for i, look in enumerate(looks):
        kinds = ("ok", *prerender.get(f"cam{i}", ()))
        if bar is None or bar.disable:  # no progress bar (not a terminal): say what we do
            log.info("cam%d: clips %s from %s (rendered once, then cached in %s)", i,
                     "+".join(kinds), Path(str(look.video or look.photo or "procedural")).name,
                     clip_dir)
        variants = render_variants(look, kinds, clip_dir, size=size, fps=fps, seconds=seconds)
        port = port_base + i if port_base else free_port()
        cams.append(Camera(f"cam{i}", look, variants, run_dir / f"cam{i}.h264", port, fps,
                           mode))
        if bar:
            bar.update()
    if bar:
        bar.close()

    def render(cam: Camera, kind: str) -> None:
        cam.variants.update(render_variants(cam.look, (kind,), clip_dir, size=size, fps=fps,
                                            seconds=seconds))

    return Fleet(cams, render)


def run_simulate(args: argparse.Namespace) -> int:
    """Serve the fleet until SIGTERM/SIGINT (or --duration), applying the schedule."""
    if args.send:
        return _send(args.control, args.send)
    try:
        schedule = parse_schedule(args.schedule)
        w, h = (int(v) for v in args.size.lower().split("x"))
    except ValueError as exc:
        print(f"lenswatch simulate: {exc}", file=sys.stderr)
        return 2
    if args.clip_seconds < 2 * GOP_S:
        # A loop of one GOP repeats the very same keyframe: a healthy camera would look frozen.
        print(f"lenswatch simulate: --clip-seconds must be at least {2 * GOP_S:g} (two GOPs), "
              "or every healthy camera repeats one keyframe and looks frozen", file=sys.stderr)
        return 2
    names = {f"cam{i}" for i in range(args.cameras)}
    bad = [c for _, c, _ in schedule if c not in names]
    if bad:
        print(f"lenswatch simulate: schedule names unknown cameras {bad}; this fleet has "
              f"cam0..cam{args.cameras - 1}", file=sys.stderr)
        return 2
    prerender: dict[str, tuple[str, ...]] = {}
    for _, cam_name, kind in schedule:
        if kind in PICTURE_FAULTS and kind not in prerender.get(cam_name, ()):
            prerender[cam_name] = (*prerender.get(cam_name, ()), kind)
    run_dir = Path(args.run_dir or (Path.cwd() / "var" / "simulate")).resolve()
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    fleet = build_fleet(args.cameras, cache=Path(args.cache) if args.cache else None,
                        size=(w, h), fps=args.fps, seconds=args.clip_seconds,
                        prerender=prerender, run_dir=run_dir, port_base=args.port_base)
    fleet.journal = run_dir / "injections.jsonl"
    control = None
    try:
        fleet.start()
        control_port = args.control_port or free_port()
        control = _control_server(fleet, control_port)
        manifest = {"control": f"http://127.0.0.1:{control_port}",
                    "cameras": [fleet.describe(c) for c in fleet.cameras.values()],
                    "schedule": [{"at": t, "camera": c, "fault": k} for t, c, k in schedule]}
        if args.manifest:
            tmp = Path(args.manifest).with_suffix(".tmp")
            tmp.write_text(json.dumps(manifest, indent=1))
            os.replace(tmp, args.manifest)
        for cam in fleet.cameras.values():
            print(f"CAMERA {cam.name} {cam.url}  ({Path(Fleet.describe(cam)['source']).name})",
                  flush=True)
        print(f"SIMULATOR READY control={manifest['control']}", flush=True)
        t0 = time.monotonic()
        pending = list(schedule)
        while not stop.is_set():
            now = time.monotonic() - t0
            while pending and pending[0][0] <= now:
                _, cam_name, kind = pending.pop(0)
                try:
                    fleet.apply(cam_name, kind)
                except (KeyError, ValueError, RuntimeError) as exc:
                    log.error("schedule: %s", exc)
            fleet.serve_requests()
            if args.duration and now >= args.duration:
                break
            stop.wait(0.2)
    finally:
        if control is not None:
            control.shutdown()
        fleet.stop()
        log.info("simulator stopped")
    return 0


def _send(control: str | None, spec: str) -> int:
    import httpx

    if not control:
        print("lenswatch simulate --send needs --control URL (printed by the simulator)",
              file=sys.stderr)
        return 2
    name, _, kind = spec.partition("=")
    r = httpx.post(f"{control.rstrip('/')}/cameras/{name}/{kind}", timeout=60)
    print(r.text)
    return 0 if r.status_code == 200 else 1


def add_subcommands(subparsers: Any) -> None:
    """Register `simulate` on the lenswatch dispatcher's subparsers."""
    p = subparsers.add_parser(
        "simulate", help="serve simulated cameras (real footage) and inject faults",
        description=__doc__.split("\n\n")[0])
    p.add_argument("--cameras", type=int, default=5, help="how many cameras (default 5)")
    p.add_argument("--schedule", default="", metavar="SPEC",
                   help="faults to inject, e.g. 'cam1:blocked@25,cam4:drop@60,cam1:ok@120' "
                        f"(seconds after start; faults: {', '.join(KINDS)})")
    p.add_argument("--size", default="704x576", help="picture size (default 704x576)")
    p.add_argument("--fps", type=int, default=10)
    p.add_argument("--clip-seconds", type=float, default=10.0,
                   help="loop length; a picture fault shows within one loop (default 10)")
    p.add_argument("--port-base", type=int, default=0,
                   help="camera i listens on PORT_BASE+i (default: free ports)")
    p.add_argument("--control-port", type=int, default=0, help="control HTTP port")
    p.add_argument("--cache", help="footage and clip cache (default ~/.cache/lenswatch)")
    p.add_argument("--run-dir", help="where the live symlinks go (default ./var/simulate)")
    p.add_argument("--manifest", help="write cameras, URLs and control URL here as JSON")
    p.add_argument("--duration", type=float, default=0, help="stop after SECONDS")
    p.add_argument("--send", metavar="CAMERA=FAULT",
                   help="client mode: tell a running simulator (--control URL) to inject")
    p.add_argument("--control", metavar="URL", help="a running simulator's control URL")
    p.set_defaults(func=run_simulate)
