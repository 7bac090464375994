"""Ticket lifecycle on SQLite and PostgreSQL, driven with explicit clock values."""

from __future__ import annotations

import csv
import io
import time

from collector_helpers import state_change

from collector.auth import create_token


def tickets(env, **params):
    r = env.client.get("/v1/tickets", headers=env.h("crew"), params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_fault_opens_one_ticket_per_camera_after_delay(make_env):
    env = make_env(tickets={"open_after_seconds": 300, "auto_close_after_seconds": None})
    t0 = time.time() - 2000
    env.post([state_change(t=t0), state_change(fault="blur", t=t0 + 1),
              state_change(camera="c0417/cam04", t=t0)])
    assert env.sweep(now=t0 + 299)["opened"] == 0
    assert tickets(env) == []
    counts = env.sweep(now=t0 + 302)
    assert counts["opened"] == 2
    ts = tickets(env, compound="c0417")
    assert sorted(t["camera"] for t in ts) == ["c0417/cam03", "c0417/cam04"]
    cam3 = next(t for t in ts if t["camera"] == "c0417/cam03")
    assert sorted(f["fault"] for f in cam3["faults"]) == ["blocked", "blur"]
    assert cam3["status"] == "open" and cam3["severity"] == "critical"
    # Sweeping again (or from another replica) opens nothing new.
    assert env.sweep(now=t0 + 400)["opened"] == 0
    assert len(tickets(env)) == 2
    # A later fault on the same camera joins the same ticket.
    env.post([state_change(fault="ripple", t=t0 + 500)])
    assert env.sweep(now=t0 + 900)["attached"] == 1
    cam3 = env.client.get(f"/v1/tickets/{cam3['id']}", headers=env.h("crew")).json()
    assert [f["fault"] for f in cam3["faults"]] == ["blocked", "blur", "ripple"]
    assert tickets(env, compound="c9999") == []
    assert len(tickets(env, fault="ripple")) == 1


def test_short_faults_never_become_tickets(make_env):
    env = make_env(tickets={"open_after_seconds": 300})
    t0 = time.time()
    env.post([state_change(t=t0 - 100), state_change(state="cleared", t=t0 - 50)])
    assert env.sweep(now=t0 + 1000)["opened"] == 0


def test_recover_reopen_and_auto_close(make_env):
    env = make_env(tickets={"open_after_seconds": 0, "auto_close_after_seconds": 600})
    t0 = time.time() - 50
    env.post([state_change(t=t0), state_change(fault="blur", t=t0)])
    env.sweep(now=t0 + 1)
    (tk,) = tickets(env)
    env.post([state_change(state="cleared", t=t0 + 10)])
    env.sweep(now=t0 + 11)
    assert tickets(env)[0]["status"] == "open"  # blur still raised
    env.post([state_change(fault="blur", state="cleared", t=t0 + 20)])
    assert env.sweep(now=t0 + 21)["recovered"] == 1
    (tk,) = tickets(env)
    assert tk["status"] == "recovered" and tk["recovered_at"] == tk["faults"][1]["cleared_at"]
    # The fault comes back before verification: the ticket is open again.
    env.post([state_change(fault="blur", t=t0 + 30)])
    counts = env.sweep(now=t0 + 31)
    assert counts["attached"] == 1 and counts["reopened"] == 1
    assert tickets(env)[0]["status"] == "open"
    env.post([state_change(fault="blur", state="cleared", t=t0 + 40)])
    env.sweep(now=t0 + 41)
    assert tickets(env)[0]["status"] == "recovered"
    assert env.sweep(now=t0 + 40 + 599)["closed"] == 0
    assert env.sweep(now=t0 + 40 + 601)["closed"] == 1
    tk = tickets(env)[0]
    assert tk["status"] == "closed" and tk["closed_by"] == "auto"


def test_crew_ack_assign_comment_close_with_baseline_reset(make_env):
    env = make_env(tickets={"open_after_seconds": 60, "auto_close_after_seconds": None})
    env.post([state_change(t=time.time() - 120)])
    env.sweep()
    (tk,) = tickets(env)
    tid = tk["id"]
    h = env.h("crew")
    r = env.client.post(f"/v1/tickets/{tid}/ack", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    assert r.json()["acknowledged_by"] == "crew1"
    r = env.client.post(f"/v1/tickets/{tid}/assign", headers=h, json={"assignee": "li.wei"})
    assert r.json()["assignee"] == "li.wei"
    r = env.client.post(f"/v1/tickets/{tid}/assign", headers=h, json={"assignee": ""})
    assert r.status_code == 422 and "assignee" in r.json()["detail"]
    r = env.client.post(f"/v1/tickets/{tid}/comments", headers=h,
                        json={"body": "leaves cut back from garage camera"})
    assert r.json()["comments"][0]["body"].startswith("leaves cut back")
    r = env.client.post(f"/v1/tickets/{tid}/close", headers=h,
                        json={"note": "cleaned lens", "reset_baseline": True})
    assert r.status_code == 200, r.text
    closed = r.json()
    assert closed["status"] == "closed" and closed["closed_by"] == "crew1"
    assert closed["command_id"] is not None
    r = env.client.post(f"/v1/tickets/{tid}/close", headers=h, json={})
    assert r.status_code == 409 and "already closed" in r.json()["detail"]
    assert env.client.post("/v1/tickets/999/ack", headers=h).status_code == 404
    # The agent picks up the baseline reset and acknowledges it.
    ah = env.h("agent")
    cmds = env.client.get("/v1/agents/c0417/commands", headers=ah).json()
    assert cmds == [{"id": closed["command_id"], "kind": "reset_baseline",
                     "camera": "c0417/cam03", "ticket_id": tid,
                     "created_at": cmds[0]["created_at"]}]
    r = env.client.post(f"/v1/agents/c0417/commands/{cmds[0]['id']}/ack", headers=ah)
    assert r.status_code == 200
    assert env.client.get("/v1/agents/c0417/commands", headers=ah).json() == []
    # Still raised after the close: no instant new ticket; the delay counts from the close.
    env.sweep()
    assert [t["status"] for t in tickets(env)] == ["closed"]
    env.sweep(now=time.time() + 61)
    assert [t["status"] for t in tickets(env)] == ["open", "closed"]


def test_csv_export_and_maintenance_report(make_env):
    env = make_env(tickets={"open_after_seconds": 0, "auto_close_after_seconds": None})
    t0 = time.time() - 3600
    env.post([state_change(t=t0), state_change(camera="c0417/cam05", fault="signal_loss", t=t0)])
    with env.store.writing() as conn:  # c0420 has its own agent
        _, other = create_token(conn, "c0420", "agent", compounds=["c0420"])
    env.client.post("/v1/events", headers={"Authorization": f"Bearer {other}"}, json={
        "agent": "c0420", "events": [state_change(camera="c0420/cam01", t=t0)]})
    env.sweep(now=t0 + 10)
    ts = {t["camera"]: t for t in tickets(env)}
    with env.store.writing() as conn:
        from collector import tickets as tk

        tk.acknowledge(conn, ts["c0417/cam03"]["id"], "crew1", now=t0 + 70)
        tk.acknowledge(conn, ts["c0417/cam05"]["id"], "crew1", now=t0 + 130)
        tk.close(conn, env.app.state.cfg, ts["c0417/cam03"]["id"], "crew1", now=t0 + 1810)
    r = env.client.get("/v1/reports/maintenance", headers=env.h("operator"))
    rep = {row["compound"]: row for row in r.json()}
    assert rep["c0417"]["open_tickets"] == 1 and rep["c0417"]["tickets"] == 2
    assert rep["c0417"]["cameras_down"] == 2
    assert rep["c0417"]["mean_time_to_acknowledge_s"] == 90.0
    assert rep["c0417"]["mean_time_to_repair_s"] == 1800.0
    assert rep["c0420"]["open_tickets"] == 1 and rep["c0420"]["mean_time_to_repair_s"] is None
    r = env.client.get("/v1/tickets.csv", headers=env.h("crew"), params={"compound": "c0417"})
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert sorted(row["camera"] for row in rows) == ["c0417/cam03", "c0417/cam05"]
    closed = next(row for row in rows if row["status"] == "closed")
    assert closed["faults"] == "blocked" and closed["closed_at"].endswith("Z")
