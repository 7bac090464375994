"""The agent: watch every camera of a compound, analyse samples, and hand events to the outbox.

Threads, and why:
- ingest: one thread per camera in continuous mode (PyAV blocks in C with the GIL released, so
  a hung camera blocks only its own thread), or a small pool of patrol workers that visit
  cameras in turn. Each camera keeps only its newest sample: whatever a camera sends, memory
  per camera is one thumbnail.
- analysis: one thread batches the newest sample of every camera through the shared Monitor,
  so the detector's per-call overhead is paid once per batch, not once per camera.
- supervisor: raises `signal_loss` after the grace period and keeps the connection-quality
  and heartbeat bookkeeping, independent of any camera thread, so it works while they hang.
- uplink: drains the durable outbox to the collector (edge_agent.uplink).
"""

from __future__ import annotations

import ctypes
import heapq
import logging
import random
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from contract import (
    DEFAULT_SEVERITY,
    PICTURE_FAULTS,
    Heartbeat,
    HeartbeatCamera,
    StateChange,
    iso_utc,
)
from edge_agent.camera_state import CameraStateStore
from edge_agent.config import AgentConfig, CameraConfig
from edge_agent.metrics import AgentMetrics, StatusServer
from edge_agent.outbox import Outbox
from edge_agent.redact import scrub
from edge_agent.sources import Frame, SourceError, open_source
from edge_agent.uplink import Uplink
from pipeline.monitor import Monitor, Sample

log = logging.getLogger("lenswatch.agent")

HOUR = 3600.0
#: Open/close per visit costs a handshake and a first keyframe; beyond this interval a held
#: connection mostly receives packets nobody decodes, so patrol is cheaper.
PATROL_INTERVAL = 60.0


#: glibc malloc arenas for the whole agent process (M_ARENA_MAX; glibc's default is 8 per
#: core). Why: every camera thread decodes a keyframe now and then, and each thread that
#: allocates picture buffers in an arena of its own leaves that memory parked there once freed.
#: Measured with 64 cameras at 1080p (benchmarks/agent_bench.py, resident memory): 508 MB with
#: glibc's default, 399 MB with 4 arenas, 367 MB with 2, 354 MB with 1. Most allocations happen
#: under the GIL anyway, so few arenas cost no measurable contention.
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # from glibc's malloc.h


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas before the camera threads start; False where there is no glibc
    (musl, macOS), which is harmless: only resident memory is at stake, never correctness."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False


class Backoff:
    """Exponential backoff with full jitter, so a compound's cameras that fail together (a
    switch reboots) do not all reconnect in the same instant."""

    def __init__(self, initial: float = 0.5, maximum: float = 30.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self.attempt = 0

    def next(self) -> float:
        """Seconds to wait before the next attempt."""
        cap = min(self.maximum, self.initial * 2 ** min(self.attempt, 20))
        self.attempt += 1
        return random.uniform(cap / 2, cap)

    def reset(self) -> None:
        """A success: the next failure starts from the shortest wait again."""
        self.attempt = 0


#: How often each camera's learned picture is written. The baseline follows the view with a
#: 10-minute time constant and the reference changes only when relearned, so a few minutes
#: lose nothing, while writing 64 cameras every heartbeat would wear an edge box's flash
#: (~25 GB a day); raised faults are the outbox's to keep, not this file's.
CAMERA_STATE_INTERVAL = 300.0

@dataclass
class CameraState:
    """What the agent knows about one camera; guarded by Agent._lock."""

    cfg: CameraConfig
    started: float
    last_frame_mono: float | None = None
    last_frame_wall: float | None = None
    failing_since: float | None = None
    last_error: tuple[str, str] | None = None
    connected: bool = False
    signal_lost: bool = False
    faults: set[str] = field(default_factory=set)
    latest: Sample | None = None
    reconnects: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))
    stalls: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))
    quiet_ref: float = 0.0
    reconnected: bool = False
    unconfirmed: dict[str, float] = field(default_factory=dict)
    picture_restored: bool = False  # the Monitor took up this camera's saved picture state
    state_save_failed: bool = False


