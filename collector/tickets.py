"""Turning long-lived faults into crew tickets, and the ticket lifecycle.

One ticket per camera, not per event: crews fix cameras, not alerts. All state transitions
happen through conditional UPDATEs (`... WHERE status = 'open'`) or inserts guarded by the
partial unique index on open tickets, so several collector replicas may run the sweeper at the
same moment and each transition (and its webhook) still happens exactly once.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from collector.config import CollectorConfig
from collector.schema import (
    camera_faults,
    cameras,
    commands,
    ticket_comments,
    ticket_faults,
    tickets,
    webhook_deliveries,
)

OPEN_STATUSES = ("open", "acknowledged", "recovered")
SEVERITY_RANK = {"critical": 0, "major": 1, "minor": 2}


class TicketError(Exception):
    """A ticket action that cannot be done, with the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _ins(dialect: str, table):  # type: ignore[no-untyped-def]
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def ticket_dict(conn: Connection, ticket_id: int, *, comments: bool = False) -> dict[str, Any]:
    row = conn.execute(select(tickets).where(tickets.c.id == ticket_id)).mappings().first()
    if row is None:
        raise TicketError(404, f"no ticket {ticket_id}")
    out = dict(row)
    out["faults"] = [
        dict(r) for r in conn.execute(
            select(ticket_faults.c.fault, ticket_faults.c.raised_at, ticket_faults.c.cleared_at)
            .where(ticket_faults.c.ticket_id == ticket_id).order_by(ticket_faults.c.fault)
        ).mappings()
    ]
    if comments:
        out["comments"] = [
            dict(r) for r in conn.execute(
                select(ticket_comments.c.author, ticket_comments.c.body, ticket_comments.c.at)
                .where(ticket_comments.c.ticket_id == ticket_id).order_by(ticket_comments.c.id)
            ).mappings()
        ]
    return out


def list_tickets(
    conn: Connection, *, compound: str | None = None, status: str | None = None,
    fault: str | None = None, limit: int = 500,
) -> list[dict[str, Any]]:
    q = select(tickets)
    if compound:
        q = q.where(tickets.c.compound == compound)
    if status == "active":
        q = q.where(tickets.c.status != "closed")
    elif status:
        q = q.where(tickets.c.status == status)
    if fault:
        q = q.where(tickets.c.id.in_(
            select(ticket_faults.c.ticket_id).where(ticket_faults.c.fault == fault)
        ))
    rows = [dict(r) for r in conn.execute(
        q.order_by(tickets.c.opened_at.desc(), tickets.c.id.desc()).limit(limit)
    ).mappings()]
    if rows:
        by_id: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for r in conn.execute(
            select(ticket_faults).where(ticket_faults.c.ticket_id.in_([t["id"] for t in rows]))
            .order_by(ticket_faults.c.fault)
        ).mappings():
            by_id[r["ticket_id"]].append(
                {"fault": r["fault"], "raised_at": r["raised_at"], "cleared_at": r["cleared_at"]}
            )
        for t in rows:
            t["faults"] = by_id.get(t["id"], [])
    return rows


