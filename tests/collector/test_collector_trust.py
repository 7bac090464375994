"""Trust boundaries: an agent speaks only for its own compounds; tokens expire; upgrades bind.

Each test here failed on the collector before issue 11: the token of c0417 could raise and
clear faults, replace the reference picture, become the agent of and receive commands for a
camera of c0999.
"""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
from collector_helpers import REPO, iso, state_change
from sqlalchemy import create_engine, insert, select, text, update

from collector.auth import create_token
from collector.schema import cameras, commands, events, tokens
from collector.store import alembic_config, migrate, open_store

JPEG = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\0" * 64).decode()


def heartbeat(agent: str, cams: dict[str, str | None]) -> dict:
    now = iso(time.time())
    return {"kind": "heartbeat", "event_id": str(uuid.uuid4()), "agent": agent, "t": now,
            "cameras": {c: {"status": "ok", "faults": [], "last_frame": now, "reference": ref}
                        for c, ref in cams.items()}}


def agent_token(env, subject: str, *compounds: str) -> dict[str, str]:
    with env.store.writing() as conn:
        _, tok = create_token(conn, subject, "agent", compounds=compounds)
    return {"Authorization": f"Bearer {tok}"}


def test_agent_cannot_speak_for_another_compound(make_env):
    env = make_env(tickets={"open_after_seconds": 0, "auto_close_after_seconds": None})
    owner = agent_token(env, "c0999", "c0999")
    ref = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\1" * 64).decode()
    raised = state_change("c0999/cam01", "blur", t=time.time() - 30)
    r = env.client.post("/v1/events", headers=owner, json={"agent": "c0999", "events": [
        raised, heartbeat("c0999", {"c0999/cam01": ref})]})
    assert len(r.json()["accepted"]) == 2, r.text

    # The token of c0417 tries every way of speaking for c0999/cam01, in one batch with one
    # event of its own: each foreign event is rejected alone, with the reason.
    own = state_change("c0417/cam03", "blocked")
    forged = [state_change("c0999/cam01", "ripple"),
              state_change("c0999/cam01", "blur", "cleared"),
              heartbeat("c0417", {"c0417/cam03": None, "c0999/cam01": JPEG})]
    r = env.post([own, *forged])
    body = r.json()
    assert r.status_code == 200
    assert body["accepted"] == [own["event_id"]]
    assert [x["index"] for x in body["rejected"]] == [1, 2, 3]
    for x in body["rejected"][:2]:
        assert "belongs to compound 'c0999'" in x["error"]
        assert "may report only for c0417" in x["error"]
    assert "c0999/cam01" in body["rejected"][2]["error"]

    cams = {c["id"]: c for c in env.client.get("/v1/cameras", headers=env.h("operator")).json()}
    cam = cams["c0999/cam01"]
    assert cam["agent"] == "c0999"
    assert cam["raised"] == ["blur"]
    ref_now = env.client.get("/v1/reference", headers=env.h("operator"),
                             params={"camera": "c0999/cam01"})
    assert base64.b64encode(ref_now.content).decode() == ref
    with env.store.reading() as conn:
        assert conn.execute(select(events.c.event_id).where(
            events.c.agent == "c0417", events.c.camera == "c0999/cam01")).all() == []

    # Counted in /metrics by agent.
    m = env.client.get("/metrics", headers=env.h("operator")).text
    assert 'lenswatch_collector_out_of_scope_events_total{agent="c0417"} 3.0' in m

    # Commands follow the camera's compound: the baseline reset goes to c0999 only.
    env.sweep()
    (tk,) = [t for t in env.client.get("/v1/tickets", headers=env.h("crew")).json()
             if t["camera"] == "c0999/cam01"]
    r = env.client.post(f"/v1/tickets/{tk['id']}/close", headers=env.h("crew"),
                        json={"reset_baseline": True})
    cmd = r.json()["command_id"]
    assert env.client.get("/v1/agents/c0999/commands", headers=env.h("agent")).status_code == 403
    assert [c["id"] for c in env.client.get("/v1/agents/c0999/commands",
                                            headers=owner).json()] == [cmd]
    # Even a command recorded for c0417 (as a hijack before the upgrade could have left one)
    # is not handed to it, nor can it acknowledge it.
    with env.store.writing() as conn:
        stale = conn.execute(insert(commands).values(
            agent="c0417", kind="reset_baseline", camera="c0999/cam01",
            created_at=time.time())).inserted_primary_key[0]
    assert env.client.get("/v1/agents/c0417/commands", headers=env.h("agent")).json() == []
    r = env.client.post(f"/v1/agents/c0417/commands/{stale}/ack", headers=env.h("agent"))
    assert r.status_code == 404


