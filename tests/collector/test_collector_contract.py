"""The contract at the collector: poison judged per event, any clock stored, versions +-1."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from collector_helpers import iso, state_change
from sqlalchemy import func, insert, select

from collector.schema import events

NEWER = {"X-Lenswatch-Contract": "3"}


def count_events(env) -> int:
    with env.store.reading() as conn:
        return conn.execute(select(func.count()).select_from(events)).scalar_one()


def post_raw(env, text: str, headers: dict[str, str] | None = None):
    """POST a body as text: Python's json writes NaN and Infinity, which JSON does not have."""
    return env.client.post("/v1/events", content=text.encode(), headers={
        **env.h("agent"), "Content-Type": "application/json", **(headers or {})})


def post_h(env, evs: list[dict], headers: dict[str, str]):
    """POST a batch with the contract's headers."""
    return env.client.post("/v1/events", json={"agent": "c0417", "events": evs},
                           headers={**env.h("agent"), **headers})


def nested(depth: int) -> dict:
    out: dict = {"v": 1}
    for _ in range(depth - 1):
        out = {"a": out}
    return out


@pytest.mark.parametrize(
    ("evidence", "needle"),
    [
        ({"contrast": float("nan")}, "not a finite number"),
        ({"contrast": float("-inf")}, "not a finite number"),
        ({"contrast": [1.0, float("inf")]}, "not a finite number"),
        ({"pixels": 10**400}, "beyond +-2**53"),
        ({"pixels": "BIG"}, "beyond +-2**53"),  # 5000 digits: past int()'s 4300-digit limit
        ({"pixels": -(2**60)}, "beyond +-2**53"),
        (nested(500), "nested deeper than 8 levels"),
        ({"a": [[[[[[[[1]]]]]]]]}, "nested deeper than 8 levels"),
    ],
    ids=["nan", "-inf", "inf-in-list", "400-digits", "5000-digits", "2**60", "500-deep",
         "lists-deep"],
)
def test_poisoned_event_is_rejected_alone_and_the_batch_stored(env, evidence, needle):
    good1, good2 = state_change(camera="c0417/cam01"), state_change(camera="c0417/cam02")
    bad = state_change(evidence=evidence)
    body = json.dumps({"agent": "c0417", "events": [good1, bad, good2]})
    body = body.replace('"BIG"', "9" * 5000)
    r = post_raw(env, body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["accepted"] == [good1["event_id"], good2["event_id"]]
    (rej,) = out["rejected"]
    assert rej["index"] == 1 and rej["event_id"] == bad["event_id"]
    assert needle in rej["error"], rej["error"]
    assert count_events(env) == 2


def test_poison_outside_evidence_is_rejected_alone(env):
    good = state_change(camera="c0417/cam01")
    nan_conf = state_change(camera="c0417/cam02")
    hb = {"kind": "heartbeat", "event_id": str(uuid.uuid4()), "agent": "c0417",
          "t": iso(time.time()), "cameras": {"c0417/cam01": {"status": "ok",
                                                             "faults": [float("nan")]}}}
    body = json.dumps({"agent": "c0417", "events": [nan_conf, good, hb]})
    body = body.replace('"confidence": 0.9', '"confidence": NaN', 1)
    r = post_raw(env, body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["accepted"] == [good["event_id"]]
    errors = {x["index"]: x["error"] for x in out["rejected"]}
    assert "confidence must be a number" in errors[0]
    assert "faults must be a list of known fault names" in errors[2]


def test_a_body_nested_past_the_parser_is_a_clear_400(env):
    r = post_raw(env, '{"agent": "c0417", "events": [' + "[" * 100_000 + "]" * 100_000 + "]}")
    assert r.status_code == 400 and "not valid JSON" in r.json()["detail"]


def test_stored_poison_never_breaks_listing_or_the_stream(env):
    """Rows an older collector stored (evidence 500 levels deep) are listed, not a 500."""
    good = state_change(camera="c0417/cam01")
    assert env.post([good]).json()["accepted"]
    deep_id = str(uuid.uuid4())
    now = time.time()
    with env.store.writing() as conn:
        conn.execute(insert(events).values(
            event_id=deep_id, kind="state_change", agent="c0417", camera="c0417/cam02",
            compound="c0417", fault="blur", state="raised", t=now, received_at=now,
            confidence=0.5, severity="major", evidence=json.dumps(nested(500))))
    r = env.client.get("/v1/events", headers=env.h("operator"))
    assert r.status_code == 200, r.text
    rows = {e["event_id"]: e for e in r.json()}
    assert rows[deep_id]["evidence"] == {}
    assert "nested deeper than" in rows[deep_id]["evidence_error"]
    assert rows[good["event_id"]]["evidence"] == {"covered_fraction": 0.7}
    assert "evidence_error" not in rows[good["event_id"]]
    # The live stream serialises the same rows.
    hub = env.app.state.hub
    hub._cursor = 0
    streamed = hub._fetch()
    assert {e["event_id"] for e in streamed} == {deep_id, good["event_id"]}
    for e in streamed:
        json.dumps(e, allow_nan=False)


def test_wrong_clocks_are_stored_with_receipt_time_and_ticketed_by_it(make_env):
    env = make_env(tickets={"open_after_seconds": 300, "auto_close_after_seconds": None})
    before = time.time()
    ahead = state_change(camera="c0417/cam01", t=before + 2 * 3600)
    old = state_change(camera="c0417/cam02", fault="blur", t=before - 40 * 86400)
    # An edge box without a clock battery boots into 1970; a corrupt clock may say 2999.
    epoch = state_change(camera="c0417/cam03", fault="ripple", t=86400.0)
    far = state_change(camera="c0417/cam04", fault="frozen", t=32503680000.0)  # 3000-01-01
    r = env.post([ahead, old, epoch, far])
    after = time.time()
    assert r.status_code == 200
    assert r.json() == {"accepted": [e["event_id"] for e in (ahead, old, epoch, far)],
                        "duplicates": [], "rejected": []}
    listed = {e["event_id"]: e for e in
              env.client.get("/v1/events", headers=env.h("operator")).json()}
    # The agent's stamp is kept as sent, the receipt time beside it.
    assert listed[ahead["event_id"]]["t"] == pytest.approx(before + 7200, abs=0.01)
    assert listed[old["event_id"]]["t"] == pytest.approx(before - 40 * 86400, abs=0.01)
    for e in listed.values():
        assert before <= e["received_at"] <= after
    # The camera's state, and so its ticket, go by the receipt time.
    cams = {c["id"]: c for c in env.client.get("/v1/cameras", headers=env.h("operator")).json()}
    for cam, fault in (("c0417/cam01", "blocked"), ("c0417/cam02", "blur"),
                       ("c0417/cam03", "ripple"), ("c0417/cam04", "frozen")):
        assert before <= cams[cam]["faults"][fault]["since"] <= after, cam
    assert listed[epoch["event_id"]]["t"] == pytest.approx(86400.0, abs=0.01)
    assert env.sweep(now=before + 290)["opened"] == 0
    assert env.sweep(now=after + 301)["opened"] == 4
    tks = env.client.get("/v1/tickets", headers=env.h("crew")).json()
    for tk in tks:
        (f,) = tk["faults"]
        assert before <= f["raised_at"] <= after


def test_send_time_header_gives_the_agents_clock_offset(make_env):
    env = make_env(tickets={"open_after_seconds": 300, "auto_close_after_seconds": None})
    skew = 2 * 3600.0  # the agent's clock runs two hours ahead
    now = time.time()
    # Raised 30 s ago on the agent's clock, cleared 10 s ago: order and spacing are kept.
    raised = state_change(camera="c0417/cam01", t=now + skew - 30)
    cleared = state_change(camera="c0417/cam01", state="cleared", t=now + skew - 10)
    r = post_h(env, [cleared, raised], {"X-Lenswatch-Contract": "2",
                                             "X-Lenswatch-Sent-At": iso(now + skew)})
    assert len(r.json()["accepted"]) == 2
    (ag,) = env.client.get("/v1/agents", headers=env.h("operator")).json()
    assert ag["id"] == "c0417"
    assert ag["clock_offset"] == pytest.approx(-skew, abs=5)
    assert ag["clock_offset_at"] == pytest.approx(time.time(), abs=5)
    cam = env.client.get("/v1/cameras", headers=env.h("operator")).json()[0]
    assert cam["faults"]["blocked"]["state"] == "cleared"
    assert cam["faults"]["blocked"]["since"] == pytest.approx(now - 10, abs=5)
    text = env.client.get("/metrics", headers=env.h("operator")).text
    line = next(x for x in text.splitlines()
                if x.startswith('lenswatch_collector_agent_clock_offset_seconds{agent="c0417"}'))
    assert float(line.split()[-1]) == pytest.approx(-skew, abs=5)
    # A later batch without the header keeps the last measurement.
    env.post([state_change(camera="c0417/cam02")])
    (ag,) = env.client.get("/v1/agents", headers=env.h("operator")).json()
    assert ag["clock_offset"] == pytest.approx(-skew, abs=5)


def test_a_buffered_alert_from_a_right_clock_keeps_its_time(env):
    """With the send-time header, an old stamp from a clock that is right is an outage's
    backlog, not skew: it keeps its own time."""
    now = time.time()
    old = state_change(t=now - 40 * 86400)
    r = post_h(env, [old], {"X-Lenswatch-Sent-At": iso(now)})
    assert r.json()["accepted"] == [old["event_id"]]
    cam = env.client.get("/v1/cameras", headers=env.h("operator")).json()[0]
    assert cam["faults"]["blocked"]["since"] == pytest.approx(now - 40 * 86400, abs=0.01)


def test_newer_agents_optional_fields_are_ignored(env):
    sc = state_change(zone="garage", model={"name": "v3"})
    hb = {"kind": "heartbeat", "event_id": str(uuid.uuid4()), "agent": "c0417",
          "t": iso(time.time()), "uptime_s": 12,
          "cameras": {"c0417/cam03": {"status": "blocked", "faults": ["blocked"],
                                      "bitrate_kbps": 1800}}}
    r = env.client.post("/v1/events", json={"agent": "c0417", "events": [sc, hb],
                                            "compound_hint": "c0417"},
                        headers={**env.h("agent"), **NEWER})
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == [sc["event_id"], hb["event_id"]]
    assert r.json()["rejected"] == []
    cam = env.client.get("/v1/cameras", headers=env.h("operator")).json()[0]
    assert cam["reported_status"] == "blocked" and cam["raised"] == ["blocked"]


def test_same_version_unknown_field_and_newer_missing_field_are_rejected(env):
    # From our own version an unknown field is a typo, named in the answer.
    typo = state_change(camera="c0417/cam01", confidense=0.9)
    r = post_h(env, [typo], {"X-Lenswatch-Contract": "2"})
    assert "unknown field(s) ['confidense']" in r.json()["rejected"][0]["error"]
    # Required fields stay strict for a newer agent too.
    missing = state_change(camera="c0417/cam02", zone="garage")
    del missing["severity"]
    good = state_change(camera="c0417/cam03")
    r = post_h(env, [missing, good], NEWER)
    out = r.json()
    assert out["accepted"] == [good["event_id"]]
    assert "missing field(s) ['severity']" in out["rejected"][0]["error"]


@pytest.mark.parametrize("version", ["0", "4", "x"])
def test_versions_outside_the_window_refuse_the_whole_batch(env, version):
    r = post_h(env, [state_change()], {"X-Lenswatch-Contract": version})
    assert r.status_code == 422
    assert "X-Lenswatch-Contract" in r.json()["detail"] or "accepts 1-3" in r.json()["detail"]
    assert count_events(env) == 0