def choose_mode(cfg: AgentConfig) -> tuple[str, str]:
    """Pick continuous or patrol and say why (logged at start-up)."""
    n = len(cfg.cameras)
    if cfg.mode != "auto":
        return cfg.mode, f"agent.mode is set to {cfg.mode}"
    if n > cfg.max_open_streams:
        return "patrol", (f"{n} cameras exceed agent.max_open_streams={cfg.max_open_streams}: "
                          "visiting them in turn")
    shortest = min(c.sample_interval for c in cfg.cameras)
    if shortest >= PATROL_INTERVAL:
        return "patrol", (f"every camera samples at most once per {shortest:g}s: connecting per "
                          "visit is cheaper than holding streams open")
    return "continuous", (f"{n} cameras fit within agent.max_open_streams="
                          f"{cfg.max_open_streams}: one connection held open per camera")


#: sources.classify also searches the message text for 401/403/404, which matches digits in a
#: URL's port (rtsp://host:56401/...); the exception type it quotes is unambiguous.
_TYPE_REASONS = (("ConnectionRefusedError", "refused"), ("HTTPNotFoundError", "not_found"),
                 ("HTTPUnauthorizedError", "auth_failed"), ("HTTPForbiddenError", "auth_failed"))


def _trust_exception_type(reason: str, message: str) -> str:
    for name, r in _TYPE_REASONS:
        if f"({name}:" in message:
            return r
    return reason


def _in_quiet(cam: CameraConfig, now: datetime | None = None) -> bool:
    if not cam.quiet:
        return False
    t = (now or datetime.now()).time()
    return any(w.contains(t) for w in cam.quiet)


