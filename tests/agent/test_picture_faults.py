"""Picture faults end to end: RTSP stream -> agent -> detection core -> the real collector."""

from __future__ import annotations

from pathlib import Path

from tests.agent.conftest import (
    AgentProc,
    RealCollector,
    RtspServer,
    free_port,
    wait_for,
    write_config,
)


def test_blocked_blurred_rippled_streams_reach_the_collector(fault_clips, tmp_path: Path,
                                                             procs) -> None:
    rt = RtspServer(dict(fault_clips)).start()
    # The agent does not wait for the collector: its events wait in the outbox meanwhile.
    col = RealCollector(tmp_path).start(wait=False)
    procs.extend([rt, col])
    mport = free_port()
    cfg = write_config(
        tmp_path / "edge.yaml", collector_url=col.url, metrics_port=mport,
        data_dir=tmp_path / "data",
        defaults={"signal_loss_grace": 8},
        cameras=[{"compound": "c3", "id": f, "url": rt.url(f)} for f in fault_clips])
    agent = AgentProc(cfg, tmp_path / "agent.log", mport, token=col.agent_token).start()
    procs.append(agent)

    wait_for(col._up, 30, "collector /healthz")

    def raised(fault: str) -> list[dict]:
        return [e for e in col.events() if e["camera"] == f"c3/{fault}"
                and e["fault"] == fault and e["state"] == "raised"]

    for fault in fault_clips:
        ev = wait_for(lambda fault=fault: raised(fault), 45, f"{fault} raised at the collector")
        assert ev[0]["severity"] in ("critical", "major") and ev[0]["evidence"], ev
        assert len(ev) == 1, ev  # raised once
    assert not [e for e in col.events() if e["fault"] == "signal_loss"]
    for fault in fault_clips:
        assert agent.metric("lenswatch_agent_fault_state", camera=f"c3/{fault}",
                            fault=fault) == 1
        assert agent.metric("lenswatch_agent_detect_seconds_count", camera=f"c3/{fault}") > 0

    # A crew closes the blur ticket after a repair: the collector queues reset_baseline for
    # the camera's agent, which carries it out and acknowledges it.
    def blur_ticket() -> list[dict]:
        tickets = col.call("GET", "/v1/tickets", col.crew_token, params={"status": "active"})
        return [t for t in tickets if t["camera"] == "c3/blur"]

    (ticket,) = wait_for(blur_ticket, 15, "a ticket for the blurred camera")
    closed = col.call("POST", f"/v1/tickets/{ticket['id']}/close", col.crew_token,
                      json={"reset_baseline": True, "note": "lens cleaned"})
    assert closed["command_id"]
    wait_for(lambda: not col.call("GET", "/v1/agents/test-agent/commands", col.agent_token),
             15, "reset_baseline acknowledged by the agent")
    agent.stop()
    assert "c3/blur: baseline reset by the collector" in agent.log_text()
