"""Ingest API on SQLite and PostgreSQL: idempotency, strict validation, tokens and roles."""

from __future__ import annotations

import base64
import time
import uuid

import pytest
from collector_helpers import iso, state_change
from sqlalchemy import func, select, update

from collector.auth import revoke_token
from collector.schema import agents, events


def count_events(env) -> int:
    with env.store.reading() as conn:
        return conn.execute(select(func.count()).select_from(events)).scalar_one()


def test_accepts_and_stores_each_event_id_once(env):
    a, b = state_change(), state_change(camera="c0417/cam04", fault="blur")
    r = env.post([a, b, a])
    assert r.status_code == 200
    body = r.json()
    assert body["accepted"] == [a["event_id"], b["event_id"]]
    assert body["duplicates"] == [a["event_id"]]
    assert body["rejected"] == []
    r2 = env.post([b, a])
    assert r2.json() == {"accepted": [], "duplicates": [b["event_id"], a["event_id"]],
                         "rejected": []}
    assert count_events(env) == 2


def test_camera_state_and_out_of_order_events(env):
    t0 = time.time() - 100
    raised = state_change(t=t0)
    cleared = state_change(state="cleared", t=t0 + 50)
    # The clear arrives first (outbox replay order); the older raise must not override it.
    assert env.post([cleared]).json()["accepted"]
    assert env.post([raised]).json()["accepted"]
    cams = env.client.get("/v1/cameras", headers=env.h("operator")).json()
    assert len(cams) == 1
    cam = cams[0]
    assert cam["id"] == "c0417/cam03" and cam["compound"] == "c0417"
    assert cam["faults"]["blocked"]["state"] == "cleared"
    assert cam["status"] == "ok"
    env.post([state_change(fault="ripple", t=t0 + 60)])
    cam = env.client.get("/v1/cameras", headers=env.h("operator"),
                         params={"fault": "ripple"}).json()[0]
    assert cam["status"] == "faulty" and cam["raised"] == ["ripple"]


def test_compounds_count_cameras_per_raised_fault(env):
    # The dashboard's fault filter shows the compounds that have that fault, so the overview
    # must say which faults each compound has, not only how many cameras are faulty.
    t0 = time.time() - 100
    env.post([state_change(camera="c0417/cam01", fault="ripple", t=t0),
              state_change(camera="c0417/cam02", fault="ripple", t=t0),
              state_change(camera="c0417/cam03", fault="blur", t=t0),
              state_change(camera="c0417/cam04", fault="blur", t=t0),
              state_change(camera="c0417/cam04", fault="blur", state="cleared", t=t0 + 5)])
    comp, = env.client.get("/v1/compounds", headers=env.h("operator")).json()
    assert comp["compound"] == "c0417" and comp["faulty"] == 3 and comp["ok"] == 1
    assert comp["raised"] == {"ripple": 2, "blur": 1}


