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

Poison and dead letters (docs/agent.md, "Poison events and dead letters"): an event the
collector refuses on its own is moved, in one transaction, to the `dead_letter` table. It is
kept there for good (only an operator's `lenswatch agent --retry-dead-letters` moves it back to
the queue, under its original sequence number so it keeps its place), counted and named in
/healthz. Heartbeats are the exception: the next one supersedes them, so only the newest
`keep_heartbeats` refused heartbeats are kept.

Two things the disk can do to us are survived rather than crashed on:

- A corrupt `outbox.sqlite` at start is renamed aside (`outbox.sqlite.corrupt-<UTC time>`,
  with its -wal/-shm) and a fresh outbox is created, so one bad sector does not keep a
  compound dark; the file is kept for a post-mortem.
- A full disk (or another write error) while recording a state change keeps the change in
  memory, in order, and writes it as soon as a write succeeds again (`save_unsaved`, called by
  the uplink every loop). The alternative, raising, killed the thread that noticed the fault
  and lost the alert. Held changes are lost only if the process dies before space returns.
"""

from __future__ import annotations

import json
import logging
import os
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
CREATE TABLE IF NOT EXISTS dead_letter (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    camera TEXT,
    fault TEXT,
    state TEXT,
    body TEXT NOT NULL,
    created REAL NOT NULL,
    dead_at REAL NOT NULL,
    status INTEGER,
    error TEXT NOT NULL
);
"""

#: SQLite result codes that mean "this file is not a healthy database" (move it aside), as
#: opposed to "cannot open it right now" (permissions, locks), where we must not touch it.
_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
#: Primary result codes of a write that failed for lack of room or an I/O error.
_WRITE_FAILED_CODES = {10, 13}  # SQLITE_IOERR (and its extended codes), SQLITE_FULL


