"""Real processes for the agent's tests: a GStreamer RTSP server, an ingest server, the agent.

Nothing here is mocked: the RTSP server runs under Debian's /usr/bin/python3 (python3-gi), the
ingest server and the agent are separate Python processes talking HTTP over loopback, so
`kill -9`, SIGSTOP and a dead server behave exactly as they do in the field.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import yaml

from edge_agent.clips import make_clip

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"
PY = sys.executable
TOKEN = "test-token-5up3r-s3cret"
FPS = 10


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond: Callable[[], Any], timeout: float, what: str, step: float = 0.1) -> Any:
    """Poll `cond` until it returns something truthy; fail the test with `what` otherwise."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class RtspServer:
    """One GStreamer RTSP server process serving looping clips on a fixed port."""

    def __init__(self, mounts: dict[str, Path], port: int | None = None,
                 user: str | None = None, password: str | None = None) -> None:
        self.mounts = mounts
        self.port = port or free_port()
        self.user, self.password = user, password
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> RtspServer:
        cmd = [SYSTEM_PYTHON, str(ROOT / "edge_agent" / "rtsp_server.py"),
               "--port", str(self.port), "--fps", str(FPS)]
        for name, path in self.mounts.items():
            cmd += ["--mount", f"{name}={path}"]
        if self.user:
            cmd += ["--user", self.user, "--password", self.password or ""]
        for _ in range(20):  # the port may linger briefly after a kill
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True)
            line = self.proc.stdout.readline() if self.proc.stdout else ""
            if line.startswith("READY"):
                return self
            self.proc.wait(5)
            time.sleep(0.25)
        raise RuntimeError(f"RTSP server did not start: {self.proc.stderr.read()}")

    def url(self, mount: str, user: str | None = None, password: str | None = None) -> str:
        cred = f"{user}:{password}@" if user else ""
        return f"rtsp://{cred}127.0.0.1:{self.port}/{mount}"

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        """Teardown's name for it: the `procs` fixture stops everything the same way (the
        test modules may see this class through another import path, so no isinstance)."""
        self.kill()

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)