def test_silent_agent_marks_cameras_unknown(env):
    hb = {"kind": "heartbeat", "event_id": str(uuid.uuid4()), "agent": "c0417",
          "t": iso(time.time()), "cameras": {"c0417/cam01": {"status": "ok", "faults": [],
                                                             "last_frame": iso(time.time())}}}
    assert env.post([hb]).json()["accepted"] == [hb["event_id"]]
    cams = env.client.get("/v1/cameras", headers=env.h("operator")).json()
    assert [c["status"] for c in cams] == ["ok"]
    assert cams[0]["agent_last_heartbeat"] == pytest.approx(time.time(), abs=5)
    # Time passes with no word from the agent (silence window default 120 s).
    with env.store.writing() as conn:
        conn.execute(update(agents).values(last_contact=time.time() - 1000))
    cams = env.client.get("/v1/cameras", headers=env.h("operator")).json()
    assert cams[0]["status"] == "unknown" and cams[0]["agent_silent"] is True
    ag = env.client.get("/v1/agents", headers=env.h("operator")).json()
    assert ag[0]["id"] == "c0417" and ag[0]["silent"] is True


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        ({"fault": "smudge"}, "unknown fault 'smudge'"),
        ({"state": "up"}, "state must be one of raised, cleared"),
        ({"severity": "high"}, "severity must be one of"),
        ({"confidence": 1.5}, "confidence must be a number from 0 to 1"),
        ({"confidence": True}, "confidence must be a number"),
        ({"t": "yesterday"}, "is not ISO-8601"),
        ({"t": "2026-11-27T06:30:00"}, "has no timezone"),
        ({"event_id": "abc"}, "is not a UUID"),
        ({"camera": "no-slash"}, "camera must look like 'c0417/cam03'"),
        ({"evidence": [1, 2]}, "evidence must be a JSON object"),
        ({"snapshot": "!!!"}, "not valid base64"),
        ({"snapshot": base64.b64encode(b"GIF89a").decode()}, "not a JPEG"),
        ({"snapshot": base64.b64encode(b"\xff\xd8" + b"0" * 300_000).decode()},
         "larger than"),
        ({"colour": "red"}, "unknown field(s) ['colour']"),
        ({"kind": "selfie"}, "kind must be one of"),
    ],
)
def test_bad_events_are_rejected_one_by_one_with_reasons(env, mutate, needle):
    good = state_change(camera="c0417/cam09")
    bad = state_change()
    bad.update(mutate)
    r = env.post([bad, good])
    assert r.status_code == 200
    body = r.json()
    assert body["accepted"] == [good["event_id"]]
    assert len(body["rejected"]) == 1
    rej = body["rejected"][0]
    assert rej["index"] == 0
    assert needle in rej["error"], rej["error"]
    assert count_events(env) == 1


def test_small_jpeg_snapshot_is_stored_and_served(env):
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 100 + b"\xff\xd9"
    ev = state_change(snapshot=base64.b64encode(jpeg).decode())
    assert env.post([ev]).json()["accepted"]
    r = env.client.get(f"/v1/events/{ev['event_id']}/snapshot", headers=env.h("operator"))
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert r.content == jpeg
    assert env.client.get(f"/v1/events/{uuid.uuid4()}/snapshot",
                          headers=env.h("operator")).status_code == 404


def test_malformed_batches_are_refused_whole(env):
    h = {**env.h("agent"), "Content-Type": "application/json"}
    r = env.client.post("/v1/events", content=b"{not json", headers=h)
    assert r.status_code == 400 and "not valid JSON" in r.json()["detail"]
    r = env.client.post("/v1/events", content=b"[1,2]", headers=h)
    assert r.status_code == 422 and "JSON object" in r.json()["detail"]
    r = env.client.post("/v1/events", json={"agent": "c0417"}, headers=h)
    assert r.status_code == 422 and "'events' must be a JSON array" in r.json()["detail"]
    r = env.client.post("/v1/events", json={"agent": "c0417", "events": [], "x": 1}, headers=h)
    assert r.status_code == 422 and "unknown top-level" in r.json()["detail"]
    r = env.client.post("/v1/events", json={"agent": "bad agent!", "events": []}, headers=h)
    assert r.status_code == 422 and "'agent' must be" in r.json()["detail"]
    assert count_events(env) == 0


def test_oversized_batches_get_413(make_env):
    env = make_env(limits={"max_batch_events": 5, "max_body_bytes": 20_000})
    r = env.post([state_change() for _ in range(6)])
    assert r.status_code == 413 and "limit is 5" in r.json()["detail"]
    big = state_change(evidence={"x": "y" * 4000})
    r = env.post([big] * 5)
    assert r.status_code == 413 and "over 20000 bytes" in r.json()["detail"]
    # Chunked upload without Content-Length is counted while reading.
    def chunks():
        yield b'{"agent": "c0417", "events": ['
        for _ in range(30):
            yield b'"' + b"x" * 1000 + b'",'
        yield b"1]}"
    r = env.client.post("/v1/events", content=chunks(), headers=env.h("agent"))
    assert r.status_code == 413
    assert count_events(env) == 0


