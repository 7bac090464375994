"""Nothing lost, nothing twice: collector down, 5xx, `kill -9` mid-flush, restart."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.agent.conftest import AgentProc, IngestServer, free_port, wait_for, write_config

N = 12


def test_kill9_during_flush_then_restart_delivers_every_event_once(tmp_path: Path,
                                                                   procs) -> None:
    # The collector is down when the agent starts, and answers 503 to its first two POSTs.
    ing = IngestServer(tmp_path / "ingest.db", delay=1.5, fail_first=2)
    mport = free_port()
    dead = free_port()
    cfg = write_config(
        tmp_path / "edge.yaml", collector_url=ing.url, metrics_port=mport,
        data_dir=tmp_path / "data",
        collector={"batch_size": 4},
        defaults={"signal_loss_grace": 2, "open_timeout": 0.5, "read_timeout": 0.5},
        cameras=[{"compound": "c9", "id": f"cam{i:02d}", "url": f"rtsp://127.0.0.1:{dead}/{i}"}
                 for i in range(N)])
    agent = AgentProc(cfg, tmp_path / "agent.log", mport).start()
    procs.extend([agent, ing])
    wait_for(lambda: agent.metric("lenswatch_agent_outbox_depth") >= N, 20,
             "every camera's signal_loss in the outbox")
    wait_for(lambda: agent.metric("lenswatch_agent_uplink_failures_total", reason="network")
             >= 1, 10, "a failed delivery while the collector is down")

    ing.start()
    # The collector has stored a batch and is holding the answer: kill -9 the agent now.
    wait_for(lambda: ing.stats()["in_flight"] >= 1, 20, "a POST held by the collector")
    agent.kill9()
    stored_before_restart = len(ing.events())
    assert stored_before_restart >= 1

    agent = AgentProc(cfg, tmp_path / "agent2.log", mport).start()
    procs.append(agent)

    def delivered() -> list[dict]:
        evs = ing.events()
        return evs if len(evs) >= N else []

    events = wait_for(delivered, 40, "every event at the collector")
    agent.stop()

    # Exactly once: one raise per camera, no repeat raise by the restarted agent, no clears.
    assert len(events) == N, [e["camera"] for e in events]
    assert sorted(e["camera"] for e in events) == [f"c9/cam{i:02d}" for i in range(N)]
    assert {(e["fault"], e["state"]) for e in events} == {("signal_loss", "raised")}
    stats = ing.stats()["stats"]
    # The batch stored before the kill came again after the restart and was a duplicate.
    assert stats.get("duplicates", 0) >= 1, stats
    db = sqlite3.connect(tmp_path / "data" / "outbox.sqlite")
    left = db.execute("SELECT COUNT(*) FROM outbox WHERE kind='state_change'").fetchone()[0]
    assert left == 0
    assert "restored raised faults" in agent.log_text()
