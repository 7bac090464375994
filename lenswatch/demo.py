"""`lenswatch demo`: a collector, a simulated camera fleet and an agent, in one command.

A newcomer should see the whole pipeline work on their own machine before reading any code:
cameras going bad on the operator dashboard within a couple of minutes. This module starts
the three real programs as child processes (exactly the commands an operator would run),
wires them together with a generated agent config and fresh tokens, streams their logs with
a prefix, and on Ctrl-C / SIGTERM (or after --duration) stops them in reverse order.

Children run in their own sessions so a terminal's Ctrl-C reaches only this supervisor,
which then stops the agent first (so it flushes), then the cameras, then the collector; each
child also gets PR_SET_PDEATHSIG, so even a `kill -9` of the supervisor leaves no orphans.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
#: Faults the demo injects (seconds after the cameras are up). The agent needs ~10 s to learn
#: each camera's healthy picture, and a picture fault shows within one clip loop (10 s).
DEFAULT_SCHEDULE = ("cam1:blocked@20,cam2:blur@30,cam3:ripple@40,cam0:frozen@50,"
                    "cam4:drop@60,cam1:ok@150,cam4:ok@170,cam2:ok@190,cam3:hung@210,"
                    "cam3:ok@260,cam0:ok@280")
#: Child log lines not worth a newcomer's attention on the terminal (still in the log files):
#: the collector's database migration chatter.
NOISE = re.compile(r" INFO alembic\.")
COLORS = {"collector": "36", "simulate": "35", "agent": "33"}


def _free_port(preferred: int = 0) -> int:
    import socket

    for port in (preferred, 0) if preferred else (0,):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise OSError("no free port")


def _die_with_parent() -> None:
    """preexec_fn: new session (Ctrl-C is ours to relay), and SIGTERM if we die."""
    os.setsid()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Child:
    """One child process whose merged output is copied to ours with a `[name]` prefix."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log_dir: Path,
                 out: IO[str], quiet: bool = False) -> None:
        self.name, self.cmd = name, cmd
        self.log_path = log_dir / f"{name}.log"
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1,
                                     preexec_fn=_die_with_parent)
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._out, self._quiet = out, quiet
        self._thread = threading.Thread(target=self._pump, daemon=True, name=f"log-{name}")
        self._thread.start()

    def _pump(self) -> None:
        color = COLORS.get(self.name, "0")
        tty = self._out.isatty()
        prefix = f"\033[{color}m[{self.name}]\033[0m " if tty else f"[{self.name}] "
        assert self.proc.stdout is not None
        with open(self.log_path, "a") as log:
            for line in self.proc.stdout:
                log.write(line)
                log.flush()
                with self._cond:
                    self.lines.append(line.rstrip("\n"))
                    self._cond.notify_all()
                if not self._quiet and not NOISE.search(line):
                    self._out.write(prefix + line)
                    self._out.flush()
        with self._cond:
            self._cond.notify_all()

    def wait_line(self, startswith: str, timeout: float) -> str:
        """Block until the child prints a line starting with `startswith`; return it."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for line in self.lines[seen:]:
                    if line.startswith(startswith):
                        return line
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._thread.is_alive()):
                    raise RuntimeError(f"{self.name} did not print {startswith!r} "
                                       f"(see {self.log_path})")
                self._cond.wait(min(left, 0.5))

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM the child's whole session, then SIGKILL whatever is left after `timeout`."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGCONT)
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        # Grandchildren (the cameras' servers) share the session: none may outlive it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self._thread.join(5)


def _wait_http(url: str, timeout: float, child: Child) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.proc.poll() is not None:
            raise RuntimeError(f"{child.name} exited with {child.proc.returncode} "
                               f"(see {child.log_path})")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def _tokens(db_url: str) -> tuple[str, str]:
    """Migrate the demo database and create (admin login token, agent token)."""
    from collector.auth import create_token
    from collector.store import migrate, open_store

    store = open_store(db_url)
    migrate(store)
    with store.writing() as conn:
        _, admin = create_token(conn, "demo-admin", "admin")
        _, agent = create_token(conn, "demo", "agent", compounds=["demo"])
    return admin, agent


def _lenswatch_cmd() -> str:
    """How the user can call lenswatch from their shell (./dev installs it into .venv)."""
    exe = Path(sys.executable).parent / "lenswatch"
    if exe.exists():
        try:
            return str(exe.relative_to(Path.cwd()))
        except ValueError:
            return str(exe)
    return f"{sys.executable} -m lenswatch.cli"


def agent_config(path: Path, *, cameras: list[dict[str, Any]], collector_url: str,
                 metrics_port: int, data_dir: Path) -> Path:
    """Write the demo agent's YAML: the simulator's cameras, short timeouts, token from env."""
    doc = {
        "agent": {"id": "demo", "mode": "continuous", "metrics_listen":
                  f"127.0.0.1:{metrics_port}", "data_dir": str(data_dir), "log_level": "INFO"},
        "collector": {"url": collector_url, "token": "${LENSWATCH_TOKEN}", "batch_size": 50,
                      "timeout": 5, "retry_initial": 0.5, "retry_max": 5, "poll_commands": 5},
        "outbox": {"heartbeat_interval": 10},
        "defaults": {"sample_interval": 2, "signal_loss_grace": 12, "open_timeout": 4,
                     "read_timeout": 4},
        "cameras": [{"compound": "demo", "id": c["camera"],
                     "name": f"Demo {c['camera']} ({Path(c['source']).name})",
                     "url": c["url"]} for c in cameras],
    }
    path.write_text("# generated by `lenswatch demo`\n" + yaml.safe_dump(doc, sort_keys=False))
    return path


def run_demo(args: argparse.Namespace) -> int:
    """Start collector, simulator and agent; print URL and login; stop all on signal/duration."""
    out = sys.stdout
    if args.schedule == DEFAULT_SCHEDULE:  # the default names cam0..cam4: keep what exists
        args.schedule = ",".join(
            item for item in DEFAULT_SCHEDULE.split(",")
            if int(item.split(":")[0].removeprefix("cam")) < args.cameras)
    for noisy in ("alembic", "httpx", "httpcore"):  # our own set-up chatter is not news
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from lenswatch.simulate import gstreamer_available

    if not gstreamer_available():
        # Without it the simulator can only leave clips on disk, which no agent treats as a
        # live camera: fail now with the fix rather than show an empty dashboard.
        out.write("lenswatch demo needs GStreamer's RTSP server for /usr/bin/python3: run "
                  "./dev demo (it installs it), or: sudo apt-get install python3-gi "
                  "gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good "
                  "gstreamer1.0-plugins-bad\n")
        return 2
    data = Path(args.data_dir).resolve()
    if data.exists() and not args.keep:
        shutil.rmtree(data)  # a fresh database and outbox every run: the demo starts clean
    data.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]), "PYTHONUNBUFFERED": "1"}
    py = sys.executable
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    children: list[Child] = []
    try:
        db_url = f"sqlite:///{data / 'collector.db'}"
        admin_token, agent_token = _tokens(db_url)
        cport = _free_port(args.port)
        base = f"http://127.0.0.1:{cport}"
        children.append(Child("collector", [py, "-m", "lenswatch.cli", "collector", "--port",
                                            str(cport), "--db", db_url, "--log-level",
                                            "warning"], env, data, out))
        manifest = data / "simulator.json"
        children.append(Child("simulate", [
            py, "-m", "lenswatch.cli", "simulate", "--cameras", str(args.cameras),
            "--schedule", args.schedule, "--manifest", str(manifest),
            "--run-dir", str(data / "cameras"), "--clip-seconds", str(args.clip_seconds),
            *(["--cache", args.cache] if args.cache else [])], env, data, out))
        _wait_http(f"{base}/healthz", 60, children[0])
        children[1].wait_line("SIMULATOR READY", 600)  # the first run renders the clips
        if stop.is_set():
            return 130
        cams = json.loads(manifest.read_text())["cameras"]
        mport = _free_port()
        cfg = agent_config(data / "edge.yaml", cameras=cams, collector_url=base,
                           metrics_port=mport, data_dir=data / "agent")
        children.append(Child("agent", [py, "-m", "lenswatch.cli", "agent", "--config",
                                        str(cfg)], {**env, "LENSWATCH_TOKEN": agent_token},
                              data, out))
        banner = [
            "",
            "=" * 72,
            f"  Operator dashboard:  {base}/dashboard",
            f"  Crew board:          {base}/board",
            f"  Login token (admin): {admin_token}",
            "  Paste the token on the login page; it is shown only here.",
            f"  Cameras:  {', '.join(c['camera'] for c in cams)} (simulated, RTSP)",
            f"  Faults scheduled (s after start): {args.schedule.replace(',', ', ')}",
            f"  Inject one yourself:  {_lenswatch_cmd()} simulate --control "
            f"{json.loads(manifest.read_text())['control']} --send {cams[-1]['camera']}=ripple",
            f"  Logs and data: {data}",
            "  Ctrl-C stops everything.",
            "=" * 72,
            "",
        ]
        out.write("\n".join(banner) + "\n")
        out.write(f"DEMO READY url={base}/dashboard token={admin_token}\n")
        out.flush()
        t0 = time.monotonic()
        while not stop.is_set():
            for c in children:
                if c.proc.poll() is not None:
                    out.write(f"[demo] {c.name} exited with {c.proc.returncode}; stopping "
                              f"(log: {c.log_path})\n")
                    stop.set()
            if args.duration and time.monotonic() - t0 >= args.duration:
                break
            stop.wait(0.5)
    except RuntimeError as exc:
        out.write(f"[demo] {exc}\n")
        return 1
    finally:
        out.write("[demo] stopping agent, cameras, collector ...\n")
        out.flush()
        for c in reversed(children):
            c.stop()
        out.write("[demo] all stopped\n")
        out.flush()
    return 0


def add_subcommands(subparsers: Any) -> None:
    """Register `demo` on the lenswatch dispatcher's subparsers."""
    p = subparsers.add_parser(
        "demo", help="run a collector + simulated cameras + an agent on this machine",
        description=__doc__.split("\n\n")[0])
    p.add_argument("--cameras", type=int, default=5, help="simulated cameras (default 5)")
    p.add_argument("--schedule", default=DEFAULT_SCHEDULE,
                   help="fault schedule for the simulator (see `lenswatch simulate -h`)")
    p.add_argument("--port", type=int, default=8470,
                   help="collector port (default 8470, or a free one if taken)")
    p.add_argument("--data-dir", default="var/demo",
                   help="database, outbox, logs (default ./var/demo; wiped at start)")
    p.add_argument("--keep", action="store_true", help="keep the previous run's data")
    p.add_argument("--clip-seconds", type=float, default=10.0,
                   help="camera loop length; a picture fault shows within one loop")
    p.add_argument("--cache", help="footage and clip cache (default ~/.cache/lenswatch)")
    p.add_argument("--duration", type=float, default=0,
                   help="stop by itself after SECONDS (for tests); default: until Ctrl-C")
    p.set_defaults(func=run_demo)
