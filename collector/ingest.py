"""Storing validated batches: idempotent by event_id, group-committed by one writer thread.

Why one writer thread: SQLite allows one writer at a time, so many request threads each
opening a transaction only queue on the file lock (and pay a commit each). A single thread that
takes every batch waiting in the queue and commits them together turns N fsyncs into one. On
PostgreSQL the same grouping saves round trips; replicas each have their own writer and the
database's unique index on event_id keeps "stored once" true across them.
"""

from __future__ import annotations

import asyncio
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


def store_batch(
    conn: Connection, dialect: str, agent: str, items: Sequence[StateChangeIn | HeartbeatIn],
    now: float,
) -> BatchResult:
    """Apply one agent batch inside the caller's transaction; returns accepted/duplicate ids."""
    result = BatchResult()
    if not items:
        _touch_agent(conn, dialect, agent, now, None)
        return result
    rows: list[dict[str, Any]] = []
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
                "event_id": it.event_id, "kind": "heartbeat", "agent": agent, "camera": None,
                "compound": None, "fault": None, "state": None, "t": it.t,
                "received_at": now, "confidence": None, "severity": None,
                "evidence": None, "snapshot": None,
            })
    stmt = (
        _insert(dialect, events)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(events.c.event_id)
    )
    inserted = {r[0] for r in conn.execute(stmt)}
    fresh: list[StateChangeIn | HeartbeatIn] = []
    for it in items:
        if it.event_id in inserted:
            result.accepted.append(it.event_id)
            fresh.append(it)
        else:
            result.duplicates.append(it.event_id)

    hb_t = max((it.t for it in fresh if isinstance(it, HeartbeatIn)), default=None)
    _touch_agent(conn, dialect, agent, now, hb_t)

    # Cameras mentioned by fresh events or heartbeats.
    cam_rows: dict[str, dict[str, Any]] = {}
    for it in fresh:
        if isinstance(it, StateChangeIn):
            cam_rows.setdefault(it.camera, {"id": it.camera, "compound": it.compound})
    if cam_rows:
        ins = _insert(dialect, cameras).values([
            {**c, "agent": agent, "first_seen": now, "last_seen": now}
            for c in sorted(cam_rows.values(), key=lambda c: c["id"])
        ])
        conn.execute(ins.on_conflict_do_update(
            index_elements=["id"],
            set_={"last_seen": ins.excluded.last_seen, "agent": ins.excluded.agent},
        ))
    for hb in (it for it in fresh if isinstance(it, HeartbeatIn)):
        if not hb.cameras:
            continue
        hb_rows = [
            {"id": cam, "compound": cam.split("/", 1)[0], "agent": agent, "first_seen": now,
             "last_seen": now, "last_frame": info["last_frame"],
             "reported_status": info["status"], "reference_image": info["reference"]}
            for cam, info in sorted(hb.cameras.items())
        ]
        ins = _insert(dialect, cameras).values(hb_rows)
        conn.execute(ins.on_conflict_do_update(
            index_elements=["id"],
            set_={
                "last_seen": ins.excluded.last_seen,
                "agent": ins.excluded.agent,
                "last_frame": _greatest(dialect, cameras.c.last_frame, ins.excluded.last_frame),
                "reported_status": ins.excluded.reported_status,
                "reference_image": func.coalesce(
                    ins.excluded.reference_image, cameras.c.reference_image
                ),
            },
        ))

    # Current fault state: the newest event per (camera, fault) wins, whatever order the
    # events arrive in (an outbox replays old events after a network cut).
    latest: dict[tuple[str, str], StateChangeIn] = {}
    for it in fresh:
        if isinstance(it, StateChangeIn):
            key = (it.camera, it.fault)
            cur = latest.get(key)
            if cur is None or it.t >= cur.t:
                latest[key] = it
    if latest:
        ins = _insert(dialect, camera_faults).values([
            {"camera": sc.camera, "fault": sc.fault, "state": sc.state, "since": sc.t,
             "event_id": sc.event_id, "confidence": sc.confidence, "severity": sc.severity,
             "evidence": sc.evidence}
            for _, sc in sorted(latest.items())
        ])
        conn.execute(ins.on_conflict_do_update(
            index_elements=["camera", "fault"],
            set_={
                "state": ins.excluded.state, "since": ins.excluded.since,
                "event_id": ins.excluded.event_id, "confidence": ins.excluded.confidence,
                "severity": ins.excluded.severity, "evidence": ins.excluded.evidence,
            },
            where=camera_faults.c.since <= ins.excluded.since,
        ))
    return result


def _touch_agent(conn: Connection, dialect: str, agent: str, now: float,
                 hb_t: float | None) -> None:
    ins = _insert(dialect, agents).values(
        id=agent, first_seen=now, last_contact=now, last_heartbeat=hb_t
    )
    conn.execute(ins.on_conflict_do_update(
        index_elements=["id"],
        set_={
            "last_contact": ins.excluded.last_contact,
            "last_heartbeat": _greatest(
                dialect, agents.c.last_heartbeat, ins.excluded.last_heartbeat
            ),
        },
    ))


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
            return [store_batch(conn, dialect, agent, items, now)
                    for agent, items, _, _ in group]

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


__all__ = ["BatchResult", "IngestWriter", "store_batch", "max_seq"]
