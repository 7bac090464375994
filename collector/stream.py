"""Live alert fan-out to dashboards (Server-Sent Events), correct across replicas.

Each collector process polls the shared `events` table by its `seq` column (one query per
process per poll, not per browser) and fans new state changes out to its own SSE clients. The
database is the bus: an event ingested by any replica reaches every replica's dashboards, on
SQLite and PostgreSQL alike, with no extra broker. LISTEN/NOTIFY would save the idle polls but
exists only on PostgreSQL and still needs this query to fetch the rows.

PostgreSQL hands out sequence numbers before commit, so a transaction can commit a lower `seq`
after a higher one was already seen. Gaps below the high-water mark are therefore re-checked for
a short while (they are usually just numbers burnt by `ON CONFLICT DO NOTHING`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from typing import Any

from sqlalchemy import select

from collector.ingest import max_seq
from collector.schema import events
from collector.store import Store
from contract.wire import read_stored_json

log = logging.getLogger("lenswatch.collector.stream")

GAP_RECHECK_SECONDS = 10.0
MAX_ROWS_PER_POLL = 2000
CLIENT_QUEUE = 1000

_COLS = (events.c.seq, events.c.event_id, events.c.camera, events.c.compound, events.c.fault,
         events.c.state, events.c.t, events.c.received_at, events.c.confidence,
         events.c.severity, events.c.evidence, events.c.agent,
         events.c.snapshot.is_not(None).label("has_snapshot"))


def event_row_to_dict(row: Any) -> dict[str, Any]:
    """One stored state change as the API, the stream and the pages show it.

    Evidence is re-checked on the way out: rows stored by a collector that did not yet
    refuse poisoned evidence (500 levels deep, NaN) must not fail the whole page or stream
    that holds them, so such evidence is replaced by `{}` and `evidence_error` says why."""
    # Mapping access: `Row.t` is SQLAlchemy's typed-tuple accessor, not our column "t".
    r = row._mapping
    evidence, problem = read_stored_json(r["evidence"])
    out = {
        "seq": r["seq"], "event_id": r["event_id"], "camera": r["camera"],
        "compound": r["compound"], "fault": r["fault"], "state": r["state"], "t": r["t"],
        "received_at": r["received_at"], "confidence": _finite(r["confidence"]),
        "severity": r["severity"], "evidence": evidence, "agent": r["agent"],
        "has_snapshot": bool(r["has_snapshot"]),
    }
    if problem:
        out["evidence_error"] = problem
    return out


def _finite(x: float | None) -> float | None:
    # JSON answers refuse NaN; a stored one (an older collector) is shown as null.
    return x if x is None or math.isfinite(x) else None


class Subscriber:
    def __init__(self, compound: str | None, fault: str | None) -> None:
        self.compound = compound
        self.fault = fault
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(CLIENT_QUEUE)

    def wants(self, ev: dict[str, Any]) -> bool:
        return ((self.compound is None or ev["compound"] == self.compound)
                and (self.fault is None or ev["fault"] == self.fault))


class StreamHub:
    def __init__(self, store: Store, poll_seconds: float) -> None:
        self.store = store
        self.poll_seconds = poll_seconds
        self.subscribers: set[Subscriber] = set()
        self._cursor: int | None = None
        self._gaps: dict[int, float] = {}
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._cursor = await asyncio.to_thread(self._initial_cursor)
        self._task = asyncio.create_task(self._loop(), name="stream-hub")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for s in list(self.subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                s.queue.put_nowait(None)

    def _initial_cursor(self) -> int:
        with self.store.reading() as conn:
            return max_seq(conn)

    def subscribe(self, compound: str | None, fault: str | None) -> Subscriber:
        s = Subscriber(compound, fault)
        self.subscribers.add(s)
        return s

    def unsubscribe(self, s: Subscriber) -> None:
        self.subscribers.discard(s)

    def _fetch(self) -> list[dict[str, Any]]:
        assert self._cursor is not None
        now = time.monotonic()
        self._gaps = {s: d for s, d in self._gaps.items() if d > now}
        cond = events.c.seq > self._cursor
        if self._gaps:
            cond = cond | events.c.seq.in_(list(self._gaps))
        with self.store.reading() as conn:
            rows = conn.execute(
                select(*_COLS, events.c.kind).where(cond).order_by(events.c.seq)
                .limit(MAX_ROWS_PER_POLL)
            ).all()
        out = []
        for r in rows:
            self._gaps.pop(r.seq, None)
            if r.seq > self._cursor:
                for missing in range(self._cursor + 1, min(r.seq, self._cursor + 1000)):
                    self._gaps.setdefault(missing, now + GAP_RECHECK_SECONDS)
                self._cursor = r.seq
            if r.kind == "state_change":
                out.append(event_row_to_dict(r))
        return out

    async def _loop(self) -> None:
        while True:
            try:
                if self.subscribers:
                    evs = await asyncio.to_thread(self._fetch)
                    for ev in evs:
                        for s in list(self.subscribers):
                            if s.wants(ev):
                                try:
                                    s.queue.put_nowait(ev)
                                except asyncio.QueueFull:
                                    # A stalled browser loses live events, not the server.
                                    self.subscribers.discard(s)
                else:
                    # Nobody listening: just keep the cursor current.
                    self._cursor = await asyncio.to_thread(self._initial_cursor)
                    self._gaps.clear()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a DB hiccup must not end the stream task
                log.exception("stream poll failed")
            await asyncio.sleep(self.poll_seconds)
