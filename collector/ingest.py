"""Storing validated batches: idempotent by event_id, group-committed by one writer thread.

Why one writer thread: SQLite allows one writer at a time, so many request threads each
opening a transaction only queue on the file lock (and pay a commit each). A single thread that
takes every batch waiting in the queue and commits them together turns N fsyncs into one. On
PostgreSQL the same grouping saves round trips; replicas each have their own writer and the
database's unique index on event_id keeps "stored once" true across them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import queue
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite

from collector.schema import agents, camera_faults, cameras, events
from collector.store import Store
from contract import HeartbeatCamera
from contract.wire import HeartbeatIn, StateChangeIn

log = logging.getLogger("lenswatch.collector.ingest")


@dataclass
class BatchResult:
    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)


def _insert(dialect: str, table):  # type: ignore[no-untyped-def]
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _greatest(dialect: str, a, b):  # type: ignore[no-untyped-def]
    # SQLite's two-argument max() is its scalar GREATEST; both ignore NULL differently, so
    # coalesce first.
    a2, b2 = func.coalesce(a, b), func.coalesce(b, a)
    return func.greatest(a2, b2) if dialect == "postgresql" else func.max(a2, b2)


@functools.cache
def _statements(dialect: str) -> dict[str, Any]:
    """The upserts, defined once with SQLAlchemy (so they follow the schema)."""
    ag = _insert(dialect, agents)
    ag = ag.on_conflict_do_update(index_elements=["id"], set_={
        "last_contact": ag.excluded.last_contact,
        "last_heartbeat": _greatest(dialect, agents.c.last_heartbeat, ag.excluded.last_heartbeat),
        # Kept until measured again: a batch without the send-time header says nothing.
        "clock_offset": func.coalesce(ag.excluded.clock_offset, agents.c.clock_offset),
        "clock_offset_at": func.coalesce(ag.excluded.clock_offset_at, agents.c.clock_offset_at),
    })
    cam = _insert(dialect, cameras)
    cam = cam.on_conflict_do_update(index_elements=["id"], set_={
        "last_seen": cam.excluded.last_seen, "agent": cam.excluded.agent,
    })
    hb = _insert(dialect, cameras)
    hb = hb.on_conflict_do_update(index_elements=["id"], set_={
        "last_seen": hb.excluded.last_seen,
        "agent": hb.excluded.agent,
        "last_frame": _greatest(dialect, cameras.c.last_frame, hb.excluded.last_frame),
        "reported_status": hb.excluded.reported_status,
        "reference_image": func.coalesce(hb.excluded.reference_image,
                                         cameras.c.reference_image),
        # The receipt time of the picture kept: the retention sweep counts from it.
        "reference_at": func.coalesce(hb.excluded.reference_at, cameras.c.reference_at),
    })
    cf = _insert(dialect, camera_faults)
    cf = cf.on_conflict_do_update(
        index_elements=["camera", "fault"],
        set_={
            "state": cf.excluded.state, "since": cf.excluded.since,
            "event_id": cf.excluded.event_id, "confidence": cf.excluded.confidence,
            "severity": cf.excluded.severity, "evidence": cf.excluded.evidence,
        },
        where=camera_faults.c.since <= cf.excluded.since,
    )
    return {"agents": ag, "cameras": cam, "heartbeat_cameras": hb, "camera_faults": cf}


#: The bound columns of each upsert, in the order rows are built below.
_UPSERT_KEYS: dict[str, tuple[str, ...]] = {
    "agents": ("id", "first_seen", "last_contact", "last_heartbeat", "clock_offset",
               "clock_offset_at"),
    "cameras": ("id", "compound", "agent", "first_seen", "last_seen"),
    "heartbeat_cameras": ("id", "compound", "agent", "first_seen", "last_seen", "last_frame",
                          "reported_status", "reference_image", "reference_at"),
    "camera_faults": ("camera", "fault", "state", "since", "event_id", "confidence",
                      "severity", "evidence"),
}
_EVENT_COLS = ("event_id", "kind", "agent", "camera", "compound", "fault", "state", "t",
               "received_at", "confidence", "severity", "evidence", "snapshot")
#: Rows per statement on SQLite, largest first: any row count is cut into pieces of these
#: sizes, so each table has a handful of distinct statement texts (prepared once, then taken
#: from the driver's statement cache) however groups vary. 256 rows x 13 parameters stays far
#: below SQLite's 32,766 bound parameters per statement.
_PIECES = (256, 64, 16, 4, 1)


def _pieces(n: int) -> Iterator[tuple[int, int]]:
    """(start, size) pieces covering range(n), sizes from _PIECES."""
    start = 0
    for size in _PIECES:
        while n - start >= size:
            yield start, size
            start += size


class _Driver:
    """SQL text compiled once per dialect and run on the driver's cursor.

    Why not `conn.execute(statement, rows)`: with ~10 rows per agent batch, SQLAlchemy's
    per-row parameter processing and execution contexts cost more CPU than SQLite spent
    storing the rows (measured: about half of the writer thread). The statements are the same
    SQL SQLAlchemy generates (compiled from the definitions above); only the execution path is
    leaner. They run in the caller's transaction on the same DBAPI connection.

    On SQLite every statement is one multi-row statement that completes in a single step: the
    sqlite3 module releases the GIL around each step, and under load each re-acquisition waits
    for the event-loop thread's switch interval (5 ms). Row-by-row steps (executemany, or
    RETURNING one row per step) made a 128-batch group take a quarter of a second. So new ids
    are found by one SELECT of the few that already exist, not by RETURNING: the writer holds
    SQLite's write lock (BEGIN IMMEDIATE), so nobody can insert between the two statements.

    On PostgreSQL each statement takes its columns as arrays (INSERT ... SELECT FROM unnest),
    one short statement per table whatever the row count, and RETURNING says which ids are new
    (replicas insert concurrently). psycopg re-parses long statement texts on every call and
    pays a pipeline round per executemany row; both were most of the writer's CPU there.
    """

    def __init__(self, sa_dialect: Any) -> None:
        name = sa_dialect.name
        self.arrays = name == "postgresql"
        self.mark = "%s" if self.arrays else "?"
        self.upserts: dict[str, tuple[str, str]] = {}  # key -> (head, "ON CONFLICT ..." tail)
        for key, stmt in _statements(name).items():
            cols = _UPSERT_KEYS[key]
            sql = str(stmt.compile(dialect=sa_dialect, column_keys=list(cols)))
            tail = sql[sql.index(" ON CONFLICT "):]
            head = (self._unnest_insert(sa_dialect, stmt.table, cols) if self.arrays
                    else f"INSERT INTO {stmt.table.name} ({', '.join(cols)}) VALUES ")
            self.upserts[key] = (head, tail)
        self._texts: dict[tuple[str, int], str] = {}
        self._events_pg = (self._unnest_insert(sa_dialect, events, _EVENT_COLS)
                           + " ON CONFLICT (event_id) DO NOTHING RETURNING event_id")

    def _unnest_insert(self, sa_dialect: Any, table: Any, cols: tuple[str, ...]) -> str:
        # Arrays of the unbounded base type (VARCHAR, not VARCHAR(36)): an explicit cast to a
        # bounded type would silently truncate, while assigning to the column checks length.
        arrays = ", ".join(
            f"{self.mark}::{re.sub(r'[(].*[)]', '', table.c[c].type.compile(dialect=sa_dialect))}[]"
            for c in cols)
        return f"INSERT INTO {table.name} ({', '.join(cols)}) SELECT * FROM unnest({arrays})"

    def _values_sql(self, key: str, head: str, tail: str, width: int, n: int) -> str:
        sql = self._texts.get((key, n))
        if sql is None:
            row = "(" + ", ".join(["?"] * width) + ")"
            sql = self._texts[(key, n)] = head + ", ".join([row] * n) + tail
        return sql

    def insert_events(self, cur: Any, rows: list[tuple]) -> set[str]:
        """Insert the rows whose event_id is new; returns those ids (first occurrence wins)."""
        if self.arrays:
            cur.execute(self._events_pg, [list(col) for col in zip(*rows, strict=True)])
            return {r[0] for r in cur.fetchall()}
        firsts: dict[str, tuple] = {}
        for r in rows:
            firsts.setdefault(r[0], r)
        ids = list(firsts)
        for start, size in _pieces(len(ids)):
            for (eid,) in cur.execute(self._in_sql(size), ids[start:start + size]).fetchall():
                firsts.pop(eid, None)
        new = list(firsts.values())
        head = f"INSERT INTO {events.name} ({', '.join(_EVENT_COLS)}) VALUES "
        for start, size in _pieces(len(new)):
            # DO NOTHING stays as the guard of the unique index; nothing should conflict.
            cur.execute(self._values_sql("events", head, " ON CONFLICT (event_id) DO NOTHING",
                                         len(_EVENT_COLS), size),
                        [v for r in new[start:start + size] for v in r])
        return set(firsts)

    def _in_sql(self, n: int) -> str:
        sql = self._texts.get(("events_in", n))
        if sql is None:
            sql = self._texts[("events_in", n)] = (
                f"SELECT event_id FROM {events.name} WHERE event_id IN ("
                + ", ".join(["?"] * n) + ")")
        return sql

    def upsert(self, cur: Any, key: str, rows: list[tuple]) -> None:
        """Upsert rows whose keys are unique (ON CONFLICT may touch a row once per statement)."""
        if not rows:
            return
        head, tail = self.upserts[key]
        if self.arrays:
            cur.execute(head + tail, [list(col) for col in zip(*rows, strict=True)])
            return
        width = len(_UPSERT_KEYS[key])
        for start, size in _pieces(len(rows)):
            cur.execute(self._values_sql(key, head, tail, width, size),
                        [v for r in rows[start:start + size] for v in r])


_drivers: dict[tuple[str, str, str], _Driver] = {}


def _driver(conn: Connection) -> _Driver:
    d = conn.dialect
    key = (d.name, d.driver, d.paramstyle)
    drv = _drivers.get(key)
    if drv is None:
        drv = _drivers[key] = _Driver(d)
    return drv


def store_batch(
    conn: Connection, dialect: str, agent: str, items: Sequence[StateChangeIn | HeartbeatIn],
    now: float,
) -> BatchResult:
    """Apply one agent batch inside the caller's transaction; returns accepted/duplicate ids."""
    return store_group(conn, dialect, [(agent, items)], now)[0]


