"""Helpers shared by the collector tests (events, tokens, real server processes)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from collector.auth import create_token
from collector.store import Store

REPO = Path(__file__).resolve().parents[2]
ROLES = ("agent", "operator", "crew", "admin")


@dataclass
class Env:
    """An in-process app bound to a real database, with one token per role."""

    app: Any
    client: Any
    store: Store
    tokens: dict[str, str] = field(default_factory=dict)

    def h(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def post(self, events: list[dict], agent: str = "c0417", role: str = "agent",
             **kw: Any) -> httpx.Response:
        return self.client.post("/v1/events", json={"agent": agent, "events": events},
                                headers=self.h(role), **kw)

    def sweep(self, now: float | None = None) -> dict[str, int]:
        return self.app.state.sweep_once(now)


def make_tokens(store: Store, agent: str = "c0417",
                compounds: tuple[str, ...] = ("c0417",)) -> dict[str, str]:
    """One token per role; the agent's reports for `compounds` (its cameras are c0417/...)."""
    out = {}
    with store.writing() as conn:
        for role in ROLES:
            _, out[role] = create_token(conn, agent if role == "agent" else f"{role}1", role,
                                        compounds=compounds if role == "agent" else ())
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    proc: subprocess.Popen
    base: str
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def launch_server(db: str, tmp: Path, config: str | None = None, *,
                  extra: list[str] | None = None, scheme: str = "http") -> Server:
    """Start `python -m collector collector` as a real uvicorn process (not yet ready)."""
    port = free_port()
    cfg_path = tmp / f"collector-{port}.yaml"
    cfg_path.write_text(config or "")
    log = tmp / f"collector-{port}.log"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "collector", "collector", "--host", "127.0.0.1",
           "--port", str(port), "--db", db, "--config", str(cfg_path), "--log-level",
           "warning", *(extra or [])]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)
    return Server(proc, f"{scheme}://127.0.0.1:{port}", log)


def wait_ready(srv: Server, verify: Any = False) -> Server:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if srv.proc.poll() is not None:
            raise RuntimeError(f"collector exited: {srv.log.read_text()[-2000:]}")
        try:
            if httpx.get(srv.base + "/healthz", timeout=1, verify=verify).status_code == 200:
                return srv
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    srv.proc.kill()
    raise RuntimeError(f"collector did not start: {srv.log.read_text()[-2000:]}")


def start_server(db: str, tmp: Path, config: str | None = None, *,
                 extra: list[str] | None = None, scheme: str = "http",
                 verify: Any = False) -> Server:
    """Run a real collector process and wait until it answers."""
    return wait_ready(launch_server(db, tmp, config, extra=extra, scheme=scheme), verify)


def iso(ts: float) -> str:
    from contract import iso_utc

    return iso_utc(ts)


def state_change(camera: str = "c0417/cam03", fault: str = "blocked", state: str = "raised",
                 t: float | None = None, **kw: Any) -> dict[str, Any]:
    from contract import DEFAULT_SEVERITY, StateChange

    sc = StateChange(camera, fault, state, time.time() if t is None else t,
                     kw.pop("confidence", 0.9),
                     kw.pop("severity", DEFAULT_SEVERITY.get(fault, "major")),
                     kw.pop("evidence", {"covered_fraction": 0.7}), kw.pop("snapshot", None))
    d = sc.to_dict(iso_time=True)
    d.update(kw)
    return d
