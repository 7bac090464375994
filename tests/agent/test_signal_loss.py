"""signal_loss against real faults: a dead server, a hung one (SIGSTOP), wrong credentials, a
wrong path, nothing listening, a corrupt stream, all while a healthy camera keeps streaming."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from datetime import datetime
from pathlib import Path

from tests.agent.conftest import (
    TOKEN,
    AgentProc,
    IngestServer,
    RtspServer,
    free_port,
    wait_for,
    write_config,
)

GRACE = 4.0
SLACK = 2.5  # supervisor tick, scheduling on a shared 2-core box, delivery


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _signal(ing: IngestServer, camera: str, state: str) -> list[dict]:
    return [e["body"] for e in ing.events() if e["camera"] == camera
            and e["fault"] == "signal_loss" and e["state"] == state]


def test_signal_loss_raised_and_cleared_on_real_faults(clips, tmp_path: Path, procs) -> None:
    victim = RtspServer({"cam": clips["none"]}).start()
    healthy = RtspServer({"cam": clips["none"]}).start()
    locked = RtspServer({"cam": clips["none"]}, user="viewer", password="Rt5p-pass-42").start()
    ing = IngestServer(tmp_path / "ingest.db").start()
    procs.extend([victim, healthy, locked, ing])
    corrupt = tmp_path / "corrupt.h264"
    corrupt.write_bytes(os.urandom(200_000))
    mport = free_port()
    cams = {
        "victim": victim.url("cam"),
        "healthy": healthy.url("cam"),
        "goodauth": locked.url("cam", "viewer", "Rt5p-pass-42"),
        "wrongpw": locked.url("cam", "viewer", "wrongpass-991"),
        "nopath": healthy.url("no-such-channel"),
        "nothing": f"rtsp://127.0.0.1:{free_port()}/cam",
        "corrupt": str(corrupt),
    }
    cfg = write_config(tmp_path / "edge.yaml", collector_url=ing.url, metrics_port=mport,
                       data_dir=tmp_path / "data",
                       cameras=[{"compound": "c1", "id": k, "url": u} for k, u in cams.items()])
    agent = AgentProc(cfg, tmp_path / "agent.log", mport).start()
    procs.append(agent)

    def samples(cam: str) -> float:
        return agent.metric("lenswatch_agent_samples_total", camera=f"c1/{cam}")

    for cam in ("victim", "healthy", "goodauth"):
        wait_for(lambda cam=cam: samples(cam) >= 2, 20, f"samples from {cam}")
    expected = {"wrongpw": "auth_failed", "nopath": "not_found", "nothing": "refused",
                "corrupt": "undecodable"}
    for cam, reason in expected.items():
        ev = wait_for(lambda cam=cam: _signal(ing, f"c1/{cam}", "raised"), 20,
                      f"signal_loss on {cam}")
        assert ev[0]["evidence"]["reason"] == reason, ev

    # 1. The camera's server dies mid-stream: the frame iterator just ends.
    before = samples("healthy")
    t_kill = time.time()
    victim.kill()
    ev = wait_for(lambda: _signal(ing, "c1/victim", "raised"), GRACE + 10, "raise after kill")
    assert _epoch(ev[0]["t"]) - t_kill <= GRACE + SLACK, (ev, t_kill)
    assert ev[0]["evidence"]["reason"] in ("ended", "refused")
    # While the victim is still down, the healthy camera keeps its pace (a sample per 2 s).
    wait_for(lambda: samples("healthy") >= before + 2, 6, "the healthy camera to go on")

    # 2. It comes back: cleared as soon as pictures return.
    victim.start()
    wait_for(lambda: _signal(ing, "c1/victim", "cleared"), GRACE + 15, "clear after restart")

    # 3. The server hangs (SIGSTOP): no exception for a while, yet raised within the grace.
    wait_for(lambda: agent.metric("lenswatch_agent_camera_up", camera="c1/victim") == 1, 10,
             "victim up again")
    t_stop = time.time()
    victim.pause()
    ev = wait_for(lambda: len(_signal(ing, "c1/victim", "raised")) == 2 and
                  _signal(ing, "c1/victim", "raised"), GRACE + 10, "raise while hung")
    assert _epoch(ev[1]["t"]) - t_stop <= GRACE + SLACK, (ev, t_stop)
    assert ev[1]["evidence"]["reason"] == "timeout"
    victim.resume()
    wait_for(lambda: len(_signal(ing, "c1/victim", "cleared")) == 2, GRACE + 20,
             "clear after SIGCONT")
    # The healthy camera kept its pace (one keyframe per 2 s GOP) through all of it.
    assert samples("healthy") >= before + int((time.time() - t_kill) / 2.0) - 3

    # Raised once, cleared once: no repeats while a fault holds.
    for cam in cams:
        states = [e["state"] for e in ing.events() if e["camera"] == f"c1/{cam}"]
        assert all(a != b for a, b in zip(states, states[1:], strict=False)), (cam, states)

    # Connection quality and the rest of /metrics; promtool must have nothing to say.
    assert agent.metric("lenswatch_agent_connection_stalls_last_hour", camera="c1/victim") >= 1
    assert agent.metric("lenswatch_agent_connection_reconnects_last_hour",
                        camera="c1/victim") >= 2
    assert agent.metric("lenswatch_agent_fault_state", camera="c1/nothing",
                        fault="signal_loss") == 1
    assert agent.metric("lenswatch_agent_fault_state", camera="c1/victim",
                        fault="signal_loss") == 0
    metrics = agent.metrics()
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    res = subprocess.run([promtool, "check", "metrics"], input=metrics, text=True,
                         capture_output=True, timeout=30)
    assert res.returncode == 0 and not res.stdout.strip() and not res.stderr.strip(), \
        res.stdout + res.stderr
    health = agent.get("/healthz")
    assert health is not None and health.status_code == 200
    assert "c1/nothing" in health.json()["cameras_signal_loss"]

    # Credentials reach no log line, metric, event or page.
    agent.stop()
    pages = metrics + health.text + str(ing.stats()) + agent.log_text()
    for secret in ("Rt5p-pass-42", "wrongpass-991", TOKEN):
        assert secret not in pages
    assert "viewer:***@" in agent.log_text()
