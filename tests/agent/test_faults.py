"""Delivery under fault, against the real collector: every alert reaches it exactly once.

Each test runs the real agent (`python -m edge_agent agent`) against the project's collector
(`lenswatch collector`, SQLite), with a small fault-injecting HTTP proxy between them where
the fault is an answer (tests/agent/fault_proxy.py). Alerts come from cameras whose URLs point
at a closed port: each raises `signal_loss` once after its grace, which makes the expected set
exact (one raise per camera). Each test uses its own compound, so one collector serves all.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.agent.conftest import (
    PY,
    ROOT,
    AgentProc,
    RealCollector,
    free_port,
    wait_for,
    write_config,
)
from tests.agent.fault_proxy import Answer, FaultProxy, Request


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCollector]:
    """One real collector for the module; tests keep apart by compound."""
    # The agent token may report for the compound each test keeps apart by.
    inj = tuple(f"inj{f.replace('_', '')}" for f in FAULTS)
    col = RealCollector(tmp_path_factory.mktemp("collector"), compounds=(
        "down", "ratelimit", "poison", "skew", *inj)).start()
    yield col
    col.stop()


@pytest.fixture
def proxy(collector: RealCollector) -> Iterator[FaultProxy]:
    p = FaultProxy(collector.url).start()
    yield p
    p.stop()


def agent_config(tmp_path: Path, url: str, compound: str, cameras: list[str], *,
                 grace: float = 2.0, spread: float = 0.0, col: dict[str, Any] | None = None,
                 outbox: dict[str, Any] | None = None,
                 data_dir: Path | None = None) -> tuple[Path, int]:
    """An agent config whose cameras never answer: one signal_loss raise each.

    Returns the config's path and its metrics port. Camera i's grace is grace + i x spread,
    so the raises come one after another when a test needs a stream rather than a burst.
    """
    dead = free_port()
    mport = free_port()
    cams = [{"compound": compound, "id": cam, "url": f"rtsp://127.0.0.1:{dead}/{cam}",
             "signal_loss_grace": round(grace + i * spread, 2)}
            for i, cam in enumerate(cameras)]
    cfg = write_config(
        tmp_path / "edge.yaml", collector_url=url, metrics_port=mport,
        data_dir=data_dir or tmp_path / "data", cameras=cams,
        collector={"retry_initial": 0.2, "retry_max": 1.0, "timeout": 2, **(col or {})},
        outbox={"heartbeat_interval": 1, **(outbox or {})},
        defaults={"open_timeout": 0.5, "read_timeout": 0.5})
    return cfg, mport


def start_agent(tmp_path: Path, collector: RealCollector, url: str, compound: str,
                cameras: list[str], *, log_name: str = "agent.log", **kw: Any) -> AgentProc:
    """The real agent over `agent_config(...)`, started and answering /healthz."""
    cfg, mport = agent_config(tmp_path, url, compound, cameras, **kw)
    return AgentProc(cfg, tmp_path / log_name, mport, token=collector.agent_token).start()


def stored(collector: RealCollector, compound: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{collector.url}/v1/events", params={"compound": compound, "limit": 1000},
                  headers={"Authorization": f"Bearer {collector.operator_token}"}, timeout=5)
    r.raise_for_status()
    return r.json()


def assert_exactly_once(collector: RealCollector, compound: str, cameras: list[str],
                        timeout: float = 30) -> None:
    """Every camera's signal_loss raise is stored, once, and nothing else for the compound."""
    want = sorted(f"{compound}/{c}" for c in cameras)
    wait_for(lambda: len(stored(collector, compound)) >= len(want), timeout,
             f"{len(want)} alerts of {compound} at the collector")
    time.sleep(1.5)  # a late repeat (a second raise, a new id) would show up by now
    evs = stored(collector, compound)
    got = Counter((e["camera"], e["fault"], e["state"]) for e in evs)
    assert sorted(c for c, _, _ in got) == want, got
    assert set(got.values()) == {1}, got
    assert {(f, s) for _, f, s in got} == {("signal_loss", "raised")}, got
    assert len({e["event_id"] for e in evs}) == len(want)


def outbox_rows(data_dir: Path) -> tuple[int, list[tuple]]:
    """(state changes still queued, dead letters) read straight from the outbox file."""
    db = sqlite3.connect(data_dir / "outbox.sqlite")
    try:
        queued = db.execute("SELECT COUNT(*) FROM outbox WHERE kind='state_change'"
                            ).fetchone()[0]
        has_table = db.execute("SELECT 1 FROM sqlite_master WHERE name='dead_letter'"
                               ).fetchone()
        dead = db.execute("SELECT event_id, kind, camera, status, error FROM dead_letter"
                          ).fetchall() if has_table else []
    finally:
        db.close()
    return queued, dead


