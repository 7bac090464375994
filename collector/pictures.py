"""Pictures are personal data: retention of snapshots and reference pictures, and the audit log
of who viewed them.

Event snapshots and camera reference pictures show residents of the compounds. They are kept
for `picture_retention_days` after the collector received them, then deleted by the retention
sweep (the event or camera row stays; only the picture goes, so tickets, reports and fault
history are unaffected). Every time the collector serves a picture, one row is written to
`picture_views` first: no audit row, no picture. Admins list that log through
GET /v1/audit/pictures; it is deliberately not in /metrics, the stream, CSV or reports.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, select, update

from collector.auth import Principal
from collector.schema import cameras, events, picture_views


def sweep_pictures(conn: Connection, retention_days: float,
                   now: float | None = None) -> dict[str, int]:
    """Delete the pictures received more than `retention_days` before `now`.

    Snapshots are timed by the event's receipt (`received_at`), not the agent's stamp: a wrong
    agent clock must not make a picture live longer (or vanish at once). Returns how many
    snapshots and reference pictures were deleted.
    """
    now = time.time() if now is None else now
    cutoff = now - retention_days * 86400
    snaps = conn.execute(
        update(events).where(events.c.snapshot.is_not(None), events.c.received_at < cutoff)
        .values(snapshot=None)).rowcount
    # A reference without a receipt time cannot come from this version (ingest and migration
    # 0004 both set it); treated as expired rather than kept for ever.
    refs = conn.execute(
        update(cameras).where(cameras.c.reference_image.is_not(None),
                              (cameras.c.reference_at < cutoff)
                              | cameras.c.reference_at.is_(None))
        .values(reference_image=None, reference_at=None)).rowcount
    return {"snapshots_deleted": int(snaps or 0), "references_deleted": int(refs or 0)}


def record_view(conn: Connection, who: Principal, via: str, kind: str, camera: str | None,
                event_id: str | None, picture_at: float | None,
                now: float | None = None) -> None:
    """Write one audit row for a picture about to be served (in the caller's transaction)."""
    conn.execute(picture_views.insert().values(
        at=time.time() if now is None else now, token_id=who.token_id,
        subject=who.subject[:64], role=who.role, via=via, kind=kind,
        camera=camera, event_id=event_id, picture_at=picture_at))


def list_views(conn: Connection, camera: str | None, subject: str | None,
               since: float | None, limit: int) -> list[dict[str, Any]]:
    """The newest audit rows first, optionally for one camera, one viewer, or since a time."""
    q = select(picture_views.c.id, picture_views.c.at, picture_views.c.subject,
               picture_views.c.role, picture_views.c.via, picture_views.c.kind,
               picture_views.c.camera, picture_views.c.event_id, picture_views.c.picture_at)
    if camera is not None:
        q = q.where(picture_views.c.camera == camera)
    if subject is not None:
        q = q.where(picture_views.c.subject == subject)
    if since is not None:
        q = q.where(picture_views.c.at >= since)
    rows = conn.execute(q.order_by(picture_views.c.id.desc()).limit(limit)).mappings()
    return [dict(r) for r in rows]