def test_missing_wrong_and_revoked_tokens(make_env):
    env = make_env(auth_cache_seconds=0.5)
    ev = state_change()
    r = env.client.post("/v1/events", json={"agent": "c0417", "events": [ev]})
    assert r.status_code == 401 and "missing token" in r.json()["detail"]
    assert r.headers["www-authenticate"] == "Bearer"
    r = env.client.post("/v1/events", json={"agent": "c0417", "events": [ev]},
                        headers={"Authorization": "Bearer lw_wrong"})
    assert r.status_code == 401 and "not recognised" in r.json()["detail"]
    r = env.client.post("/v1/events", json={"agent": "c0417", "events": [ev]},
                        headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert r.status_code == 401
    # Another agent's token cannot post as c0417.
    r = env.post([ev], agent="c0999")
    assert r.status_code == 403 and "belongs to agent 'c0417'" in r.json()["detail"]
    with env.store.writing() as conn:
        assert revoke_token(conn, 1)  # the agent token is created first
    time.sleep(0.6)  # revocation is honoured within auth_cache_seconds on every replica
    r = env.post([ev])
    assert r.status_code == 401
    assert count_events(env) == 0


def test_tokens_in_use_are_reverified_together(make_env, monkeypatch):
    """The refresher re-verifies cached tokens in one query: no per-token lookups while an
    agent keeps posting, a revoked token is dropped at the next refresh, an idle one forgotten."""
    env = make_env(auth_cache_seconds=60)  # nothing expires during the test by itself
    auth = env.app.state.auth
    singles = []  # lookups of tokens that missed the cache
    real_lookup = auth._lookup_tokens
    monkeypatch.setattr(auth, "_lookup_tokens", lambda toks: singles.extend(toks)
                        or real_lookup(toks))
    assert env.post([state_change()]).status_code == 200
    assert len(singles) == 1
    for _ in range(3):
        assert env.post([state_change()]).status_code == 200
        assert auth.refresh() == 1
    assert len(singles) == 1  # served from the cache throughout
    auth.idle_seconds = 0.0  # now every token counts as idle: forgotten at the next refresh
    assert auth.refresh() == 0
    assert env.post([state_change()]).status_code == 200
    assert len(singles) == 2  # looked up again
    auth.idle_seconds = 60.0
    with env.store.writing() as conn:
        assert revoke_token(conn, 1)
    assert env.post([state_change()]).status_code == 200  # cached until the next refresh
    assert auth.refresh() == 1
    r = env.post([state_change()])
    assert r.status_code == 401 and "not recognised or revoked" in r.json()["detail"]
    assert count_events(env) == 6  # all but the refused one


def test_cache_misses_at_the_same_moment_share_one_lookup(env, monkeypatch):
    """After a restart every agent misses the cache at once: one query answers them all."""
    import asyncio

    from fastapi import HTTPException

    auth = env.app.state.auth
    calls = []
    real_lookup = auth._lookup_tokens
    monkeypatch.setattr(auth, "_lookup_tokens", lambda toks: calls.append(sorted(toks))
                        or real_lookup(toks))
    agent, operator = env.tokens["agent"], env.tokens["operator"]

    async def burst():
        return await asyncio.gather(
            *(auth.authenticate(agent, "ingest") for _ in range(5)),
            auth.authenticate(operator, "view"),
            auth.authenticate("lw_unknown", "ingest"),
            auth.authenticate(operator, "ingest"),
            return_exceptions=True)

    out = asyncio.run(burst())
    assert calls == [sorted({agent, operator, "lw_unknown"})]
    assert all(p.subject == "c0417" for p in out[:5])
    assert out[5].role == "operator"
    assert isinstance(out[6], HTTPException) and out[6].status_code == 401
    assert isinstance(out[7], HTTPException) and out[7].status_code == 403
    # Now cached: no further lookups for the known tokens.
    asyncio.run(auth.authenticate(agent, "ingest"))
    assert len(calls) == 1


# (method, path, json, roles allowed)
ROUTES = [
    ("POST", "/v1/events", {"agent": "c0417", "events": []}, {"agent"}),
    ("GET", "/v1/agents/c0417/commands", None, {"agent"}),
    ("GET", "/v1/cameras", None, {"operator", "crew", "admin"}),
    ("GET", "/v1/compounds", None, {"operator", "crew", "admin"}),
    ("GET", "/v1/agents", None, {"operator", "admin"}),
    ("GET", "/v1/events", None, {"operator", "admin"}),
    ("GET", "/v1/tickets", None, {"operator", "crew", "admin"}),
    ("GET", "/v1/tickets.csv", None, {"operator", "crew", "admin"}),
    ("GET", "/v1/reports/maintenance", None, {"operator", "crew", "admin"}),
    ("POST", "/v1/tickets/1/ack", None, {"crew", "admin"}),
    ("POST", "/v1/tickets/1/comments", {"body": "x"}, {"crew", "admin"}),
    ("POST", "/v1/tickets/1/close", {}, {"crew", "admin"}),
    ("GET", "/v1/webhooks/deliveries", None, {"admin"}),
    ("GET", "/metrics", None, {"operator", "admin"}),
]


def test_role_checks_on_every_route(env):
    for method, path, body, allowed in ROUTES:
        r = env.client.request(method, path, json=body)
        assert r.status_code == 401, (path, r.status_code)
        for role in ("agent", "operator", "crew", "admin"):
            r = env.client.request(method, path, json=body, headers=env.h(role))
            if role in allowed:
                # 404 is fine for ticket 1 that does not exist: the role got through.
                assert r.status_code in (200, 404), (path, role, r.status_code, r.text)
            else:
                assert r.status_code == 403, (path, role, r.status_code)
                assert "needs a token with role" in r.json()["detail"]


def test_pages_need_a_session_and_tokens_never_appear(env):
    r = env.client.get("/dashboard", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    r = env.client.post("/v1/session", json={"token": env.tokens["agent"]})
    assert r.status_code == 403
    r = env.client.post("/v1/session", json={"token": env.tokens["crew"]})
    assert r.status_code == 200 and r.json()["role"] == "crew"
    assert env.tokens["crew"] not in r.text
    assert "httponly" in r.headers["set-cookie"].lower()
    assert env.client.get("/board").status_code == 200
    assert env.client.get("/dashboard").status_code == 403  # crew is not an operator
    page = env.client.get("/board").text
    assert env.tokens["crew"] not in page
    assert "Content-Security-Policy" in env.client.get("/board").headers


def test_agent_commands_only_for_own_agent(env):
    r = env.client.get("/v1/agents/c0999/commands", headers=env.h("agent"))
    assert r.status_code == 403
    r = env.client.post("/v1/agents/c0417/commands/99/ack", headers=env.h("agent"))
    assert r.status_code == 404


def test_openapi_is_published(env):
    spec = env.client.get("/openapi.json").json()
    assert "/v1/events" in spec["paths"]
    batch = spec["components"]["schemas"]["EventBatch"]
    assert batch["properties"]["events"]["maxItems"] == 1000
    assert "signal_loss" in str(spec["components"]["schemas"]["StateChangeEvent"])


def test_group_commit_credits_a_shared_event_to_the_first_batch(env):
    """Two agents' batches committed together, both carrying one id (a retried event)."""
    from collector.config import LimitsConfig
    from collector.ingest import store_group
    from contract.wire import validate_event

    now = time.time()
    a, b = state_change(), state_change(camera="c0417/cam04")
    items1 = [validate_event(a, "c0417", now, LimitsConfig())]
    items2 = [validate_event(x, "c0417", now, LimitsConfig()) for x in (b, a)]
    with env.store.writing() as conn:
        r1, r2 = store_group(conn, env.store.dialect, [("c0417", items1), ("c0417", items2)],
                             now)
    assert r1.accepted == [a["event_id"]] and r1.duplicates == []
    assert r2.accepted == [b["event_id"]] and r2.duplicates == [a["event_id"]]
    assert count_events(env) == 2
