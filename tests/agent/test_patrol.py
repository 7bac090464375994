"""Patrol mode (connect, take a picture, disconnect, next camera) and the mode choice."""

from __future__ import annotations

from dataclasses import replace
from datetime import time as dtime
from pathlib import Path

from edge_agent.agent import Backoff, choose_mode
from edge_agent.config import AgentConfig, CameraConfig, CollectorConfig, OutboxConfig, QuietWindow
from tests.agent.conftest import (
    AgentProc,
    IngestServer,
    RtspServer,
    free_port,
    wait_for,
    write_config,
)


def _cfg(n: int, interval: float = 2.0, mode: str = "auto") -> AgentConfig:
    cams = tuple(CameraConfig(compound="c", id=f"k{i}", url=f"rtsp://h/{i}",
                              sample_interval=interval) for i in range(n))
    return AgentConfig(agent_id="a", collector=CollectorConfig(url="http://x", token="t"),
                       outbox=OutboxConfig(path="/tmp/x"), cameras=cams, mode=mode,
                       max_open_streams=64)


def test_mode_choice_is_explained() -> None:
    assert choose_mode(_cfg(16))[0] == "continuous"
    mode, why = choose_mode(_cfg(65))
    assert mode == "patrol" and "max_open_streams=64" in why
    assert choose_mode(_cfg(8, interval=300))[0] == "patrol"
    assert choose_mode(replace(_cfg(100), mode="continuous"))[0] == "continuous"


def test_quiet_window_wraps_midnight_and_backoff_is_bounded() -> None:
    w = QuietWindow(dtime(23, 50), dtime(0, 10))
    assert w.contains(dtime(23, 55)) and w.contains(dtime(0, 5)) and not w.contains(dtime(1))
    b = Backoff(0.5, 4.0)
    waits = [b.next() for _ in range(12)]
    assert all(0.25 <= x <= 4.0 for x in waits) and max(waits[-3:]) > 2.0
    b.reset()
    assert b.next() <= 0.5


def test_patrol_visits_every_camera_and_flags_the_dead_one(clips, tmp_path: Path,
                                                           procs) -> None:
    rt = RtspServer({f"m{i}": clips["none"] for i in range(4)}).start()
    ing = IngestServer(tmp_path / "ingest.db").start()
    procs.extend([rt, ing])
    mport = free_port()
    cams = [{"compound": "c2", "id": f"cam{i}", "url": rt.url(f"m{i}")} for i in range(4)]
    cams.append({"compound": "c2", "id": "dead", "url": f"rtsp://127.0.0.1:{free_port()}/x"})
    cfg = write_config(tmp_path / "edge.yaml", collector_url=ing.url, metrics_port=mport,
                       data_dir=tmp_path / "data", cameras=cams,
                       agent={"mode": "patrol", "patrol_workers": 2},
                       defaults={"sample_interval": 1.5})
    agent = AgentProc(cfg, tmp_path / "agent.log", mport).start()
    procs.append(agent)
    for i in range(4):
        wait_for(lambda i=i: agent.metric("lenswatch_agent_samples_total", camera=f"c2/cam{i}")
                 >= 2, 30, f"two visits to cam{i}")
    ev = wait_for(lambda: [e for e in ing.events() if e["camera"] == "c2/dead"], 20,
                  "signal_loss on the dead camera")
    assert ev[0]["body"]["evidence"]["reason"] == "refused"
    assert not [e for e in ing.events() if e["camera"] != "c2/dead"]
    assert "patrol mode (agent.mode is set to patrol)" in agent.log_text()