def retry_dead_letters(agent: AgentProc) -> str:
    out = subprocess.run(
        [PY, "-m", "edge_agent", "agent", "--config", str(agent.config), "--retry-dead-letters"],
        cwd=ROOT, env={**os.environ, "LENSWATCH_TOKEN": agent.token, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


# -- the collector goes away ----------------------------------------------------------------

def test_collector_down_and_back_mid_stream(tmp_path: Path, collector: RealCollector,
                                            procs) -> None:
    cams = [f"cam{i}" for i in range(8)]
    # Raises spread over ~6 s: some before the outage, some during it.
    agent = start_agent(tmp_path, collector, collector.url, "down", cams, grace=1.5,
                        spread=0.8)
    procs.append(agent)
    wait_for(lambda: len(stored(collector, "down")) >= 2, 20, "the first alerts delivered")
    collector.stop()
    wait_for(lambda: agent.metric("lenswatch_agent_uplink_failures_total", reason="network")
             >= 1, 15, "the agent noticing the outage")
    wait_for(lambda: sum(agent.metric("lenswatch_agent_fault_state", camera=f"down/{c}",
                                      fault="signal_loss") for c in cams) == len(cams),
             20, "every alert raised")
    collector.start()
    assert_exactly_once(collector, "down", cams)
    queued, dead = outbox_rows(tmp_path / "data")
    assert (queued, dead) == (0, [])


# -- answers injected between agent and collector ---------------------------------------------

def _counting(n_first: int, make: Any) -> Any:
    """A rule applying `make(req, forward)` to the first n POST /v1/events, then forwarding."""
    seen = {"n": 0}
    lock = threading.Lock()

    def rule(req: Request, forward: Any) -> Answer | None:
        if req.method != "POST" or req.path != "/v1/events":
            return None
        with lock:
            seen["n"] += 1
            if seen["n"] > n_first:
                return None
        return make(req, forward)

    return rule


FAULTS: dict[str, Any] = {
    # Every POST (batches and probes alike) fails for a while: an outage, not poison.
    "500": lambda: _counting(6, lambda req, fwd: Answer.json(500, {"detail": "boom"})),
    # Stored, but the agent never learns it: duplicates on the retry.
    "malformed_200": lambda: _counting(
        4, lambda req, fwd: (fwd(), Answer(200, b"<html>gateway says hi</html>",
                                           {"content-type": "text/html"}))[1]),
    # Stored, but the answer comes after the agent's 1 s timeout.
    "slow": lambda: _counting(3, lambda req, fwd: (lambda r: Answer(
        r.status_code, r.content, {"content-type": "application/json"}, delay=2.5))(fwd())),
    # Too large unless small: the agent must shrink its batches, not drop them.
    "413": lambda: (lambda req, fwd: Answer.json(
        413, {"detail": "batch has too many events; the limit is 2, split it"})
        if req.method == "POST" and len(req.events) > 2 else None),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_injected_answers_lose_and_double_nothing(tmp_path: Path, collector: RealCollector,
                                                  proxy: FaultProxy, procs,
                                                  fault: str) -> None:
    compound = f"inj{fault.replace('_', '')}"
    cams = [f"cam{i}" for i in range(6)]
    proxy.rule = FAULTS[fault]()
    agent = start_agent(tmp_path, collector, proxy.url, compound, cams,
                        col={"timeout": 1.0, "batch_size": 50})
    procs.append(agent)
    assert_exactly_once(collector, compound, cams)
    assert agent.proc is not None and agent.proc.poll() is None
    wait_for(lambda: agent.metric("lenswatch_agent_outbox_depth") <= 2, 10, "outbox drained")
    queued, dead = outbox_rows(tmp_path / "data")
    assert (queued, dead) == (0, []), "an outage or a bad answer must dead-letter nothing"
    if fault == "413":
        assert max(len(r.events) for r, st in proxy.posts if st == 200) <= 2


def test_429_retry_after_is_honoured(tmp_path: Path, collector: RealCollector,
                                     proxy: FaultProxy, procs) -> None:
    cams = [f"cam{i}" for i in range(4)]
    proxy.rule = _counting(2, lambda req, fwd: Answer.json(
        429, {"detail": "slow down"}, **{"retry-after": "3"}))
    # retry_max 1 s: only Retry-After can make the agent wait 3 s.
    agent = start_agent(tmp_path, collector, proxy.url, "ratelimit", cams)
    procs.append(agent)
    assert_exactly_once(collector, "ratelimit", cams)
    times = [r.at for r, _ in proxy.posts]
    statuses = [st for _, st in proxy.posts]
    assert statuses[:2] == [429, 429], statuses
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)][:2]
    assert min(gaps) >= 2.8, f"retried {gaps} s after a 429 asking for 3 s"
    assert agent.metric("lenswatch_agent_uplink_failures_total", reason="rate_limited") == 2


# -- poison: one event the collector refuses ----------------------------------------------------

def test_poison_event_is_isolated_dead_lettered_and_retried(tmp_path: Path,
                                                            collector: RealCollector,
                                                            proxy: FaultProxy, procs) -> None:
    cams = [f"cam{i}" for i in range(7)] + ["poison"]
    broken = {"on": True}

    def rule(req: Request, forward: Any) -> Answer | None:
        # A collector bug: any batch holding this camera's event answers 500 as a whole.
        if broken["on"] and req.method == "POST" and req.has_camera("poison/poison"):
            return Answer.json(500, {"detail": "Internal Server Error"})
        return None

    proxy.rule = rule
    agent = start_agent(tmp_path, collector, proxy.url, "poison", cams,
                        col={"batch_size": 50})
    procs.append(agent)
    good = [c for c in cams if c != "poison"]
    wait_for(lambda: len(stored(collector, "poison")) >= len(good), 30,
             "the good alerts past the poisoned one")
    wait_for(lambda: agent.metric("lenswatch_agent_outbox_dead_letters") == 1, 15,
             "the poisoned event dead-lettered")
    queued, dead = outbox_rows(tmp_path / "data")
    assert queued == 0 and len(dead) == 1 and dead[0][2] == "poison/poison", dead
    assert dead[0][3] == 500
    assert agent.metric("lenswatch_agent_dead_lettered_total", reason="refused") == 1
    health = agent.get("/healthz")
    assert health is not None and health.status_code == 200
    body = health.json()
    assert body["dead_letters"] == 1
    assert body["dead_letter_events"][0]["camera"] == "poison/poison"
    assert "dead-lettered" in agent.log_text()
    # Events after the poison keep flowing: heartbeats are still delivered.
    before = agent.metric("lenswatch_agent_uplink_events_total", result="accepted")
    wait_for(lambda: agent.metric("lenswatch_agent_uplink_events_total", result="accepted")
             > before, 10, "later events delivered")

    broken["on"] = False  # the collector is upgraded
    assert "moved 1 dead letter" in retry_dead_letters(agent)
    assert_exactly_once(collector, "poison", cams)
    wait_for(lambda: outbox_rows(tmp_path / "data") == (0, []), 10, "dead letters delivered")


def test_rejected_stamp_is_dead_lettered_never_deleted_and_clock_offset_exported(
        tmp_path: Path, collector: RealCollector, proxy: FaultProxy, procs) -> None:
    """The collector judges one event's stamp too far off: kept, not deleted; offset shown."""
    cams = ["cam0", "cam1", "skewed"]
    broken = {"on": True}
    ahead = 3600

    def rule(req: Request, forward: Any) -> Answer | None:
        if req.method != "POST" or req.path != "/v1/events":
            return None
        evs = req.events
        bad = [e for e in evs if e.get("camera") == "skew/skewed"] if broken["on"] else []
        if bad:
            # Store the others; answer for this one as the collector does for a bad stamp.
            req.body = json.dumps({"agent": "test-agent",
                                   "events": [e for e in evs if e not in bad]}).encode()
        resp = forward()
        ans = Answer.of(resp)
        if bad:
            payload = resp.json()
            payload["rejected"] = [{"event_id": e["event_id"], "index": evs.index(e),
                                    "error": f"t is {ahead}s in the past; check the agent's "
                                             "clock (NTP)"} for e in bad]
            ans = Answer.json(200, payload)
        # The collector's clock is an hour ahead of this box: its Date header says so.
        ans.headers["date"] = time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                                            time.gmtime(time.time() + ahead))
        return ans

    proxy.rule = rule
    agent = start_agent(tmp_path, collector, proxy.url, "skew", cams)
    procs.append(agent)
    wait_for(lambda: agent.metric("lenswatch_agent_outbox_dead_letters") == 1, 30,
             "the rejected event dead-lettered")
    queued, dead = outbox_rows(tmp_path / "data")
    assert queued == 0 and [d[2] for d in dead] == ["skew/skewed"], dead
    assert "clock" in dead[0][4] and dead[0][3] is None
    assert agent.metric("lenswatch_agent_dead_lettered_total", reason="rejected") == 1
    assert agent.metric("lenswatch_agent_outbox_dropped_total", reason="rejected") == 0
    offset = agent.metric("lenswatch_agent_clock_offset_seconds")
    assert abs(offset - ahead) < 3, offset
    assert "clock is 3600s behind" in agent.log_text()
    assert agent.get("/healthz").json()["dead_letter_events"][0]["camera"] == "skew/skewed"

    broken["on"] = False
    # A restart in between: the dead letter is on disk, not in memory.
    agent.stop()
    assert "moved 1 dead letter" in retry_dead_letters(agent)
    agent.start()
    assert_exactly_once(collector, "skew", cams)
    wait_for(lambda: outbox_rows(tmp_path / "data") == (0, []), 10, "dead letter delivered")
