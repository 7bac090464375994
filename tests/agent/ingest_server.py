"""A minimal but real ingest server for the agent's end-to-end tests (a process, not a mock).

It speaks the collector's wire contract (POST /v1/events with a bearer token, commands,
accepted/duplicates/rejected) and stores each event_id once in SQLite, counting every repeat,
so a test can prove "every event exactly once" across agent crashes. Knobs a test needs:
`--delay` (seconds to hold each POST *after* committing, which widens the window in which a
`kill -9` leaves an event stored but unacknowledged) and `--fail-first N` (answer 503 to the
first N POSTs).

    python tests/agent/ingest_server.py --port 8000 --db /tmp/x.db --token T
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import threading
import time

import uvicorn
from fastapi import FastAPI, Header, HTTPException, Request

REQUIRED = {"state_change": ("event_id", "camera", "fault", "state", "t"),
            "heartbeat": ("event_id", "agent", "t", "cameras")}


def build_app(db_path: str, token: str, delay: float = 0.0, fail_first: int = 0) -> FastAPI:
    """The app; one SQLite connection guarded by a lock is plenty for a test."""
    app = FastAPI()
    db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(
        "CREATE TABLE IF NOT EXISTS events (event_id TEXT PRIMARY KEY, kind TEXT, camera TEXT,"
        " fault TEXT, state TEXT, body TEXT, received REAL);"
        "CREATE TABLE IF NOT EXISTS stats (name TEXT PRIMARY KEY, value INTEGER);"
        "CREATE TABLE IF NOT EXISTS commands (id TEXT PRIMARY KEY, agent TEXT, kind TEXT,"
        " camera TEXT, acked INTEGER DEFAULT 0);")
    lock = threading.Lock()
    state = {"posts": 0, "in_flight": 0}

    def bump(name: str, by: int = 1) -> None:
        db.execute("INSERT INTO stats VALUES (?,?) ON CONFLICT(name) DO UPDATE"
                   " SET value=value+excluded.value", (name, by))

    def auth(header: str | None) -> None:
        if header != f"Bearer {token}":
            with lock:
                bump("unauthorized")
            raise HTTPException(401, "bad token")

    @app.post("/v1/events")
    async def events(request: Request, authorization: str | None = Header(None)) -> dict:
        auth(authorization)
        state["posts"] += 1
        if state["posts"] <= fail_first:
            raise HTTPException(503, "warming up")
        body = await request.json()
        accepted, duplicates, rejected = [], [], []
        with lock:
            db.execute("BEGIN IMMEDIATE")
            for i, ev in enumerate(body.get("events", [])):
                kind = ev.get("kind", "state_change")
                missing = [k for k in REQUIRED.get(kind, ("event_id",)) if k not in ev]
                if kind not in REQUIRED or missing:
                    rejected.append({"event_id": ev.get("event_id"), "index": i,
                                     "error": f"bad {kind}: missing {missing}"})
                    continue
                cur = db.execute("INSERT OR IGNORE INTO events VALUES (?,?,?,?,?,?,?)",
                                 (ev["event_id"], kind, ev.get("camera"), ev.get("fault"),
                                  ev.get("state"), json.dumps(ev), time.time()))
                if cur.rowcount:
                    accepted.append(ev["event_id"])
                else:
                    duplicates.append(ev["event_id"])
            bump("posts")
            bump("duplicates", len(duplicates))
            db.execute("COMMIT")
        if delay:
            state["in_flight"] += 1
            bump("held")
            await asyncio.sleep(delay)  # committed but not yet acknowledged
            state["in_flight"] -= 1
        return {"accepted": accepted, "duplicates": duplicates, "rejected": rejected}

    @app.get("/v1/agents/{agent}/commands")
    def commands(agent: str, authorization: str | None = Header(None)) -> list:
        auth(authorization)
        with lock:
            rows = db.execute("SELECT id, kind, camera FROM commands WHERE agent=? AND acked=0",
                              (agent,)).fetchall()
        return [{"id": r[0], "kind": r[1], "camera": r[2]} for r in rows]

    @app.post("/v1/agents/{agent}/commands/{cid}/ack")
    def ack(agent: str, cid: str, authorization: str | None = Header(None)) -> dict:
        auth(authorization)
        with lock:
            db.execute("UPDATE commands SET acked=1 WHERE id=? AND agent=?", (cid, agent))
        return {"ok": True}

    @app.post("/test/commands")
    async def add_command(request: Request) -> dict:
        c = await request.json()
        with lock:
            db.execute("INSERT INTO commands (id, agent, kind, camera) VALUES (?,?,?,?)",
                       (c["id"], c["agent"], c["kind"], c["camera"]))
        return {"ok": True}

    @app.get("/test/stats")
    def stats() -> dict:
        with lock:
            s = dict(db.execute("SELECT name, value FROM stats").fetchall())
            rows = db.execute("SELECT event_id, kind, camera, fault, state, body FROM events"
                              " ORDER BY received").fetchall()
            acked = [r[0] for r in db.execute("SELECT id FROM commands WHERE acked=1")]
        return {"stats": s, "in_flight": state["in_flight"], "acked_commands": acked,
                "events": [{"event_id": r[0], "kind": r[1], "camera": r[2], "fault": r[3],
                            "state": r[4], "body": json.loads(r[5])} for r in rows]}

    return app


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--fail-first", type=int, default=0)
    a = ap.parse_args()
    app = build_app(a.db, a.token, a.delay, a.fail_first)
    uvicorn.run(app, host="127.0.0.1", port=a.port, log_level="warning")


if __name__ == "__main__":
    main()
