"""Operations: Prometheus exposition (checked by promtool), webhooks, CLI tokens, TLS."""

from __future__ import annotations

import hashlib
import json
import ssl
import subprocess
import sys
import time

import httpx
from collector_helpers import REPO, make_tokens, start_server, state_change
from sqlalchemy import select
from test_collector_replicas import Receiver

from collector.config import ConfigError, load_config
from collector.schema import tokens, webhook_deliveries
from collector.store import StoreError, migrate, open_store
from collector.webhooks import deliver_due, sign

PROMTOOL = "/usr/bin/promtool"


def test_metrics_pass_promtool_and_count_outcomes(make_env):
    env = make_env(tickets={"open_after_seconds": 0})
    good = state_change(t=time.time() - 5)
    bad = state_change(fault="smudge")
    env.post([good, good, bad])
    env.post([good])
    env.sweep()
    r = env.client.get("/metrics", headers=env.h("operator"))
    assert r.status_code == 200
    text = r.text
    assert ('lenswatch_collector_events_total{fault="blocked",kind="state_change",'
            'outcome="accepted"} 1.0') in text
    assert ('lenswatch_collector_events_total{fault="blocked",kind="state_change",'
            'outcome="duplicate"} 2.0') in text
    assert ('lenswatch_collector_events_total{fault="invalid",kind="state_change",'
            'outcome="rejected"} 1.0') in text
    assert 'lenswatch_collector_open_tickets{fault="blocked"} 1.0' in text
    assert 'lenswatch_collector_agents{state="seen"} 1.0' in text
    assert "lenswatch_collector_ingest_latency_seconds_bucket" in text
    assert env.tokens["operator"] not in text and "c0417" not in text
    res = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                         capture_output=True, timeout=30)
    assert res.returncode == 0 and res.stdout == b"" and res.stderr == b"", (
        res.stdout + res.stderr).decode()


def test_webhooks_signed_retried_and_logged(make_env):
    rcv = Receiver(fail_first=2)
    secret = "another-secret-0123456789"
    try:
        env = make_env(tickets={"open_after_seconds": 0, "auto_close_after_seconds": 0},
                       webhooks=[{"url": rcv.url, "secret": secret, "max_attempts": 5},
                                 {"url": "http://127.0.0.1:9/nothing-listens",
                                  "secret": secret, "events": ["closed"], "max_attempts": 2}])
        t0 = time.time() - 60
        env.post([state_change(t=t0)])
        env.sweep()  # opened
        env.post([state_change(state="cleared", t=t0 + 1)])
        env.sweep()  # recovered, and auto-closed (0 s verification)
        cfg = env.app.state.cfg
        with httpx.Client(timeout=5) as client:
            now = time.time()
            for step in range(8):
                deliver_due(env.store, cfg, client, now=now + step * 100)
        assert [json.loads(b)["event"] for _, b in rcv.got] == ["opened", "recovered", "closed"]
        for headers, body in rcv.got:
            h = {k.lower(): v for k, v in headers.items()}
            assert h["x-lenswatch-signature"] == sign(secret, h["x-lenswatch-timestamp"], body)
            assert h["x-lenswatch-event"] == json.loads(body)["event"]
        log = env.client.get("/v1/webhooks/deliveries", headers=env.h("admin")).json()
        by = {(d["url"], d["event"]): d for d in log}
        first = by[(rcv.url, "opened")]
        assert first["status"] == "delivered" and first["attempts"] == 3
        assert first["last_error"] is None and first["last_status"] == 204
        dead = by[("http://127.0.0.1:9/nothing-listens", "closed")]
        assert dead["status"] == "failed" and dead["attempts"] == 2
        assert "ConnectError" in dead["last_error"]
        with env.store.reading() as conn:
            assert all(s == "delivered" or u.endswith("nothing-listens") for s, u in
                       conn.execute(select(webhook_deliveries.c.status,
                                           webhook_deliveries.c.url)).all())
    finally:
        rcv.close()


def test_config_errors_name_file_key_and_fix(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("tickets:\n  open_after_secs: 10\n")
    try:
        load_config(p)
    except ConfigError as exc:
        assert f"{p}: key 'tickets.open_after_secs': unknown key" in str(exc)
    else:
        raise AssertionError("typo accepted")
    p.write_text("webhooks: [{url: 'ftp://x', secret: 'short'}]\n")
    try:
        load_config(p)
    except ConfigError as exc:
        assert "webhooks.0.url" in str(exc) and "webhooks.0.secret" in str(exc)
    else:
        raise AssertionError("bad webhook accepted")


def cli(*args: str, db: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "collector", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(REPO), "LENSWATCH_DB": db, "PATH": "/usr/bin"})


def test_token_cli_create_list_revoke(tmp_path):
    db = f"sqlite:///{tmp_path / 'c.db'}"
    r = cli("token", "create", "--agent", "c0417", "--compound", "c0417", db=db)
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    assert token.startswith("lw_") and len(token) > 40
    assert token not in r.stderr
    store = open_store(db)
    with store.reading() as conn:
        stored = conn.execute(select(tokens.c.token_hash, tokens.c.role)).all()
    store.dispose()
    assert (hashlib.sha256(token.encode()).hexdigest(), "agent") in stored
    assert all(token not in h for h, _ in stored)
    ls = cli("token", "list", db=db)
    assert "c0417" in ls.stdout and "agent" in ls.stdout and token not in ls.stdout
    assert cli("token", "revoke", "1", db=db).returncode == 0
    assert "revoked" in cli("token", "list", db=db).stdout
    bad = cli("token", "revoke", "1", db=db)
    assert bad.returncode == 2 and "no active token with id 1" in bad.stderr
    try:
        open_store("mysql://nope")
    except StoreError as exc:
        assert "unsupported database 'mysql'" in str(exc)
    else:
        raise AssertionError("mysql URL accepted")


def test_tls_through_uvicorn_options(tmp_path):
    key, crt = tmp_path / "key.pem", tmp_path / "crt.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(crt), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True,
                   capture_output=True, timeout=60)
    db = f"sqlite:///{tmp_path / 'c.db'}"
    store = open_store(db)
    migrate(store)
    tok = make_tokens(store)
    store.dispose()
    ctx = ssl.create_default_context(cafile=str(crt))
    srv = start_server(db, tmp_path, extra=["--ssl-certfile", str(crt), "--ssl-keyfile",
                                            str(key)], scheme="https", verify=ctx)
    try:
        r = httpx.post(srv.base + "/v1/events", verify=ctx,
                       json={"agent": "c0417", "events": [state_change()]},
                       headers={"Authorization": f"Bearer {tok['agent']}"})
        assert r.status_code == 200 and len(r.json()["accepted"]) == 1
        try:
            httpx.get(srv.base.replace("https", "http") + "/healthz", timeout=3)
        except httpx.HTTPError:
            pass
        else:
            raise AssertionError("plain HTTP answered on the TLS port")
    finally:
        srv.stop()
    assert tok["agent"] not in srv.log.read_text()