def _enqueue_webhooks(conn: Connection, cfg: CollectorConfig, event: str, ticket_id: int,
                      now: float) -> None:
    hooks = [h for h in cfg.webhooks if event in h.events]
    if not hooks:
        return
    body = {"event": event, "ticket": ticket_dict(conn, ticket_id), "sent_at": now}
    payload = json.dumps(body, separators=(",", ":"), sort_keys=True)
    conn.execute(insert(webhook_deliveries), [
        {"event": event, "ticket_id": ticket_id, "url": h.url, "payload": payload,
         "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}
        for h in hooks
    ])


def sweep(conn: Connection, dialect: str, cfg: CollectorConfig,
          now: float | None = None) -> dict[str, int]:
    """One pass of the ticket rules; safe to run concurrently on several replicas."""
    now = time.time() if now is None else now
    counts = {"opened": 0, "attached": 0, "recovered": 0, "reopened": 0, "closed": 0}
    cutoff = now - cfg.tickets.open_after_seconds
    # 1. Raised long enough (counted from the later of raise and last ticket close).
    # Faults already on a not-closed ticket and not cleared there need nothing.
    on_ticket = (
        select(ticket_faults.c.fault)
        .join(tickets, tickets.c.id == ticket_faults.c.ticket_id)
        .where(tickets.c.camera == camera_faults.c.camera,
               tickets.c.status != "closed",
               ticket_faults.c.fault == camera_faults.c.fault,
               ticket_faults.c.cleared_at.is_(None))
    )
    due = conn.execute(
        select(camera_faults.c.camera, camera_faults.c.fault, camera_faults.c.since,
               camera_faults.c.severity, cameras.c.compound)
        .join(cameras, cameras.c.id == camera_faults.c.camera)
        .where(
            camera_faults.c.state == "raised",
            camera_faults.c.since <= cutoff,
            or_(cameras.c.last_ticket_closed_at.is_(None),
                cameras.c.last_ticket_closed_at <= cutoff),
            ~on_ticket.exists(),
        )
    ).all()
    by_cam: dict[str, list[Any]] = defaultdict(list)
    for r in due:
        by_cam[r.camera].append(r)
    if by_cam:
        open_rows = conn.execute(
            select(tickets.c.id, tickets.c.camera).where(
                tickets.c.status != "closed", tickets.c.camera.in_(list(by_cam))
            )
        ).all()
        open_by_cam = {r.camera: r.id for r in open_rows}
        for cam in sorted(by_cam):
            faults = by_cam[cam]
            tid = open_by_cam.get(cam)
            if tid is None:
                sev = min((f.severity or "minor" for f in faults),
                          key=lambda s: SEVERITY_RANK.get(s, 9))
                stmt = _ins(dialect, tickets).values(
                    camera=cam, compound=faults[0].compound, status="open", severity=sev,
                    opened_at=now, updated_at=now,
                ).on_conflict_do_nothing(
                    index_elements=["camera"], index_where=text("status != 'closed'")
                ).returning(tickets.c.id)
                tid = conn.execute(stmt).scalar()
                if tid is None:  # another replica opened it a moment ago
                    tid = conn.execute(select(tickets.c.id).where(
                        tickets.c.camera == cam, tickets.c.status != "closed")).scalar()
                    if tid is None:
                        continue
                else:
                    counts["opened"] += 1
                    _attach(conn, dialect, tid, faults)
                    _enqueue_webhooks(conn, cfg, "opened", tid, now)
                    continue
            counts["attached"] += _attach(conn, dialect, tid, faults)
    # 2. Faults that cleared.
    open_faults = conn.execute(
        select(ticket_faults.c.ticket_id, ticket_faults.c.fault, camera_faults.c.since)
        .join(tickets, tickets.c.id == ticket_faults.c.ticket_id)
        .join(camera_faults, and_(camera_faults.c.camera == tickets.c.camera,
                                  camera_faults.c.fault == ticket_faults.c.fault))
        .where(tickets.c.status != "closed", ticket_faults.c.cleared_at.is_(None),
               camera_faults.c.state == "cleared")
    ).all()
    for r in open_faults:
        conn.execute(update(ticket_faults).where(
            ticket_faults.c.ticket_id == r.ticket_id, ticket_faults.c.fault == r.fault,
            ticket_faults.c.cleared_at.is_(None),
        ).values(cleared_at=r.since))
    # 3. All faults cleared -> recovered; a fault back -> reopened.
    uncleared = (
        select(ticket_faults.c.ticket_id)
        .where(ticket_faults.c.cleared_at.is_(None))
        .scalar_subquery()
    )
    for (tid,) in conn.execute(select(tickets.c.id).where(
        tickets.c.status.in_(("open", "acknowledged")), tickets.c.id.not_in(uncleared)
    )).all():
        last_clear = conn.execute(select(func.max(ticket_faults.c.cleared_at)).where(
            ticket_faults.c.ticket_id == tid)).scalar()
        res = conn.execute(update(tickets).where(
            tickets.c.id == tid, tickets.c.status.in_(("open", "acknowledged"))
        ).values(status="recovered", recovered_at=last_clear or now, updated_at=now))
        if res.rowcount:
            counts["recovered"] += 1
            _enqueue_webhooks(conn, cfg, "recovered", tid, now)
    for (tid, acked) in conn.execute(select(tickets.c.id, tickets.c.acknowledged_at).where(
        tickets.c.status == "recovered", tickets.c.id.in_(uncleared)
    )).all():
        res = conn.execute(update(tickets).where(
            tickets.c.id == tid, tickets.c.status == "recovered"
        ).values(status="acknowledged" if acked else "open", recovered_at=None, updated_at=now))
        counts["reopened"] += res.rowcount
    # 4. Auto-close after staying clear.
    ac = cfg.tickets.auto_close_after_seconds
    if ac is not None:
        for (tid, cam) in conn.execute(select(tickets.c.id, tickets.c.camera).where(
            tickets.c.status == "recovered", tickets.c.recovered_at <= now - ac
        )).all():
            if _close(conn, cfg, tid, cam, "auto", now):
                counts["closed"] += 1
    return counts


def _attach(conn: Connection, dialect: str, tid: int, faults: list[Any]) -> int:
    n = 0
    for f in faults:
        ins = _ins(dialect, ticket_faults).values(
            ticket_id=tid, fault=f.fault, raised_at=f.since, cleared_at=None
        )
        res = conn.execute(ins.on_conflict_do_update(
            index_elements=["ticket_id", "fault"],
            set_={"cleared_at": None, "raised_at": ins.excluded.raised_at},
            where=ticket_faults.c.cleared_at.is_not(None),
        ).returning(ticket_faults.c.fault))
        n += len(res.all())
    return n


def _close(conn: Connection, cfg: CollectorConfig, tid: int, camera: str, by: str,
           now: float) -> bool:
    res = conn.execute(update(tickets).where(
        tickets.c.id == tid, tickets.c.status != "closed"
    ).values(status="closed", closed_at=now, closed_by=by, updated_at=now))
    if not res.rowcount:
        return False
    conn.execute(update(cameras).where(cameras.c.id == camera).values(
        last_ticket_closed_at=now))
    _enqueue_webhooks(conn, cfg, "closed", tid, now)
    return True


def _get_open(conn: Connection, tid: int) -> Any:
    row = conn.execute(select(tickets).where(tickets.c.id == tid)).first()
    if row is None:
        raise TicketError(404, f"no ticket {tid}; list tickets with GET /v1/tickets")
    if row.status == "closed":
        raise TicketError(409, f"ticket {tid} is already closed")
    return row


def acknowledge(conn: Connection, tid: int, who: str, now: float | None = None) -> None:
    now = time.time() if now is None else now
    row = _get_open(conn, tid)
    values: dict[str, Any] = {"updated_at": now}
    if row.acknowledged_at is None:
        values.update(acknowledged_at=now, acknowledged_by=who)
    if row.status == "open":
        values["status"] = "acknowledged"
    conn.execute(update(tickets).where(tickets.c.id == tid).values(**values))


def assign(conn: Connection, tid: int, assignee: str, now: float | None = None) -> None:
    now = time.time() if now is None else now
    _get_open(conn, tid)
    conn.execute(update(tickets).where(tickets.c.id == tid).values(
        assignee=assignee, updated_at=now))


def comment(conn: Connection, tid: int, who: str, body: str, now: float | None = None) -> None:
    now = time.time() if now is None else now
    row = conn.execute(select(tickets.c.id).where(tickets.c.id == tid)).first()
    if row is None:
        raise TicketError(404, f"no ticket {tid}")
    conn.execute(insert(ticket_comments).values(ticket_id=tid, author=who, body=body, at=now))
    conn.execute(update(tickets).where(tickets.c.id == tid).values(updated_at=now))


def close(conn: Connection, cfg: CollectorConfig, tid: int, who: str, *,
          note: str | None = None, reset_baseline: bool = False,
          now: float | None = None) -> int | None:
    """Close a ticket; optionally queue a baseline reset for the camera's agent."""
    now = time.time() if now is None else now
    row = _get_open(conn, tid)
    if note:
        comment(conn, tid, who, note, now)
    if not _close(conn, cfg, tid, row.camera, who, now):
        raise TicketError(409, f"ticket {tid} is already closed")
    if not reset_baseline:
        return None
    agent = conn.execute(select(cameras.c.agent).where(cameras.c.id == row.camera)).scalar()
    if agent is None:
        return None
    res = conn.execute(insert(commands).values(
        agent=agent, kind="reset_baseline", camera=row.camera, ticket_id=tid, created_at=now))
    return int(res.inserted_primary_key[0])


CSV_COLUMNS = ("id", "compound", "camera", "status", "severity", "faults", "opened_at",
               "acknowledged_at", "acknowledged_by", "assignee", "recovered_at", "closed_at",
               "closed_by")


def _iso(ts: float | None) -> str:
    if ts is None:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


#: A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets
#: (`=cmd|' /C calc'!A0`, `@SUM(...)`, `+`/`-` expressions; tab and CR are folded into them).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """Neutralise text a spreadsheet would run as a formula by prefixing an apostrophe.

    Assignees, closers and camera ids are typed by people or sent by agents, and the export
    is opened in spreadsheets by contractors: the OWASP "CSV injection" rule. Numbers pass.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def export_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    # CRLF as RFC 4180 says: the writer quotes a field holding any line-terminator character,
    # and with "\n" alone a CR inside a name went out unquoted and split the row.
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for t in rows:
        w.writerow(csv_cell(v) for v in [
            t["id"], t["compound"], t["camera"], t["status"], t["severity"] or "",
            ";".join(f["fault"] for f in t["faults"]), _iso(t["opened_at"]),
            _iso(t["acknowledged_at"]), t["acknowledged_by"] or "", t["assignee"] or "",
            _iso(t["recovered_at"]), _iso(t["closed_at"]), t["closed_by"] or "",
        ])
    return buf.getvalue()


def maintenance_report(conn: Connection, compound: str | None = None,
                       since: float | None = None) -> list[dict[str, Any]]:
    """Per compound: open tickets, cameras down, mean time to acknowledge and to repair."""
    q = select(tickets)
    if compound:
        q = q.where(tickets.c.compound == compound)
    if since is not None:
        q = q.where(tickets.c.opened_at >= since)
    per: dict[str, dict[str, Any]] = defaultdict(lambda: {
        "open_tickets": 0, "tickets": 0, "_tta": [], "_ttr": [], "cameras_down": 0,
    })
    for t in conn.execute(q).mappings():
        p = per[t["compound"]]
        p["tickets"] += 1
        if t["status"] != "closed":
            p["open_tickets"] += 1
        if t["acknowledged_at"] is not None:
            p["_tta"].append(t["acknowledged_at"] - t["opened_at"])
        repaired = t["recovered_at"] or (t["closed_at"] if t["status"] == "closed" else None)
        if repaired is not None:
            p["_ttr"].append(max(0.0, repaired - t["opened_at"]))
    down_q = select(cameras.c.compound, func.count(func.distinct(camera_faults.c.camera))).join(
        camera_faults, camera_faults.c.camera == cameras.c.id
    ).where(camera_faults.c.state == "raised").group_by(cameras.c.compound)
    if compound:
        down_q = down_q.where(cameras.c.compound == compound)
    for comp, n in conn.execute(down_q).all():
        per[comp]["cameras_down"] = int(n)
    out = []
    for comp in sorted(per):
        p = per[comp]
        tta, ttr = p.pop("_tta"), p.pop("_ttr")
        out.append({
            "compound": comp, **p,
            "mean_time_to_acknowledge_s": round(sum(tta) / len(tta), 1) if tta else None,
            "mean_time_to_repair_s": round(sum(ttr) / len(ttr), 1) if ttr else None,
        })
    return out