def write_failed(exc: BaseException) -> bool:
    """Whether `exc` is SQLite failing to write (disk full, I/O error), not a bug of ours."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and (code & 0xFF) in _WRITE_FAILED_CODES:
        return True
    return isinstance(exc, sqlite3.OperationalError) and (
        "disk is full" in str(exc) or "disk I/O error" in str(exc))


@dataclass(slots=True)
class DeadLetter:
    """An event the collector refused on its own, kept on disk until an operator retries it."""

    event_id: str
    kind: str
    camera: str | None
    fault: str | None
    state: str | None
    status: int | None
    error: str
    dead_at: float


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
        #: State changes that could not be written (disk full), oldest first.
        self._unsaved: list[StateChange] = []
        self.write_error: str | None = None
        self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        """Open (and check) the database; a corrupt file is moved aside for a fresh one."""
        try:
            return self._connect()
        except sqlite3.DatabaseError as exc:
            code = getattr(exc, "sqlite_errorcode", None)
            if not (isinstance(code, int) and (code & 0xFF) in _CORRUPT_CODES) and \
                    not str(exc).startswith("integrity check: "):
                raise
            aside = self._move_aside()
            log.error("the outbox %s is corrupt (%s): moved it aside to %s and started a "
                      "fresh, empty outbox; events that were waiting in it are not sent, and "
                      "faults it recorded as raised will be raised again if they still hold",
                      self.path, exc, aside)
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None,
                             timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            # quick_check reads every page once: milliseconds for a full outbox, and it
            # finds a torn or overwritten file now rather than mid-delivery.
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"integrity check: {check}")
            db.executescript(_SCHEMA)
        except BaseException:
            db.close()
            raise
        return db

    def _move_aside(self) -> Path:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while aside.exists():
            n += 1
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                os.replace(side, aside.with_name(aside.name + suffix))
        os.replace(self.path, aside)
        return aside

    @staticmethod
    def _rollback(cur: sqlite3.Cursor) -> None:
        # SQLite rolls back by itself on some errors (SQLITE_FULL among them); a second
        # ROLLBACK would then raise and hide the first error.
        if cur.connection.in_transaction:
            cur.execute("ROLLBACK")

    # -- writing ------------------------------------------------------------------------

    def record_change(self, change: StateChange) -> bool:
        """Store a state change and the new fault state in one fsync'd transaction.

        Returns False (and stores nothing) when it would repeat the persisted state: a raise of
        a fault already raised, or a clear of one not raised. That is what keeps "raised once,
        cleared once" true across restarts. If the disk cannot take the write, the change is
        held in memory (in order, after any held before it) and True is returned: the caller
        must carry on watching cameras, and the uplink saves it when the disk has room again.
        """
        with self._lock:
            self._save_unsaved_locked()
            if not self._unsaved:
                try:
                    return self._write_change(change)
                except sqlite3.Error as exc:
                    if not write_failed(exc):
                        raise
                    self._note_write_error(exc)
            if self._would_repeat(change):
                return False
            self._unsaved.append(change)
            log.error("outbox cannot write (%s): %d state change(s) held in memory until the "
                      "disk has room; a restart now would lose them", self.write_error,
                      len(self._unsaved))
            return True

    def _write_change(self, change: StateChange) -> bool:
        body = change.to_dict(iso_time=True)
        body["kind"] = "state_change"
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
            self._rollback(cur)
            raise
        return True

    def _would_repeat(self, change: StateChange) -> bool:
        """The repeat rule over the persisted state plus the changes held in memory."""
        raised = self._db.execute("SELECT 1 FROM fault_state WHERE camera=? AND fault=?",
                                  (change.camera, change.fault)).fetchone() is not None
        for held in self._unsaved:
            if held.camera == change.camera and held.fault == change.fault:
                raised = held.state == "raised"
        return (change.state == "raised") == raised

    def _note_write_error(self, exc: BaseException) -> None:
        self.write_error = f"{type(exc).__name__}: {exc}"

    def _disk_refused(self, exc: BaseException, what: str) -> bool:
        """After a rolled-back write: True when the disk refused it (full, read-only); the
        error is noted and logged with `what` (what stays as it is for now), and the caller
        carries on. False for any other error, which the caller raises."""
        if not (isinstance(exc, sqlite3.Error) and write_failed(exc)):
            return False
        self._note_write_error(exc)
        log.warning("outbox cannot write (%s): %s", self.write_error, what)
        return True

    def _save_unsaved_locked(self) -> None:
        if not self._unsaved and self.write_error is None:
            return
        saved = 0
        while self._unsaved:
            try:
                self._write_change(self._unsaved[0])
            except sqlite3.Error as exc:
                if not write_failed(exc):
                    raise
                self._note_write_error(exc)
                return
            self._unsaved.pop(0)
            saved += 1
        if not saved:
            # Nothing was held (a heartbeat or a delete failed): check that a write works.
            cur = self._db.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
                self._bump(cur, "write_checks", 1)
                cur.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback(cur)
                if not write_failed(exc):
                    raise
                self._note_write_error(exc)
                return
        log.warning("outbox writable again: saved %d state change(s) that were held in "
                    "memory", saved)
        self.write_error = None

    def save_unsaved(self) -> int:
        """Write state changes held in memory since a failed write; returns how many remain."""
        with self._lock:
            if self._unsaved or self.write_error:
                self._save_unsaved_locked()
            return len(self._unsaved)

    def unsaved(self) -> int:
        """State changes held in memory because the disk refused them."""
        with self._lock:
            return len(self._unsaved)

    def add_heartbeat(self, body: dict[str, Any]) -> None:
        """Store a heartbeat, keeping only the newest `keep_heartbeats` undelivered ones.

        On a full disk the heartbeat is skipped (the next one supersedes it anyway) and the
        failure is remembered for /healthz instead of raised.
        """
        with self._lock:
            cur = self._db.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
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
            except BaseException as exc:
                self._rollback(cur)
                if self._disk_refused(exc, "heartbeat skipped"):
                    return
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
        """Delete delivered events: one fsync'd transaction per batch."""
        if not event_ids:
            return
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                cur.executemany("DELETE FROM outbox WHERE event_id=?", [(e,) for e in event_ids])
                self._bump(cur, "rejected", rejected)
                cur.execute("COMMIT")
            except BaseException as exc:
                self._rollback(cur)
                # Not deleted: give them back, so they are sent again (the collector answers
                # "duplicate") and deleted once the disk takes the write.
                self._in_flight.difference_update(event_ids)
                if self._disk_refused(exc, f"{len(event_ids)} delivered events stay queued "
                                           "and will be sent again"):
                    return
                raise
            self._in_flight.difference_update(event_ids)

    # -- dead letters ----------------------------------------------------------------------

    def dead_letter(self, refused: dict[str, tuple[int | None, str]]) -> int:
        """Move events the collector refused on their own to the dead-letter table.

        `refused` maps event_id to (HTTP status or None for a per-event rejection, reason).
        One transaction: an event is in exactly one of the two tables at any time, so a crash
        can neither lose it nor send it twice. Returns how many were moved (0 if the disk is
        full: they stay queued and are judged again later).
        """
        if not refused:
            return 0
        now = time.time()
        with self._lock:
            cur = self._db.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
                moved = 0
                for eid, (status, error) in refused.items():
                    moved += cur.execute(
                        "INSERT OR REPLACE INTO dead_letter (seq, event_id, kind, camera, fault,"
                        " state, body, created, dead_at, status, error) SELECT seq, event_id,"
                        " kind, camera, fault, state, body, created, ?, ?, ? FROM outbox"
                        " WHERE event_id=?", (now, status, error[:500], eid)).rowcount
                    cur.execute("DELETE FROM outbox WHERE event_id=?", (eid,))
                # Heartbeats are superseded by the next one: keep only the newest few.
                old = cur.execute(
                    "SELECT event_id FROM dead_letter WHERE kind='heartbeat' ORDER BY seq DESC"
                    " LIMIT -1 OFFSET ?", (self.keep_heartbeats,)).fetchall()
                cur.executemany("DELETE FROM dead_letter WHERE event_id=?", old)
                self._bump(cur, "dropped_heartbeat", len(old))
                self._bump(cur, "dead_lettered", moved)
                cur.execute("COMMIT")
            except BaseException as exc:
                self._rollback(cur)
                self._in_flight.difference_update(refused)
                if self._disk_refused(exc, f"{len(refused)} refused events stay queued"):
                    return 0
                raise
            self._in_flight.difference_update(refused)
        return moved

    def dead_letters(self, limit: int = 20) -> list[DeadLetter]:
        """The newest dead letters (for /healthz and the logs)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT event_id, kind, camera, fault, state, status, error, dead_at"
                " FROM dead_letter ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        return [DeadLetter(*r) for r in rows]

    def dead_letter_count(self) -> int:
        """Events in the dead-letter table."""
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM dead_letter").fetchone()[0]

    def requeue_dead_letters(self) -> int:
        """Move every dead letter back to the queue, in its original place (after an upgrade).

        Safe while an agent runs on the same outbox: it is one transaction, and the running
        agent's next pass takes the events like any other.
        """
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                n = cur.execute(
                    "INSERT INTO outbox (seq, event_id, kind, camera, fault, state,"
                    " body, created) SELECT seq, event_id, kind, camera, fault, state, body,"
                    " created FROM dead_letter ORDER BY seq").rowcount
                cur.execute("DELETE FROM dead_letter")
                cur.execute("COMMIT")
            except BaseException:
                self._rollback(cur)
                raise
        return n

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
