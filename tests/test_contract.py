"""The contract package: self-contained, one list per name, one heartbeat type both ends use."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from contract import (
    CONTRACT_VERSION,
    DEFAULT_SEVERITY,
    FAULTS,
    PICTURE_FAULTS,
    Heartbeat,
    HeartbeatCamera,
)
from contract.wire import (
    DefaultLimits,
    HeartbeatIn,
    Invalid,
    effective_time,
    peer_version,
    validate_event,
)

REPO = Path(__file__).resolve().parents[1]


def test_contract_imports_none_of_its_users() -> None:
    code = ("import sys, contract, contract.wire; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('pipeline', 'edge_agent', 'collector', 'lenswatch', 'numpy', 'pydantic')); "
            "print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


def test_one_list_of_names() -> None:
    assert PICTURE_FAULTS == ("blocked", "blur", "ripple", "frozen", "overexposed", "moved",
                              "dark")
    assert set(PICTURE_FAULTS) <= set(FAULTS) and len(set(FAULTS)) == len(FAULTS)
    assert set(DEFAULT_SEVERITY) == set(FAULTS)
    assert DEFAULT_SEVERITY["dark"] == "minor"
    import collector.models
    import edge_agent.config
    import pipeline.health

    # The detector judges every picture fault of the contract, dark included.
    assert pipeline.health.HealthSettings().faults == PICTURE_FAULTS
    assert edge_agent.config.FAULTS is FAULTS
    assert collector.models.FaultName.__args__ == FAULTS


def test_the_agents_heartbeat_is_what_the_collector_decodes() -> None:
    now = time.time()
    hb = Heartbeat("c0417", now - 1, {
        "c0417/cam01": HeartbeatCamera("blocked", ["blocked"], now - 2),
        "c0417/cam02": HeartbeatCamera(),
    })
    got = validate_event(hb.to_dict(), "c0417", now, DefaultLimits())
    assert isinstance(got, HeartbeatIn) and isinstance(got, Heartbeat)
    assert got.event_id == hb.event_id and got.agent == "c0417"
    assert got.t == pytest.approx(now - 1, abs=0.001)
    assert got.cameras["c0417/cam01"].faults == ["blocked"]
    assert got.cameras["c0417/cam01"].last_frame == pytest.approx(now - 2, abs=0.001)
    assert got.cameras["c0417/cam02"] == HeartbeatCamera()


def test_version_window() -> None:
    assert peer_version(None) == 1
    assert peer_version(str(CONTRACT_VERSION + 1)) == CONTRACT_VERSION + 1
    for bad in (str(CONTRACT_VERSION + 2), str(CONTRACT_VERSION - 2), "two"):
        with pytest.raises(Invalid):
            peer_version(bad)


def test_effective_time_rule() -> None:
    lim, now = DefaultLimits(), 2_000_000_000.0
    assert effective_time(now - 100, now, None, lim) == now - 100       # in skew
    assert effective_time(now - 3 * 86400, now, None, lim) == now - 3 * 86400  # backlog
    assert effective_time(now + 7200, now, None, lim) == now           # ahead: receipt
    assert effective_time(now - 40 * 86400, now, None, lim) == now     # too old, unmeasured
    assert effective_time(now - 40 * 86400, now, 0.2, lim) == now - 40 * 86400  # measured ok
    assert effective_time(now + 7170, now, -7200.0, lim) == pytest.approx(now - 30)


def test_uplink_sends_version_and_send_time(tmp_path) -> None:
    from contract import StateChange
    from edge_agent.outbox import Outbox
    from edge_agent.uplink import Uplink

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"accepted": [], "duplicates": [], "rejected": []})

    ob = Outbox(tmp_path / "outbox.sqlite")
    ob.record_change(StateChange("c0417/cam01", "blocked", "raised", time.time(), 0.9,
                                 "critical"))
    up = Uplink(ob, url="http://collector.invalid", token="lw_x", agent_id="c0417")
    up._client = httpx.Client(transport=httpx.MockTransport(handler),
                              headers=up._client.headers)
    up.flush_once()
    (req,) = seen
    assert req.headers["X-Lenswatch-Contract"] == str(CONTRACT_VERSION)
    sent = datetime.fromisoformat(req.headers["X-Lenswatch-Sent-At"]).timestamp()
    assert sent == pytest.approx(time.time(), abs=5)
    assert req.headers["Authorization"] == "Bearer lw_x"
