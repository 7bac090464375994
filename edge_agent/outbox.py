"""The durable outbox: every event is on disk (fsync'd) before anyone tries to send it.

Why SQLite in WAL mode with synchronous=FULL: a commit returns only after the write-ahead log
is fsync'd, so an event the agent has recorded survives `kill -9` and power loss, and the
uplink can delete delivered events without rewriting a file. The same transaction that stores
a state change also updates the per-camera fault state, so after a crash the agent knows
exactly which faults it has raised and never raises (or clears) one twice.

Bounded size and the policy when full (see docs/agent.md, "Outbox"):

1. Heartbeats are summaries that the next one supersedes: only the newest `keep_heartbeats`
   undelivered ones are kept, ever.
2. When the state changes reach `max_events`, the oldest *finished episode* is compacted away:
   a `raised` and its later `cleared` for the same camera and fault, both undelivered and not
   in flight. The collector's view of the camera's current state stays correct; the episode is
   counted (`lenswatch_agent_outbox_dropped_total{reason="episode"}`) and logged with camera,
   fault and times, never dropped silently.
3. A fault that is still raised, and the clear of a fault whose raise was delivered, are never
   dropped. If nothing can be compacted the outbox goes over `max_events`; it cannot grow past
   max_events + 2 x cameras x faults, because without a complete episode there are at most
   two pending events per camera and fault.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract import StateChange

log = logging.getLogger("lenswatch.agent.outbox")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    camera TEXT,
    fault TEXT,
    state TEXT,
    body TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_kind ON outbox(kind, seq);
CREATE INDEX IF NOT EXISTS outbox_cf ON outbox(camera, fault, seq);
CREATE TABLE IF NOT EXISTS fault_state (
    camera TEXT NOT NULL,
    fault TEXT NOT NULL,
    event_id TEXT NOT NULL,
    t REAL NOT NULL,
    PRIMARY KEY (camera, fault)
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(slots=True)
class Pending:
    """An undelivered event as the uplink sends it."""

    seq: int
    event_id: str
    kind: str
    body: dict[str, Any]


class Outbox:
    """A crash-safe FIFO of wire events plus the agent's persisted fault state."""

    def __init__(self, path: str | Path, *, max_events: int = 100_000,
                 keep_heartbeats: int = 10) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_events = max_events
        self.keep_heartbeats = keep_heartbeats
        self._lock = threading.Lock()
        self._in_flight: set[str] = set()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False,
                                   isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    # -- writing ------------------------------------------------------------------------

    def record_change(self, change: StateChange) -> bool:
        """Store a state change and the new fault state in one fsync'd transaction.

        Returns False (and stores nothing) when it would repeat the persisted state: a raise of
        a fault already raised, or a clear of one not raised. That is what keeps "raised once,
        cleared once" true across restarts.
        """
        body = change.to_dict(iso_time=True)
        body["kind"] = "state_change"
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                row = cur.execute("SELECT event_id FROM fault_state WHERE camera=? AND fault=?",
                                  (change.camera, change.fault)).fetchone()
                if (change.state == "raised") == (row is not None):
                    cur.execute("ROLLBACK")
                    return False
                if change.state == "raised":
                    cur.execute("INSERT INTO fault_state VALUES (?,?,?,?)",
                                (change.camera, change.fault, change.event_id, change.t))
                else:
                    cur.execute("DELETE FROM fault_state WHERE camera=? AND fault=?",
                                (change.camera, change.fault))
                cur.execute(
                    "INSERT INTO outbox (event_id, kind, camera, fault, state, body, created)"
                    " VALUES (?,?,?,?,?,?,?)",
                    (change.event_id, "state_change", change.camera, change.fault,
                     change.state, json.dumps(body, separators=(",", ":")), time.time()))
                self._enforce_cap(cur)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        return True

    def add_heartbeat(self, body: dict[str, Any]) -> None:
        """Store a heartbeat, keeping only the newest `keep_heartbeats` undelivered ones."""
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                cur.execute(
                    "INSERT INTO outbox (event_id, kind, body, created) VALUES (?,?,?,?)",
                    (body["event_id"], "heartbeat", json.dumps(body, separators=(",", ":")),
                     time.time()))
                old = cur.execute(
                    "SELECT event_id FROM outbox WHERE kind='heartbeat' ORDER BY seq DESC"
                    " LIMIT -1 OFFSET ?", (self.keep_heartbeats,)).fetchall()
                stale = [r[0] for r in old if r[0] not in self._in_flight]
                cur.executemany("DELETE FROM outbox WHERE event_id=?", [(e,) for e in stale])
                self._bump(cur, "dropped_heartbeat", len(stale))
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    def _enforce_cap(self, cur: sqlite3.Cursor) -> None:
        n = cur.execute("SELECT COUNT(*) FROM outbox WHERE kind='state_change'").fetchone()[0]
        while n > self.max_events:
            pair = self._oldest_episode(cur)
            if pair is None:
                log.error("outbox over its cap (%d > %d) with no finished episode to compact: "
                          "keeping every pending fault", n, self.max_events)
                return
            (r_id, cam, fault, r_created), (c_id, c_created) = pair
            cur.execute("DELETE FROM outbox WHERE event_id IN (?,?)", (r_id, c_id))
            self._bump(cur, "dropped_episode", 1)
            log.warning("outbox full (%d events): compacted the finished episode %s %s "
                        "raised %s cleared %s (both undelivered)", n, cam, fault,
                        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(r_created)),
                        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(c_created)))
            n -= 2

    def _oldest_episode(self, cur: sqlite3.Cursor):
        rows = cur.execute(
            "SELECT c.event_id, c.created, r.event_id, r.camera, r.fault, r.created"
            " FROM outbox c JOIN outbox r ON r.camera=c.camera AND r.fault=c.fault"
            " AND r.state='raised' AND r.seq<c.seq"
            " WHERE c.kind='state_change' AND c.state='cleared'"
            " AND NOT EXISTS (SELECT 1 FROM outbox x WHERE x.camera=c.camera"
            "   AND x.fault=c.fault AND x.seq>r.seq AND x.seq<c.seq)"
            " ORDER BY r.seq LIMIT 50").fetchall()
        for c_id, c_created, r_id, cam, fault, r_created in rows:
            if c_id not in self._in_flight and r_id not in self._in_flight:
                return (r_id, cam, fault, r_created), (c_id, c_created)
        return None

    @staticmethod
    def _bump(cur: sqlite3.Cursor, name: str, by: int) -> None:
        if by:
            cur.execute("INSERT INTO counters VALUES (?,?) ON CONFLICT(name) DO UPDATE"
                        " SET value=value+excluded.value", (name, by))

    # -- reading and delivery -------------------------------------------------------------

    def take(self, limit: int) -> list[Pending]:
        """The oldest undelivered events not already in flight; marks them in flight."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, event_id, kind, body FROM outbox ORDER BY seq LIMIT ?",
                (limit + len(self._in_flight),)).fetchall()
            out = []
            for seq, eid, kind, body in rows:
                if eid in self._in_flight:
                    continue
                out.append(Pending(seq, eid, kind, json.loads(body)))
                self._in_flight.add(eid)
                if len(out) >= limit:
                    break
            return out

    def release(self, event_ids: list[str]) -> None:
        """Give back events whose delivery failed, so the next attempt sends them again."""
        with self._lock:
            self._in_flight.difference_update(event_ids)

    def remove(self, event_ids: list[str], *, rejected: int = 0) -> None:
        """Delete delivered (or rejected) events: one fsync'd transaction per batch."""
        if not event_ids:
            return
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                cur.executemany("DELETE FROM outbox WHERE event_id=?", [(e,) for e in event_ids])
                self._bump(cur, "rejected", rejected)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            self._in_flight.difference_update(event_ids)

    def depth(self) -> int:
        """Undelivered events, heartbeats included."""
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def counters(self) -> dict[str, int]:
        """Persisted drop/reject counters (they survive restarts, like the events)."""
        with self._lock:
            return dict(self._db.execute("SELECT name, value FROM counters").fetchall())

    def raised_faults(self) -> dict[str, dict[str, float]]:
        """Faults currently raised per camera, as persisted: {camera: {fault: t}}."""
        with self._lock:
            rows = self._db.execute("SELECT camera, fault, t FROM fault_state").fetchall()
        out: dict[str, dict[str, float]] = {}
        for cam, fault, t in rows:
            out.setdefault(cam, {})[fault] = t
        return out

    def close(self) -> None:
        """Close the database (the WAL is checkpointed by SQLite)."""
        with self._lock:
            self._db.close()