class IngestServer:
    """The test ingest server (tests/agent/ingest_server.py) as a separate process."""

    def __init__(self, db: Path, port: int | None = None, delay: float = 0.0,
                 fail_first: int = 0) -> None:
        self.db, self.port, self.delay, self.fail_first = db, port or free_port(), delay, \
            fail_first
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> IngestServer:
        self.proc = subprocess.Popen(
            [PY, str(ROOT / "tests" / "agent" / "ingest_server.py"), "--port", str(self.port),
             "--db", str(self.db), "--token", TOKEN, "--delay", str(self.delay),
             "--fail-first", str(self.fail_first)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._up, 15, "ingest server to listen")
        return self

    def _up(self) -> bool:
        try:
            return httpx.get(f"{self.url}/test/stats", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/test/stats", timeout=5).json()

    def events(self, kind: str = "state_change") -> list[dict[str, Any]]:
        return [e for e in self.stats()["events"] if e["kind"] == kind]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class RealCollector:
    """The project's own collector (`lenswatch collector`) on SQLite, as a separate process."""

    def __init__(self, workdir: Path, port: int | None = None,
                 compounds: tuple[str, ...] = ("c1", "c2", "c3", "c9")) -> None:
        self.port = port or free_port()
        self.compounds = compounds  # what the agent token may report for
        self.db = f"sqlite:///{workdir / 'collector.db'}"
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "LENSWATCH_DATA": str(workdir)}
        self.proc: subprocess.Popen[bytes] | None = None
        self._token("setup", "admin")  # creates and migrates the database once
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(3) as pool:
            self.agent_token, self.operator_token, self.crew_token = pool.map(
                lambda a: self._token(*a),
                [("test-agent", "agent"), ("tester", "operator"), ("crew1", "crew")])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _token(self, subject: str, role: str) -> str:
        scope = [a for c in self.compounds for a in ("--compound", c)] if role == "agent" else []
        out = subprocess.run([PY, "-m", "lenswatch.cli", "token", "--db", self.db, "create",
                              "--agent", subject, "--role", role, *scope], cwd=ROOT, env=self.env,
                             capture_output=True, text=True, timeout=60, check=True)
        return out.stdout.splitlines()[0].strip()

    def start(self, wait: bool = True) -> RealCollector:
        # Tickets at once (in the field a fault must last 5 minutes first), swept every second.
        cfg = Path(self.db.removeprefix("sqlite:///")).with_name("collector.yaml")
        cfg.write_text("tickets: {open_after_seconds: 0}\nsweep_interval_seconds: 1\n")
        self.proc = subprocess.Popen(
            [PY, "-m", "lenswatch.cli", "collector", "--port", str(self.port), "--db", self.db,
             "--config", str(cfg), "--log-level", "warning"], cwd=ROOT, env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if wait:
            wait_for(self._up, 30, "collector /healthz")
        return self

    def _up(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def events(self) -> list[dict[str, Any]]:
        r = httpx.get(f"{self.url}/v1/events", params={"limit": 1000}, timeout=5,
                      headers={"Authorization": f"Bearer {self.operator_token}"})
        r.raise_for_status()
        return r.json()

    def call(self, method: str, path: str, token: str, **kw: Any) -> Any:
        r = httpx.request(method, f"{self.url}{path}", timeout=5,
                          headers={"Authorization": f"Bearer {token}"}, **kw)
        r.raise_for_status()
        return r.json()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)


class AgentProc:
    """`python -m edge_agent agent --config ...` as a real process, logging to a file."""

    def __init__(self, config: Path, log: Path, metrics_port: int, token: str = TOKEN) -> None:
        self.config, self.log, self.metrics_port = config, log, metrics_port
        self.token = token
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> AgentProc:
        env = {**os.environ, "LENSWATCH_TOKEN": self.token, "PYTHONPATH": str(ROOT)}
        with open(self.log, "ab") as fh:
            self.proc = subprocess.Popen(
                [PY, "-m", "edge_agent", "agent", "--config", str(self.config)],
                cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
        wait_for(lambda: self.get("/healthz") is not None, 20, "agent /healthz")
        return self

    def get(self, path: str) -> httpx.Response | None:
        try:
            return httpx.get(f"http://127.0.0.1:{self.metrics_port}{path}", timeout=2)
        except httpx.HTTPError:
            return None

    def metrics(self) -> str:
        r = self.get("/metrics")
        return r.text if r is not None else ""

    def metric(self, name: str, **labels: str) -> float:
        """Value of one sample on /metrics (0.0 if absent)."""
        want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        for line in self.metrics().splitlines():
            if line.startswith("#"):
                continue
            key, _, value = line.rpartition(" ")
            name_part, _, lab = key.partition("{")
            if name_part != name:
                continue
            got = ",".join(sorted(lab.rstrip("}").split(","))) if lab else ""
            if got == want:
                return float(value)
        return 0.0

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> int | None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait(5)
        return self.proc.returncode if self.proc else None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def write_config(path: Path, *, cameras: list[dict[str, Any]], collector_url: str,
                 metrics_port: int, data_dir: Path, agent: dict[str, Any] | None = None,
                 collector: dict[str, Any] | None = None, outbox: dict[str, Any] | None = None,
                 defaults: dict[str, Any] | None = None) -> Path:
    """Write an agent YAML config the way an operator would."""
    doc = {
        "agent": {"id": "test-agent", "metrics_listen": f"127.0.0.1:{metrics_port}",
                  "data_dir": str(data_dir), "log_level": "INFO", **(agent or {})},
        "collector": {"url": collector_url, "token": "${LENSWATCH_TOKEN}", "batch_size": 50,
                      "timeout": 5, "retry_initial": 0.2, "retry_max": 1.0,
                      "poll_commands": 1, **(collector or {})},
        "outbox": {"heartbeat_interval": 2, **(outbox or {})},
        "defaults": {"sample_interval": 1, "signal_loss_grace": 4, "open_timeout": 1.5,
                     "read_timeout": 1.5, **(defaults or {})},
        "cameras": cameras,
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Short 704x576 clips at 10 fps with a 2 s GOP: a normal scene and faulty ones."""
    d = tmp_path_factory.mktemp("clips")
    out = {"none": make_clip(d / "none.h264", fps=FPS, seconds=6)}
    return out


#: The detection core's own fault renderings (tests/clips.py), shortened for the agent tests.
PICTURE_FAULTS = {"blocked": "blocked_leaves_70", "blur": "blur_defocus_5.0",
                  "ripple": "ripple_bars_strong"}
ONSET = 12.0


@pytest.fixture(scope="session")
def fault_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Clips whose picture turns blocked, blurred or rippled after ONSET seconds."""
    from edge_agent.clips import encode_h264
    from tests.clips import FPS as CLIP_FPS
    from tests.clips import recipes, scene

    assert CLIP_FPS == FPS
    d = tmp_path_factory.mktemp("fault_clips")
    out = {}
    all_recipes = recipes(onset=ONSET)
    for fault, name in PICTURE_FAULTS.items():
        _, _, clip, render = all_recipes[name]
        seconds = ONSET + 16
        base = scene(clip.width, clip.height, clip.seed)
        rng = np.random.default_rng(clip.seed + 1000)

        def frames(render=render, base=base, rng=rng, clip=clip, seconds=seconds):
            # Render a new picture once a second and repeat it in between: the agent looks at
            # one keyframe per 2 s GOP, and rendering every frame would cost a minute.
            img8 = None
            for i in range(int(seconds * FPS)):
                if i % FPS == 0:
                    img = render(i, i / FPS, base)
                    img = img + rng.normal(0, clip.noise, img.shape[:2])[..., None]
                    img8 = np.clip(img, 0, 255).astype(np.uint8)
                yield img8

        out[fault] = encode_h264(d / f"{name}.h264", frames(), fps=FPS, gop_seconds=2.0,
                                 crf=clip.crf, preset="veryfast")
    return out


@pytest.fixture
def procs() -> Iterator[list[Any]]:
    """Everything started in a test, stopped at its end even when the test fails."""
    started: list[Any] = []
    yield started
    failed = []
    for p in reversed(started):
        try:
            p.stop()
        except Exception as exc:  # noqa: BLE001 - cleanup must reach every process first
            failed.append(f"{type(p).__name__}: {exc!r}")
    # A process that could not be stopped outlives the test: say so instead of leaking it.
    assert not failed, f"could not stop: {failed}"
