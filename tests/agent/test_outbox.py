"""The outbox's promises: durable, no repeats, bounded, and a raised fault is never dropped."""

from __future__ import annotations

import uuid
from pathlib import Path

from contract import StateChange
from edge_agent.outbox import Outbox


def _change(camera: str, fault: str, state: str, t: float = 1.0) -> StateChange:
    return StateChange(camera=camera, fault=fault, state=state, t=1.7e9 + t, confidence=0.9,
                       severity="critical")


def test_survives_reopen_and_refuses_repeats(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    assert box.record_change(_change("c/1", "blocked", "raised"))
    assert not box.record_change(_change("c/1", "blocked", "raised"))  # raised once
    assert not box.record_change(_change("c/1", "blur", "cleared"))  # never raised
    box.close()
    box = Outbox(tmp_path / "o.sqlite")
    assert box.raised_faults() == {"c/1": {"blocked": 1.7e9 + 1.0}}
    assert not box.record_change(_change("c/1", "blocked", "raised"))  # across restarts
    (p,) = box.take(10)
    assert p.body["kind"] == "state_change" and p.body["t"].endswith("Z")
    assert box.take(10) == []  # in flight
    box.release([p.event_id])
    assert [x.event_id for x in box.take(10)] == [p.event_id]
    box.remove([p.event_id])
    assert box.depth() == 0
    assert box.record_change(_change("c/1", "blocked", "cleared"))


def test_heartbeats_are_bounded(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", keep_heartbeats=3)
    for _ in range(10):
        box.add_heartbeat({"kind": "heartbeat", "event_id": str(uuid.uuid4())})
    assert box.depth() == 3 and box.counters()["dropped_heartbeat"] == 7


def test_full_outbox_compacts_finished_episodes_never_open_faults(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_events=6)
    for cam in ("c/open1", "c/open2"):
        box.record_change(_change(cam, "blocked", "raised"))
    in_flight = box.take(1)  # c/open1's raise is being sent right now
    for i in range(10):  # c/flap flaps: raised/cleared pairs
        box.record_change(_change("c/flap", "ripple", "raised", t=10 + i))
        box.record_change(_change("c/flap", "ripple", "cleared", t=10.5 + i))
    box.record_change(_change("c/flap", "ripple", "raised", t=30))
    pending = [box.take(100)]
    bodies = [p.body for p in in_flight + pending[0]]
    assert len(bodies) <= 7
    # Both open faults and the final, still-raised flap survive; the current state is right.
    assert {(b["camera"], b["state"]) for b in bodies if b["camera"] != "c/flap"} == {
        ("c/open1", "raised"), ("c/open2", "raised")}
    flap = [b["state"] for b in bodies if b["camera"] == "c/flap"]
    assert flap[-1] == "raised" and flap.count("raised") == flap.count("cleared") + 1
    assert box.counters()["dropped_episode"] >= 7


def test_outbox_cannot_exceed_its_bound_without_episodes(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_events=2)
    for i in range(5):  # five different open faults: none may be dropped
        box.record_change(_change(f"c/{i}", "blocked", "raised"))
    assert box.depth() == 5
