"""Picture faults end to end: RTSP stream -> agent -> detection core -> collector process."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from tests.agent.conftest import (
    AgentProc,
    IngestServer,
    RtspServer,
    free_port,
    wait_for,
    write_config,
)


def test_blocked_blurred_rippled_streams_reach_the_collector(fault_clips, tmp_path: Path,
                                                             procs) -> None:
    rt = RtspServer(dict(fault_clips)).start()
    ing = IngestServer(tmp_path / "ingest.db").start()
    procs.extend([rt, ing])
    mport = free_port()
    cfg = write_config(
        tmp_path / "edge.yaml", collector_url=ing.url, metrics_port=mport,
        data_dir=tmp_path / "data",
        defaults={"signal_loss_grace": 8},
        cameras=[{"compound": "c3", "id": f, "url": rt.url(f)} for f in fault_clips])
    agent = AgentProc(cfg, tmp_path / "agent.log", mport).start()
    procs.append(agent)

    def raised(fault: str) -> list[dict]:
        return [e for e in ing.events() if e["camera"] == f"c3/{fault}"
                and e["fault"] == fault and e["state"] == "raised"]

    for fault in fault_clips:
        ev = wait_for(lambda fault=fault: raised(fault), 45, f"{fault} raised at the collector")
        body = ev[0]["body"]
        assert body["severity"] in ("critical", "major") and body["evidence"], body
    assert not [e for e in ing.events() if e["fault"] == "signal_loss"]
    for fault in fault_clips:
        assert agent.metric("lenswatch_agent_fault_state", camera=f"c3/{fault}",
                            fault=fault) == 1
        assert agent.metric("lenswatch_agent_detect_seconds_count", camera=f"c3/{fault}") > 0

    # The collector asks for a baseline reset (after a repair): carried out and acknowledged.
    cid = str(uuid.uuid4())
    httpx.post(f"{ing.url}/test/commands", json={"id": cid, "agent": "test-agent",
                                                  "kind": "reset_baseline",
                                                  "camera": "c3/blur"}, timeout=5)
    wait_for(lambda: cid in ing.stats()["acked_commands"], 15, "command acknowledged")
    agent.stop()
    assert "baseline reset by the collector" in agent.log_text()