def store_group(
    conn: Connection, dialect: str,
    batches: Sequence[tuple[str, Sequence[StateChangeIn | HeartbeatIn]]], now: float,
    offsets: dict[str, float] | None = None,
) -> list[BatchResult]:
    """Apply several batches in one transaction with one statement per table.

    Rows keep the agent's stamp `t` and the receipt time `now`; the camera's current state
    and its tickets follow each item's effective time `at` (`contract.wire.effective_time`).
    `offsets` are agents' clock offsets measured on these batches (send-time header).

    An event id present in two batches of the group is credited to the first; the other
    batch reports it as a duplicate, exactly as if they had been committed one after another.
    `dialect` is kept for callers; the connection's own dialect decides the SQL. Call it inside
    `Store.writing()`: on SQLite the new ids are decided under that transaction's write lock.
    """
    drv = _driver(conn)
    rows: list[tuple] = []
    for agent, items in batches:
        for it in items:
            if type(it) is StateChangeIn:
                rows.append((it.event_id, "state_change", agent, it.camera, it.compound,
                             it.fault, it.state, it.t, now, it.confidence, it.severity,
                             it.evidence, it.snapshot))
            else:
                rows.append((it.event_id, "heartbeat", agent, None, None, None, None, it.t,
                             now, None, None, None, None))
    cur = conn.connection.cursor()
    try:
        inserted = drv.insert_events(cur, rows) if rows else set()
        results = _apply_fresh(cur, drv, batches, inserted, now, offsets or {})
    finally:
        cur.close()
    return results