def test_token_bound_to_several_compounds_and_expiry(make_env):
    env = make_env(auth_cache_seconds=0)
    h = agent_token(env, "edge-box-7", "c0417", "c0418")
    evs = [state_change("c0417/cam01"), state_change("c0418/cam01"),
           state_change("c0419/cam01")]
    r = env.client.post("/v1/events", headers=h,
                        json={"agent": "edge-box-7", "events": evs})
    assert len(r.json()["accepted"]) == 2
    assert r.json()["rejected"][0]["index"] == 2

    with env.store.writing() as conn:
        tid, tok = create_token(conn, "c0417", "agent", compounds=["c0417"], expires_days=1)
    h = {"Authorization": f"Bearer {tok}"}
    assert env.client.post("/v1/events", headers=h, json={
        "agent": "c0417", "events": [state_change()]}).status_code == 200
    with env.store.writing() as conn:
        conn.execute(update(tokens).where(tokens.c.id == tid)
                     .values(expires_at=time.time() - 1))
    r = env.client.post("/v1/events", headers=h,
                        json={"agent": "c0417", "events": [state_change()]})
    assert r.status_code == 401


def test_agent_token_needs_a_compound(env):
    with env.store.writing() as conn, pytest.raises(ValueError, match="--compound"):
        create_token(conn, "c0417", "agent")
    with env.store.writing() as conn, pytest.raises(ValueError, match="not a compound id"):
        create_token(conn, "c0417", "agent", compounds=["c0417/cam1"])


def cli(*args: str, db: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "collector", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(REPO), "LENSWATCH_DB": db, "PATH": "/usr/bin"})


