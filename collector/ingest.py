"""Storing validated batches: idempotent by event_id, group-committed by one writer thread.

Why one writer thread: SQLite allows one writer at a time, so many request threads each
opening a transaction only queue on the file lock (and pay a commit each). A single thread that
takes every batch waiting in the queue and commits them together turns N fsyncs into one. On
PostgreSQL the same grouping saves round trips; replicas each have their own writer and the
database's unique index on event_id keeps "stored once" true across them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite

from collector.schema import agents, camera_faults, cameras, events
from collector.store import Store
from collector.validate import HeartbeatIn, StateChangeIn

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
    """Fixed statements executed with parameter lists.

    Building `insert().values([...rows...])` per batch makes SQLAlchemy compile a new statement
    for every batch (about 10 ms each); fixed statements compile once and run as executemany
    (with "insertmanyvalues" batching for RETURNING).
    """
    ev = (_insert(dialect, events).on_conflict_do_nothing(index_elements=["event_id"])
          .returning(events.c.event_id))
    ag = _insert(dialect, agents)
    ag = ag.on_conflict_do_update(index_elements=["id"], set_={
        "last_contact": ag.excluded.last_contact,
        "last_heartbeat": _greatest(dialect, agents.c.last_heartbeat, ag.excluded.last_heartbeat),
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
    return {"events": ev, "agents": ag, "cameras": cam, "heartbeat_cameras": hb,
            "camera_faults": cf}


def store_batch(
    conn: Connection, dialect: str, agent: str, items: Sequence[StateChangeIn | HeartbeatIn],
    now: float,
) -> BatchResult:
    """Apply one agent batch inside the caller's transaction; returns accepted/duplicate ids."""
    return store_group(conn, dialect, [(agent, items)], now)[0]


def store_group(
    conn: Connection, dialect: str,
    batches: Sequence[tuple[str, Sequence[StateChangeIn | HeartbeatIn]]], now: float,
) -> list[BatchResult]:
    """Apply several batches in one transaction with one statement per table.

    An event id present in two batches of the group is credited to the first; the other
    batch reports it as a duplicate, exactly as if they had been committed one after another.
    """
    st = _statements(dialect)
    rows: list[dict[str, Any]] = []
    for agent, items in batches:
        for it in items:
            if isinstance(it, StateChangeIn):
                rows.append({
                    "event_id": it.event_id, "kind": "state_change", "agent": agent,
                    "camera": it.camera, "compound": it.compound, "fault": it.fault,
                    "state": it.state, "t": it.t, "received_at": now,
                    "confidence": it.confidence, "severity": it.severity,
                    "evidence": it.evidence, "snapshot": it.snapshot,
                })
            else:
                rows.append({
                    "event_id": it.event_id, "kind": "heartbeat", "agent": agent,
                    "camera": None, "compound": None, "fault": None, "state": None,
                    "t": it.t, "received_at": now, "confidence": None, "severity": None,
                    "evidence": None, "snapshot": None,
                })
    inserted = {r[0] for r in conn.execute(st["events"], rows)} if rows else set()

    results: list[BatchResult] = []
    fresh: list[tuple[str, StateChangeIn | HeartbeatIn]] = []
    agent_rows: dict[str, dict[str, Any]] = {}
    for agent, items in batches:
        res = BatchResult()
        for it in items:
            if it.event_id in inserted:
                inserted.discard(it.event_id)  # credit the first batch that carried it
                res.accepted.append(it.event_id)
                fresh.append((agent, it))
            else:
                res.duplicates.append(it.event_id)
        results.append(res)
        ar = agent_rows.setdefault(agent, {"id": agent, "first_seen": now,
                                           "last_contact": now, "last_heartbeat": None})
        for it in items:
            if isinstance(it, HeartbeatIn) and it.event_id in res.accepted:
                hb = ar["last_heartbeat"]
                ar["last_heartbeat"] = it.t if hb is None else max(hb, it.t)
    # Sorted keys everywhere: concurrent replicas then lock rows in the same order.
    conn.execute(st["agents"], [agent_rows[a] for a in sorted(agent_rows)])

    cams: dict[str, str] = {}
    hb_cams: dict[str, dict[str, Any]] = {}
    latest: dict[tuple[str, str], StateChangeIn] = {}
    for agent, it in fresh:
        if isinstance(it, StateChangeIn):
            cams[it.camera] = agent
            # Current fault state: the newest event per (camera, fault) wins, whatever order
            # events arrive in (an outbox replays old events after a network cut).
            key = (it.camera, it.fault)
            cur = latest.get(key)
            if cur is None or it.t >= cur.t:
                latest[key] = it
        else:
            for cam, info in it.cameras.items():
                prev = hb_cams.get(cam)
                if prev is None or it.t >= prev["_t"]:
                    hb_cams[cam] = {**info, "agent": agent, "_t": it.t}
    if cams:
        conn.execute(st["cameras"], [
            {"id": c, "compound": c.split("/", 1)[0], "agent": cams[c], "first_seen": now,
             "last_seen": now} for c in sorted(cams)
        ])
    if hb_cams:
        conn.execute(st["heartbeat_cameras"], [
            {"id": cam, "compound": cam.split("/", 1)[0], "agent": info["agent"],
             "first_seen": now, "last_seen": now, "last_frame": info["last_frame"],
             "reported_status": info["status"], "reference_image": info["reference"]}
            for cam, info in sorted(hb_cams.items())
        ])
    if latest:
        conn.execute(st["camera_faults"], [
            {"camera": sc.camera, "fault": sc.fault, "state": sc.state, "since": sc.t,
             "event_id": sc.event_id, "confidence": sc.confidence, "severity": sc.severity,
             "evidence": sc.evidence}
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
        self, agent: str, items: Sequence[StateChangeIn | HeartbeatIn]
    ) -> BatchResult:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[BatchResult] = loop.create_future()
        self._q.put((agent, items, loop, fut))
        return await fut

    def close(self) -> None:
        self._q.put(None)
        self._thread.join(timeout=10)

    @staticmethod
    def _resolve(loop: asyncio.AbstractEventLoop, fut: asyncio.Future, value: Any,
                 exc: BaseException | None) -> None:
        def _set() -> None:
            if fut.done():
                return
            if exc is not None:
                fut.set_exception(exc)
            else:
                fut.set_result(value)

        loop.call_soon_threadsafe(_set)

    def _apply(self, group: list[tuple]) -> list[BatchResult]:
        now = time.time()
        dialect = self.store.dialect
        with self.store.writing() as conn:
            return store_group(conn, dialect, [(g[0], g[1]) for g in group], now)

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
            for g, res in zip(group, results, strict=True):
                self._resolve(g[2], g[3], res, None)


def max_seq(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(events.c.seq), 0))).scalar_one())


__all__ = ["BatchResult", "IngestWriter", "max_seq", "store_batch", "store_group"]