def _apply_fresh(
    cur: Any, drv: _Driver,
    batches: Sequence[tuple[str, Sequence[StateChangeIn | HeartbeatIn]]],
    inserted: set[str], now: float, offsets: dict[str, float],
) -> list[BatchResult]:
    """Credit new ids to batches, then bring agents, cameras and current faults up to date."""
    results: list[BatchResult] = []
    fresh: list[tuple[str, StateChangeIn | HeartbeatIn]] = []
    agent_rows: dict[str, list[Any]] = {}
    for agent, items in batches:
        res = BatchResult()
        ar = agent_rows.get(agent)
        if ar is None:
            off = offsets.get(agent)
            ar = agent_rows[agent] = [agent, now, now, None, off,
                                      None if off is None else now]
        for it in items:
            if it.event_id in inserted:
                inserted.discard(it.event_id)  # credit the first batch that carried it
                res.accepted.append(it.event_id)
                fresh.append((agent, it))
                if type(it) is HeartbeatIn:
                    hb = ar[3]
                    ar[3] = it.at if hb is None else max(hb, it.at)
            else:
                res.duplicates.append(it.event_id)
        results.append(res)
    # Sorted keys everywhere: concurrent replicas then lock rows in the same order.
    drv.upsert(cur, "agents", [tuple(agent_rows[a]) for a in sorted(agent_rows)])

    cams: dict[str, str] = {}
    hb_cams: dict[str, tuple[str, float, HeartbeatCamera]] = {}
    latest: dict[tuple[str, str], StateChangeIn] = {}
    for agent, it in fresh:
        if type(it) is StateChangeIn:
            cams[it.camera] = agent
            # Current fault state: the newest event per (camera, fault) wins, whatever order
            # events arrive in (an outbox replays old events after a network cut). "Newest"
            # by effective time: a wrong agent clock must not reorder a camera's faults.
            key = (it.camera, it.fault)
            cur_sc = latest.get(key)
            if cur_sc is None or it.at >= cur_sc.at:
                latest[key] = it
        else:
            for cam, info in it.cameras.items():
                prev = hb_cams.get(cam)
                if prev is None or it.at >= prev[1]:
                    hb_cams[cam] = (agent, it.at, info)
    drv.upsert(cur, "cameras", [
        (c, c.split("/", 1)[0], cams[c], now, now) for c in sorted(cams)
    ])
    drv.upsert(cur, "heartbeat_cameras", [
        (cam, cam.split("/", 1)[0], agent, now, now, info.last_frame, info.status,
         info.reference, None if info.reference is None else now)
        for cam, (agent, _t, info) in sorted(hb_cams.items())
    ])
    drv.upsert(cur, "camera_faults", [
        (sc.camera, sc.fault, sc.state, sc.at, sc.event_id, sc.confidence, sc.severity,
         sc.evidence)
        for _, sc in sorted(latest.items())
    ])
    return results