def test_token_cli_compounds_expiry_and_bind(tmp_path):
    db = f"sqlite:///{tmp_path / 'c.db'}"
    bad = cli("token", "create", "--agent", "c0417", db=db)
    assert bad.returncode == 2 and "--compound" in bad.stderr
    r = cli("token", "create", "--agent", "c0417", "--compound", "c0417", "--compound",
            "c0418", "--expires", "30", db=db)
    assert r.returncode == 0, r.stderr
    assert "c0417, c0418" in r.stderr and "expires in 30 days" in r.stderr
    r = cli("token", "create", "--agent", "li.wei", "--role", "crew", "--expires", "0.5",
            db=db)
    assert r.returncode == 0, r.stderr
    ls = cli("token", "list", db=db).stdout
    expiry = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 30 * 86400))
    line = next(x for x in ls.splitlines() if "c0417" in x and "agent" in x)
    assert expiry in line and "active" in line and "c0417, c0418" in line
    assert cli("token", "bind", "1", "--compound", "c0420", db=db).returncode == 0
    assert "c0420" in cli("token", "list", db=db).stdout
    store = open_store(db)
    with store.writing() as conn:
        conn.execute(update(tokens).where(tokens.c.id == 2).values(expires_at=time.time() - 5))
    store.dispose()
    line = next(x for x in cli("token", "list", db=db).stdout.splitlines() if "li.wei" in x)
    assert "expired" in line


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """An empty database (no schema at all), so a test can migrate it step by step."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    from conftest import PG_URL

    schema = f"lwup_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def test_upgrade_binds_existing_agent_tokens_without_a_gap(blank_db_url, caplog):
    from alembic import command

    store = open_store(blank_db_url, pool_size=1)
    cfg = alembic_config(store.url)
    with store.write.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.commit()
    now = time.time()
    with store.writing() as conn:
        conn.execute(insert(tokens), [
            {"token_hash": "a" * 64, "subject": "c0417", "role": "agent", "created_at": now},
            {"token_hash": "b" * 64, "subject": "c0500", "role": "agent", "created_at": now},
            {"token_hash": "c" * 64, "subject": "ops", "role": "operator", "created_at": now},
        ])
        conn.execute(insert(events), [
            {"event_id": str(uuid.uuid4()), "kind": "state_change", "agent": "c0417",
             "camera": "c0417/cam1", "compound": "c0417", "fault": "blur", "state": "raised",
             "t": now, "received_at": now},
            {"event_id": str(uuid.uuid4()), "kind": "heartbeat", "agent": "c0417",
             "camera": None, "compound": None, "fault": None, "state": None, "t": now,
             "received_at": now},
        ])
        conn.execute(insert(cameras), [
            {"id": "c0418/gate", "compound": "c0418", "agent": "c0417", "first_seen": now,
             "last_seen": now}])
    with caplog.at_level(logging.WARNING, logger="lenswatch.collector.migrations"):
        migrate(store)
    with store.reading() as conn:
        got = dict(conn.execute(select(tokens.c.subject, tokens.c.compounds)).all())
    store.dispose()
    assert got == {"c0417": "c0417 c0418", "c0500": "", "ops": None}
    logged = caplog.text
    assert "agent token 1 (c0417) bound to the compound(s) it has reported for: c0417, c0418" \
        in logged
    assert "agent token 2 (c0500) has reported nothing yet" in logged
    if blank_db_url.startswith("sqlite"):
        ls = cli("token", "list", db=blank_db_url).stdout
        line = next(x for x in ls.splitlines() if "c0417" in x)
        assert "c0417, c0418" in line and "bound at upgrade" in line
        assert "NONE" in next(x for x in ls.splitlines() if "c0500" in x)


# ---------------------------------------------------------------- browser sessions
def sign_in(client, token: str, **headers: str):
    r = client.post("/v1/session", json={"token": token}, headers=headers)
    assert r.status_code == 200, r.text
    return r


def test_session_is_server_side_shared_by_replicas_and_ended_by_logout(make_env):
    env = make_env(tickets={"open_after_seconds": 0, "auto_close_after_seconds": None})
    other = make_env()  # a second replica on the same database
    r = sign_in(env.client, env.tokens["crew"])
    sid = r.cookies["lw_session"]
    assert sid.startswith("lws_") and env.tokens["crew"] not in r.headers["set-cookie"]
    assert "Max-Age=43200" in r.headers["set-cookie"]  # session_hours: 12
    from collector.schema import sessions

    with env.store.reading() as conn:
        (row,) = conn.execute(select(sessions)).mappings().all()
    assert sid not in str(dict(row)) and row["expires_at"] > time.time() + 11 * 3600
    # The token itself is no longer a cookie anyone can use.
    other.client.cookies.set("lw_session", env.tokens["crew"])
    assert other.client.get("/v1/whoami").status_code == 401
    # The other replica knows the session.
    other.client.cookies.set("lw_session", sid)
    assert other.client.get("/v1/whoami").json()["subject"] == "crew1"
    # Logout on one replica ends the session on both.
    r = env.client.post("/v1/session/logout", headers={"Origin": "http://testserver"})
    assert r.status_code == 200
    assert other.client.get("/v1/whoami").status_code == 401
    assert other.client.get("/board", follow_redirects=False).status_code == 303
    env.client.cookies.set("lw_session", sid)
    assert env.client.get("/v1/tickets").status_code == 401


def test_session_expires(make_env):
    env = make_env(session_hours=1)
    r = sign_in(env.client, env.tokens["operator"])
    assert "Max-Age=3600" in r.headers["set-cookie"]
    assert env.client.get("/v1/whoami").status_code == 200
    from collector.schema import sessions

    with env.store.writing() as conn:
        conn.execute(update(sessions).values(expires_at=time.time() - 1))
    assert env.client.get("/v1/whoami").status_code == 401
    # A session never outlives its token's expiry either.
    with env.store.writing() as conn:
        tid, tok = create_token(conn, "temp", "operator", expires_days=0.01)
    r = sign_in(env.client, tok)
    assert r.json()["expires_at"] <= time.time() + 0.01 * 86400 + 1


def test_cookie_authenticated_changes_check_origin(make_env):
    env = make_env(tickets={"open_after_seconds": 0, "auto_close_after_seconds": None},
                   trusted_origins=["https://lenswatch.example"])
    env.post([state_change(t=time.time() - 30)])
    env.sweep()
    (tk,) = env.client.get("/v1/tickets", headers=env.h("crew")).json()
    sign_in(env.client, env.tokens["crew"], Origin="http://testserver")
    url = f"/v1/tickets/{tk['id']}/comments"
    body = {"body": "on my way"}
    for origin in ("https://evil.example", "null", "http://testserver.evil.example"):
        r = env.client.post(url, json=body, headers={"Origin": origin})
        assert r.status_code == 403 and "origin" in r.json()["detail"], (origin, r.text)
    r = env.client.post(url, json=body)  # no Origin at all
    assert r.status_code == 403 and "Origin" in r.json()["detail"]
    assert env.client.post("/v1/session/logout",
                           headers={"Origin": "https://evil.example"}).status_code == 403
    assert env.client.get(f"/v1/tickets/{tk['id']}").json()["comments"] == []
    assert env.client.post(url, json=body, headers={"Origin": "http://testserver"}
                           ).status_code == 200
    assert env.client.post(url, json=body, headers={"Origin": "https://lenswatch.example"}
                           ).status_code == 200
    # A bearer token is not ambient authority: no Origin needed.
    bare = env.client.__class__(env.app)
    assert bare.post(url, json=body, headers=env.h("crew")).status_code == 200
    # Signing in from another site's page is refused too.
    r = env.client.post("/v1/session", json={"token": env.tokens["crew"]},
                        headers={"Origin": "https://evil.example"})
    assert r.status_code == 403


# ---------------------------------------------------------------- smaller holes
def _peak_rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))


def _chunked_post(base: str, path: str, total: int, headers: str = "") -> tuple[int, int]:
    """POST `total` bytes chunked without Content-Length; returns (status, bytes sent).

    Stops sending as soon as the server answers (it may answer and close mid-body)."""
    import select
    import socket
    from urllib.parse import urlsplit

    u = urlsplit(base)
    sock = socket.create_connection((u.hostname, u.port), timeout=30)
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {u.netloc}\r\nContent-Type: application/json"
                 f"\r\nTransfer-Encoding: chunked\r\n{headers}\r\n".encode())
    piece = b'{"token": "' + b"a" * 65_000
    sent = 0
    try:
        while sent < total:
            if select.select([sock], [], [], 0)[0]:
                break
            sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            sent += len(piece)
        else:
            sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass
    data = b""
    try:
        while b"\r\n" not in data:
            more = sock.recv(4096)
            if not more:
                break
            data += more
    finally:
        sock.close()
    return int(data.split(b" ", 2)[1]), sent


def test_chunked_body_over_the_limit_is_refused_on_every_route(tmp_path):
    from collector_helpers import start_server

    db = f"sqlite:///{tmp_path / 'c.db'}"
    srv = start_server(db, tmp_path)
    try:
        before = _peak_rss_kb(srv.proc.pid)
        status, sent = _chunked_post(srv.base, "/v1/session", 50_000_000)
        assert status == 413
        assert sent < 10_000_000, sent  # refused as it passed 2 MB, not after 50 MB
        grown_mb = (_peak_rss_kb(srv.proc.pid) - before) / 1024
        assert grown_mb < 20, f"collector grew by {grown_mb:.0f} MB"
        # Same for a route behind authentication and for ingest.
        assert _chunked_post(srv.base, "/v1/tickets/1/comments", 5_000_000)[0] == 413
        assert _chunked_post(srv.base, "/v1/events", 5_000_000,
                             "Authorization: Bearer lw_x\r\n")[0] in (401, 413)
        assert _chunked_post(srv.base, "/v1/session", 1_000)[0] == 422  # small: as before
    finally:
        srv.stop()


def test_csv_cells_that_spreadsheets_would_run_are_neutralised(make_env):
    import csv
    import io

    env = make_env(tickets={"open_after_seconds": 0, "auto_close_after_seconds": None})
    env.post([state_change(camera=f"c0417/cam{i}", t=time.time() - 30) for i in range(6)])
    env.sweep()
    evil = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\tx=1", "\r=1"]
    ids = sorted(t["id"] for t in env.client.get("/v1/tickets", headers=env.h("crew")).json())
    for tid, name in zip(ids, evil, strict=True):
        r = env.client.post(f"/v1/tickets/{tid}/assign", headers=env.h("crew"),
                            json={"assignee": name})
        assert r.status_code == 200, r.text
    with env.store.writing() as conn:
        _, tok = create_token(conn, "=HYPERLINK(\"x\")", "crew")
    env.client.post(f"/v1/tickets/{ids[0]}/ack", headers={"Authorization": f"Bearer {tok}"})
    text_ = env.client.get("/v1/tickets.csv", headers=env.h("crew")).text
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(text_, newline=""))}
    for tid, name in zip(ids, evil, strict=True):
        assert rows[str(tid)]["assignee"] == "'" + name
    assert rows[str(ids[0])]["acknowledged_by"] == "'=HYPERLINK(\"x\")"
    assert rows[str(ids[1])]["camera"].startswith("c0417/")  # ordinary cells untouched


def test_webhook_credentials_masked_in_log_and_api(make_env, caplog):
    import httpx

    from collector.webhooks import deliver_due, mask_url

    assert mask_url("https://bot:s3cr3t@hooks.example/x?y=1") == "https://***@hooks.example/x?y=1"
    url = "http://hookuser:hunter2pass@127.0.0.1:9/nothing-listens"
    env = make_env(tickets={"open_after_seconds": 0, "auto_close_after_seconds": None},
                   webhooks=[{"url": url, "secret": "s" * 24, "max_attempts": 1}])
    env.post([state_change(t=time.time() - 30)])
    env.sweep()
    with caplog.at_level(logging.DEBUG), httpx.Client(timeout=5) as client:
        assert deliver_due(env.store, env.app.state.cfg, client) == 1
    assert "hunter2pass" not in caplog.text and "hookuser" not in caplog.text
    assert "***@127.0.0.1:9" in caplog.text
    (d,) = env.client.get("/v1/webhooks/deliveries", headers=env.h("admin")).json()
    assert d["status"] == "failed"
    assert d["url"] == "http://***@127.0.0.1:9/nothing-listens"
    assert "hunter2pass" not in str(d)