class Agent:
    """One compound's agent. `run()` blocks until `stop()` or SIGTERM."""

    def __init__(self, cfg: AgentConfig, *, monitor: Any | None = None,
                 source_factory: Callable[..., Iterator[Frame]] = open_source) -> None:
        self.cfg = cfg
        self.metrics = AgentMetrics()
        self.outbox = Outbox(cfg.outbox.path, max_events=cfg.outbox.max_events,
                             keep_heartbeats=cfg.outbox.keep_heartbeats)
        self.monitor = monitor if monitor is not None else Monitor()
        self.open_source = source_factory
        self.mode, self.mode_reason = choose_mode(cfg)
        self._lock = threading.RLock()
        self._monitor_lock = threading.Lock()
        self._stop = threading.Event()
        self._samples_ready = threading.Event()
        self._threads: list[threading.Thread] = []
        now = time.monotonic()
        self.cameras: dict[str, CameraState] = {c.key: CameraState(c, now) for c in cfg.cameras}
        self.uplink = Uplink(
            self.outbox, url=cfg.collector.url, token=cfg.collector.token,
            agent_id=cfg.agent_id, metrics=self.metrics,
            batch_size=cfg.collector.batch_size, timeout=cfg.collector.timeout,
            retry_initial=cfg.collector.retry_initial, retry_max=cfg.collector.retry_max,
            poll_commands=cfg.collector.poll_commands, on_command=self._on_command,
            heartbeat=self.heartbeat)
        self.status: StatusServer | None = None
        self._loops: dict[str, float] = {}
        self._analysis_errors = 0
        self._dropped_seen: dict[str, int] = {}
        self._batch_window = min(0.5, 0.25 * min(c.sample_interval for c in cfg.cameras))
        self.camera_states = CameraStateStore(Path(cfg.outbox.path).parent / "camera_state")
        # The first save soon after start, so a camera's new reference is on disk early.
        self._next_state_save = time.monotonic() + 60.0
        self._restore_state()

    # -- start-up and shutdown --------------------------------------------------------------

    def _restore_state(self) -> None:
        """Reload raised faults so a restart neither repeats a raise nor forgets a clear, and
        each camera's learned picture so it is not learned again from what it shows now.

        The outbox says which faults the collector was told of; the saved picture state says
        what the camera looked like. With both, the Monitor carries on as if there had been
        no restart: a fault still there stays raised, one gone is cleared by the usual rules.
        Without a saved picture (first start after an upgrade) a fresh Monitor must confirm
        a restored picture fault within a deadline, or the agent clears it."""
        persisted = self.outbox.raised_faults()
        relearned = []
        with self._monitor_lock:
            for key in self.cameras:
                saved = self.camera_states.load(key)
                raised = {f for f in persisted.get(key, set()) if f in PICTURE_FAULTS}
                if saved is not None and self.monitor.restore(key, saved, raised):
                    self.cameras[key].picture_restored = True
                elif saved is not None:
                    relearned.append(key)
        if relearned:
            log.warning("saved picture state of %d camera(s) is of another version; they "
                        "learn their picture again: %s", len(relearned), relearned[:10])
        deadline = time.monotonic() + 120.0
        for key, faults in persisted.items():
            st = self.cameras.get(key)
            if st is None:
                log.warning("camera %s has raised faults %s on disk but is no longer "
                            "configured; they stay raised at the collector", key, sorted(faults))
                continue
            st.faults = set(faults)
            st.signal_lost = "signal_loss" in faults
            for f in faults:
                self.metrics.fault_state.labels(camera=key, fault=f).set(1)
                if f in PICTURE_FAULTS and not st.picture_restored:
                    # The fresh Monitor must confirm it; otherwise it is cleared (below).
                    st.unconfirmed[f] = max(deadline, time.monotonic()
                                            + 20 * st.cfg.sample_interval)
        if persisted:
            log.info("restored raised faults from the outbox: %s",
                     {k: sorted(v) for k, v in persisted.items()})

    def start(self) -> None:
        """Start every thread and the status server; returns at once."""
        limit_malloc_arenas()
        self.metrics.info.labels(agent=self.cfg.agent_id, mode=self.mode).set(1)
        self.metrics.ingest_mode_cameras.set(len(self.cameras))
        for key in self.cameras:
            self.metrics.camera_up.labels(camera=key).set(0)
            for f in self.cameras[key].cfg.faults:
                self.metrics.fault_state.labels(camera=key, fault=f).set(
                    1 if f in self.cameras[key].faults else 0)
        log.info("agent %s: %d cameras, %s mode (%s)", self.cfg.agent_id, len(self.cameras),
                 self.mode, self.mode_reason)
        self.status = StatusServer(self.cfg.metrics_listen, self.metrics, self.health,
                                   before_scrape=self._refresh_gauges)
        self.status.start()
        log.info("metrics and health on http://%s:%d/metrics and /healthz",
                 self.cfg.metrics_listen.rpartition(":")[0], self.status.port)
        self.uplink.start()
        self._spawn("analysis", self._analysis_loop)
        self._spawn("supervisor", self._supervisor_loop)
        if self.mode == "continuous":
            for key in self.cameras:
                self._spawn(f"cam:{key}", self._continuous_loop, key)
        else:
            self._patrol_queue: list[tuple[float, int, str]] = []
            self._patrol_cv = threading.Condition()
            now = time.monotonic()
            for i, key in enumerate(self.cameras):
                # Spread first visits so the patrol does not open every stream at once.
                heapq.heappush(self._patrol_queue, (now + 0.05 * i, i, key))
            workers = min(self.cfg.patrol_workers, len(self.cameras))
            for i in range(workers):
                self._spawn(f"patrol-{i}", self._patrol_worker)

    def _spawn(self, name: str, fn: Callable[..., None], *args: Any) -> None:
        t = threading.Thread(target=fn, args=args, name=name, daemon=True)
        self._threads.append(t)
        t.start()

    def stop(self) -> None:
        """Stop every thread; undelivered events stay in the outbox for the next start."""
        self._stop.set()
        self._samples_ready.set()
        if self.mode == "patrol" and hasattr(self, "_patrol_cv"):
            with self._patrol_cv:
                self._patrol_cv.notify_all()
        deadline = time.monotonic() + 5.0
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self.save_camera_states()
        self.uplink.stop()
        if self.status:
            self.status.stop()
        self.outbox.close()

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; the exit code for the command line."""
        def _handler(signum: int, _frame: Any) -> None:
            log.info("signal %d: stopping", signum)
            self._stop.set()

        signal.signal(signal.SIGTERM, _handler)
        signal.signal(signal.SIGINT, _handler)
        self.start()
        while not self._stop.wait(1.0):
            pass
        self.stop()
        return 0

    # -- events -----------------------------------------------------------------------------

    def _emit(self, change: StateChange) -> bool:
        """Record a state change durably, then let the uplink know. False if a repeat."""
        st = self.cameras.get(change.camera)
        if st is not None and change.fault not in st.cfg.faults:
            return False
        if not self.outbox.record_change(change):
            return False
        with self._lock:
            if st is not None:
                if change.state == "raised":
                    st.faults.add(change.fault)
                else:
                    st.faults.discard(change.fault)
        self.metrics.fault_state.labels(camera=change.camera, fault=change.fault).set(
            1 if change.state == "raised" else 0)
        log.log(logging.WARNING if change.state == "raised" else logging.INFO,
                "%s %s %s %s", change.camera, change.fault, change.state,
                scrub(str(change.evidence)) if change.evidence else "")
        self.uplink.notify()
        return True

    def _signal_change(self, st: CameraState, state: str, reason: str, message: str) -> None:
        change = StateChange(
            camera=st.cfg.key, fault="signal_loss", state=state, t=time.time(),
            confidence=1.0, severity=DEFAULT_SEVERITY["signal_loss"],
            evidence={"reason": reason, "message": scrub(message)})
        if self._emit(change) or state == "cleared":
            st.signal_lost = state == "raised"

    # -- ingest: shared bookkeeping ------------------------------------------------------------

    def _on_frame(self, key: str, frame: Frame, cpu: float) -> None:
        st = self.cameras[key]
        now_m, now_w = time.monotonic(), time.time()
        clear = False
        with self._lock:
            st.last_frame_mono, st.last_frame_wall = now_m, now_w
            st.failing_since = None
            st.connected = True
            if st.signal_lost:
                clear = True
            if not _in_quiet(st.cfg):
                st.latest = Sample(camera=key, t=now_w, gray=frame.gray, native=frame.native,
                                   chroma=frame.chroma)
        self.metrics.decode_seconds.labels(camera=key).observe(cpu)
        if clear:
            self._signal_change(st, "cleared", "frames", "pictures arrive again")
        self._samples_ready.set()

    def _on_failure(self, key: str, reason: str, message: str, *, had_frames: bool) -> None:
        st = self.cameras[key]
        reason = _trust_exception_type(reason, message)
        now = time.monotonic()
        with self._lock:
            first = st.failing_since is None
            changed = st.last_error is None or st.last_error[0] != reason
            if first:
                st.failing_since = now
            st.last_error = (reason, scrub(message))
            st.connected = False
            st.reconnected = True
            st.reconnects.append(now)
            if had_frames:
                st.stalls.append(now)
        self.metrics.reconnects.labels(camera=key, reason=reason).inc()
        if had_frames:
            self.metrics.stalls.labels(camera=key).inc()
        level = logging.WARNING if (first or changed) else logging.DEBUG
        log.log(level, "camera %s: %s (%s)", key, reason, scrub(message))

    def _read(self, key: str, it: Iterator[Frame]) -> Iterator[tuple[Frame, float]]:
        """Frames with the CPU seconds this thread spent demuxing and decoding each one."""
        while True:
            c0 = time.thread_time()
            try:
                frame = next(it)
            except StopIteration:
                return
            yield frame, time.thread_time() - c0

    # -- continuous mode ---------------------------------------------------------------------

    def _continuous_loop(self, key: str) -> None:
        st = self.cameras[key]
        cam = st.cfg
        # Retry at least once per grace period, so a camera that comes back is seen soon.
        backoff = Backoff(0.5, max(1.0, min(30.0, cam.signal_loss_grace)))
        while not self._stop.is_set():
            had_frames = False
            it = None
            try:
                it = self.open_source(cam.analysis_url, sample_interval=cam.sample_interval,
                                      open_timeout=cam.open_timeout,
                                      read_timeout=cam.read_timeout)
                for frame, cpu in self._read(key, it):
                    if not had_frames:
                        log.info("camera %s: streaming", key)
                    had_frames = True
                    backoff.reset()
                    self._on_frame(key, frame, cpu)
                    if self._stop.is_set():
                        return
                self._on_failure(key, "ended", "the stream ended", had_frames=had_frames)
            except SourceError as exc:
                self._on_failure(key, exc.reason, exc.message, had_frames=had_frames)
            except Exception as exc:  # noqa: BLE001 - one bad camera must not kill its thread
                log.exception("camera %s: unexpected ingest error", key)
                self._on_failure(key, "undecodable", f"{type(exc).__name__}: {exc}",
                                 had_frames=had_frames)
            finally:
                _close(key, it)
            self._stop.wait(backoff.next())

    # -- patrol mode -------------------------------------------------------------------------

    def _patrol_worker(self) -> None:
        backoffs: dict[str, Backoff] = {}
        while not self._stop.is_set():
            with self._patrol_cv:
                while not self._stop.is_set():
                    if self._patrol_queue:
                        due = self._patrol_queue[0][0]
                        wait = due - time.monotonic()
                        if wait <= 0:
                            _, seq, key = heapq.heappop(self._patrol_queue)
                            break
                        self._patrol_cv.wait(min(wait, 1.0))
                    else:
                        self._patrol_cv.wait(1.0)
                else:
                    return
            st = self.cameras[key]
            ok = self._visit(key)
            b = backoffs.setdefault(key, Backoff(0.5, max(1.0, st.cfg.sample_interval)))
            if ok:
                b.reset()
                nxt = time.monotonic() + st.cfg.sample_interval
            else:
                nxt = time.monotonic() + b.next()
            with self._patrol_cv:
                heapq.heappush(self._patrol_queue, (nxt, seq, key))
                self._patrol_cv.notify()

    def _visit(self, key: str) -> bool:
        """Connect, take one picture, disconnect; True if a picture came."""
        cam = self.cameras[key].cfg
        it = None
        try:
            it = self.open_source(cam.analysis_url, sample_interval=cam.sample_interval,
                                  open_timeout=cam.open_timeout, read_timeout=cam.read_timeout)
            for frame, cpu in self._read(key, it):
                self._on_frame(key, frame, cpu)
                return True
            self._on_failure(key, "ended", "the stream ended before a picture",
                             had_frames=False)
        except SourceError as exc:
            self._on_failure(key, exc.reason, exc.message, had_frames=False)
        except Exception as exc:  # noqa: BLE001
            log.exception("camera %s: unexpected ingest error", key)
            self._on_failure(key, "undecodable", f"{type(exc).__name__}: {exc}",
                             had_frames=False)
        finally:
            _close(key, it)
        return False

    # -- analysis ----------------------------------------------------------------------------

    def _analysis_loop(self) -> None:
        while not self._stop.is_set():
            self._loops["analysis"] = time.monotonic()
            if self._samples_ready.wait(1.0):
                # Let the other cameras' samples join this batch: one detector call for many
                # cameras costs 4.2 ms per sample against 6.2 ms for one camera alone
                # (measured, 16 cameras), and half a second is nothing next to raise_after.
                self._stop.wait(self._batch_window)
            self._samples_ready.clear()
            batch: list[Sample] = []
            fresh: list[str] = []
            with self._lock:
                for st in self.cameras.values():
                    if st.latest is not None:
                        batch.append(st.latest)
                        st.latest = None
                        if st.reconnected:
                            st.reconnected = False
                            fresh.append(st.cfg.key)
            if fresh:
                # After a reconnect the first picture must not be compared with the last one
                # before the outage (that would look like a frozen or moved camera).
                with self._monitor_lock:
                    for key in fresh:
                        self.monitor.forget(key)
            if batch:
                self._analyse(batch)
            self._confirm_restored()

    def _analyse(self, batch: list[Sample]) -> None:
        # Thread CPU time, not wall time: with dozens of decode threads the wall time of a
        # batch is mostly waiting for the GIL, which says nothing about the detector's cost.
        t0 = time.thread_time()
        changes: list[StateChange] = []
        with self._monitor_lock:
            try:
                changes = list(self.monitor.process(batch))
            except Exception:  # noqa: BLE001 - retry one by one to isolate a bad picture
                changes = []
                for s in batch:
                    try:
                        changes.extend(self.monitor.process([s]))
                    except Exception:  # noqa: BLE001
                        self._analysis_errors += 1
                        if self._analysis_errors <= 5 or self._analysis_errors % 1000 == 0:
                            log.exception("analysis failed on a picture from %s (%d so far)",
                                          s.camera, self._analysis_errors)
        per = (time.thread_time() - t0) / len(batch)
        for s in batch:
            self.metrics.samples.labels(camera=s.camera).inc()
            self.metrics.detect_seconds.labels(camera=s.camera).observe(per)
        for ch in changes:
            st = self.cameras.get(ch.camera)
            if st is not None and ch.state == "raised":
                st.unconfirmed.pop(ch.fault, None)
            self._emit(ch)

    def _confirm_restored(self) -> None:
        """Clear restored picture faults the fresh Monitor has not seen again in time."""
        now = time.monotonic()
        for st in self.cameras.values():
            for fault, deadline in list(st.unconfirmed.items()):
                if now >= deadline and st.last_frame_mono is not None:
                    st.unconfirmed.pop(fault, None)
                    self._emit(StateChange(
                        camera=st.cfg.key, fault=fault, state="cleared", t=time.time(),
                        confidence=0.5, severity=DEFAULT_SEVERITY.get(fault, "major"),
                        evidence={"reason": "not seen again after the agent restarted"}))

    def _on_command(self, cmd: dict[str, Any]) -> bool:
        if cmd.get("kind") == "reset_baseline" and cmd.get("camera") in self.cameras:
            with self._monitor_lock:
                try:
                    self.monitor.reset_baseline(cmd["camera"])
                except Exception:  # noqa: BLE001 - not acked, so the collector asks again
                    log.exception("camera %s: baseline reset failed", cmd["camera"])
                    return False
            log.info("camera %s: baseline reset by the collector (command %s)",
                     cmd["camera"], cmd.get("id"))
            return True
        log.warning("ignoring unknown command %s", scrub(str(cmd))[:200])
        return True

    # -- supervision -------------------------------------------------------------------------

    def save_camera_states(self) -> None:
        """Write every camera's learned picture (every CAMERA_STATE_INTERVAL and on stop). A
        failed write (a full disk) keeps the previous file and is logged once per camera."""
        self._next_state_save = time.monotonic() + CAMERA_STATE_INTERVAL
        with self._monitor_lock:
            states = {k: self.monitor.state(k) for k in self.cameras}
        for key, state in states.items():
            if state is None:
                continue
            try:
                self.camera_states.save(key, state)
            except OSError as exc:
                st = self.cameras[key]
                if not st.state_save_failed:
                    log.warning("camera %s: could not save its learned picture (%s); the "
                                "previous one is kept", key, exc)
                st.state_save_failed = True
            else:
                self.cameras[key].state_save_failed = False

    def _supervisor_loop(self) -> None:
        next_beat = time.monotonic() + min(5.0, self.cfg.outbox.heartbeat_interval)
        while not self._stop.wait(0.2):
            self._loops["supervisor"] = time.monotonic()
            self.check_signal_loss()
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + self.cfg.outbox.heartbeat_interval
                try:
                    self.outbox.add_heartbeat(self.heartbeat())
                    self.uplink.notify()
                except Exception:  # noqa: BLE001
                    log.exception("could not store a heartbeat")
            if time.monotonic() >= self._next_state_save:
                self.save_camera_states()

    def check_signal_loss(self) -> None:
        """Raise signal_loss for cameras without pictures for longer than their grace."""
        now = time.monotonic()
        for st in self.cameras.values():
            with self._lock:
                if _in_quiet(st.cfg):
                    st.quiet_ref = now
                    continue
                if st.signal_lost or "signal_loss" not in st.cfg.faults:
                    continue
                if self.mode == "continuous":
                    ref = st.last_frame_mono or st.started
                else:
                    ref = st.failing_since
                    # Backstop: a patrol that cannot even get round must still notice.
                    last = st.last_frame_mono or st.started
                    if ref is None and now - last > 2 * st.cfg.sample_interval + \
                            st.cfg.signal_loss_grace:
                        ref = last
                if ref is None:
                    continue
                ref = max(ref, st.quiet_ref)
                if now - ref < st.cfg.signal_loss_grace:
                    continue
                if st.last_error is not None and not st.connected:
                    reason, message = st.last_error
                else:
                    reason = "timeout"
                    message = (f"connected but no picture for {now - ref:.0f}s "
                               "(stalled stream)")
            self._signal_change(st, "raised", reason, message)

    def heartbeat(self) -> dict[str, Any]:
        """The periodic summary the collector uses to know the agent and its cameras live."""
        cams: dict[str, HeartbeatCamera] = {}
        with self._lock:
            for key, st in self.cameras.items():
                faults = sorted(st.faults)
                status = "signal_loss" if st.signal_lost else (faults[0] if faults else "ok")
                cams[key] = HeartbeatCamera(status, faults, st.last_frame_wall or None)
        return Heartbeat(self.cfg.agent_id, time.time(), cams).to_dict()

    def _refresh_gauges(self) -> None:
        now = time.monotonic()
        self.metrics.outbox_depth.set(self.outbox.depth())
        with self._lock:
            for key, st in self.cameras.items():
                while st.reconnects and now - st.reconnects[0] > HOUR:
                    st.reconnects.popleft()
                while st.stalls and now - st.stalls[0] > HOUR:
                    st.stalls.popleft()
                self.metrics.reconnects_hour.labels(camera=key).set(len(st.reconnects))
                self.metrics.stalls_hour.labels(camera=key).set(len(st.stalls))
                up = st.last_frame_mono is not None and not st.signal_lost and \
                    now - st.last_frame_mono < st.cfg.signal_loss_grace
                self.metrics.camera_up.labels(camera=key).set(1 if up else 0)
                age = now - st.last_frame_mono if st.last_frame_mono else now - st.started
                self.metrics.last_frame_age.labels(camera=key).set(round(age, 3))
        counters = self.outbox.counters()
        for name, reason in (("dropped_episode", "episode"),
                             ("dropped_heartbeat", "heartbeat")):
            delta = counters.get(name, 0) - self._dropped_seen.get(name, 0)
            if delta > 0:
                self.metrics.outbox_dropped.labels(reason=reason).inc(delta)
                self._dropped_seen[name] = counters.get(name, 0)

    def health(self) -> tuple[bool, dict[str, Any]]:
        """For supervisors: healthy while every core thread runs and loops recently."""
        now = time.monotonic()
        problems = []
        for name in ("analysis", "supervisor"):
            last = self._loops.get(name)
            if last is None or now - last > 10.0:
                problems.append(f"{name} loop not running")
        if not self.uplink.alive():
            problems.append("uplink thread not running")
        with self._lock:
            down = sorted(k for k, st in self.cameras.items() if st.signal_lost)
        body = {"status": "ok" if not problems else "unhealthy", "problems": problems,
                "agent": self.cfg.agent_id, "mode": self.mode, "cameras": len(self.cameras),
                "cameras_signal_loss": down, "outbox_depth": self.outbox.depth(),
                "last_delivery": iso_utc(self.uplink.last_success)
                if self.uplink.last_success else None, **self.outbox_status()}
        return not problems, body


    def outbox_status(self) -> dict[str, Any]:
        """Dead letters and write trouble for /healthz: shown, but not "unhealthy", because a
        supervisor restarting the agent would lose changes held in memory on a full disk."""
        letters = self.outbox.dead_letters(20)
        warnings = []
        if self.outbox.write_error:
            warnings.append(f"outbox cannot write ({self.outbox.write_error}); "
                            f"{self.outbox.unsaved()} state change(s) held in memory")
        if letters:
            warnings.append(f"{self.outbox.dead_letter_count()} event(s) refused by the "
                            "collector are kept as dead letters (--retry-dead-letters)")
        return {"warnings": warnings, "outbox_unsaved": self.outbox.unsaved(),
                "dead_letters": self.outbox.dead_letter_count(),
                "dead_letter_events": [
                    {"event_id": d.event_id, "kind": d.kind, "camera": d.camera,
                     "fault": d.fault, "state": d.state, "status": d.status,
                     "error": scrub(d.error)[:200], "dead_at": iso_utc(d.dead_at)}
                    for d in letters]}


def _close(key: str, it: object) -> None:
    """Close a camera's frame iterator; closing a broken stream may fail too, harmlessly."""
    if it is not None and hasattr(it, "close"):
        try:
            it.close()
        except Exception:  # noqa: BLE001
            log.debug("camera %s: close failed", key, exc_info=True)