class IngestWriter:
    """The single writer thread; request handlers await its futures."""

    def __init__(self, store: Store, max_group: int = 128) -> None:
        self.store = store
        self.max_group = max_group
        self._q: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self._thread.start()

    async def submit(
        self, agent: str, items: Sequence[StateChangeIn | HeartbeatIn],
        clock_offset: float | None = None,
    ) -> BatchResult:
        """Store one batch; `clock_offset` is the agent's clock offset measured on it."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[BatchResult] = loop.create_future()
        self._q.put((agent, items, loop, fut, clock_offset))
        return await fut

    def close(self) -> None:
        self._q.put(None)
        self._thread.join(timeout=10)

    @staticmethod
    def _resolve(loop: asyncio.AbstractEventLoop, fut: asyncio.Future, value: Any,
                 exc: BaseException | None) -> None:
        IngestWriter._resolve_all([(loop, fut, value, exc)])

    @staticmethod
    def _resolve_all(
        outcomes: list[tuple[asyncio.AbstractEventLoop, asyncio.Future, Any,
                             BaseException | None]],
    ) -> None:
        """Hand results back with one wake-up per event loop, not one per batch: each
        `call_soon_threadsafe` writes to the loop's self-pipe (a system call)."""
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple]] = {}
        for loop, fut, value, exc in outcomes:
            by_loop.setdefault(loop, []).append((fut, value, exc))

        def _set(items: list[tuple]) -> None:
            for fut, value, exc in items:
                if fut.done():
                    continue
                if exc is not None:
                    fut.set_exception(exc)
                else:
                    fut.set_result(value)

        for loop, items in by_loop.items():
            # A closed loop has nobody waiting any more; the writer must go on regardless.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_set, items)

    def _apply(self, group: list[tuple]) -> list[BatchResult]:
        now = time.time()
        dialect = self.store.dialect
        with self.store.writing() as conn:
            return store_group(conn, dialect, [(g[0], g[1]) for g in group], now,
                               {g[0]: g[4] for g in group if g[4] is not None})

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._q.get()
            if first is None:
                return
            group = [first]
            while len(group) < self.max_group:
                try:
                    nxt = self._q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                group.append(nxt)
            try:
                results = self._apply(group)
            except Exception:  # noqa: BLE001 - isolate the failing batch, then report it
                log.exception("group commit of %d batches failed; retrying one by one",
                              len(group))
                for g in group:
                    try:
                        (res,) = self._apply([g])
                        self._resolve(g[2], g[3], res, None)
                    except Exception as exc:  # noqa: BLE001
                        log.exception("batch from agent %s failed", g[0])
                        self._resolve(g[2], g[3], None, exc)
                continue
            self._resolve_all([(g[2], g[3], res, None)
                               for g, res in zip(group, results, strict=True)])


def max_seq(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(events.c.seq), 0))).scalar_one())


__all__ = ["BatchResult", "IngestWriter", "max_seq", "store_batch", "store_group"]
