"""Signed webhook delivery with retries and a delivery log.

Deliveries are rows written in the same transaction as the ticket transition they announce
(an outbox), so a crash between "ticket opened" and "webhook sent" loses nothing. Any replica
may deliver: a row is claimed with a conditional UPDATE before sending, so each attempt is made
by one process only.

Deliveries for one ticket reach one endpoint in order (opened, recovered, closed); a failing
endpoint delays only its own later deliveries for that ticket.

Signature: `X-Lenswatch-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` with
`X-Lenswatch-Timestamp`; receivers should reject timestamps older than a few minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from typing import Any

import httpx
from sqlalchemy import exists, select, update

from collector.config import CollectorConfig
from collector.schema import webhook_deliveries
from collector.store import Store

log = logging.getLogger("lenswatch.collector.webhooks")

CLAIM_SECONDS = 30.0
MAX_BACKOFF = 600.0


#: `scheme://user:password@` in a URL, wherever it appears (a URL, or an error quoting one).
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s]*@")


def mask_url(text: str) -> str:
    """Replace the `user:password@` of any URL in `text` with `***@`.

    Webhook URLs may carry basic-auth credentials; they are needed to deliver, but must not
    reach the log or the delivery log API (`/v1/webhooks/deliveries`).
    """
    return _USERINFO.sub(r"\1***@", text)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def backoff(attempts: int) -> float:
    """Seconds before the next attempt: 1, 2, 4, ... capped at 10 minutes."""
    return min(MAX_BACKOFF, 2.0 ** max(0, attempts - 1))


def deliver_due(store: Store, cfg: CollectorConfig, client: httpx.Client,
                now: float | None = None, limit: int = 20) -> int:
    """Attempt every due delivery once; returns how many were attempted."""
    now = time.time() if now is None else now
    hooks = {h.url: h for h in cfg.webhooks}
    earlier = webhook_deliveries.alias("earlier")
    with store.reading() as conn:
        # Per ticket and endpoint, deliveries go out in order: "closed" never overtakes an
        # "opened" that is still being retried.
        due = conn.execute(
            select(webhook_deliveries.c.id).where(
                webhook_deliveries.c.status == "pending",
                webhook_deliveries.c.next_attempt_at <= now,
                ~exists().where(
                    earlier.c.url == webhook_deliveries.c.url,
                    earlier.c.ticket_id == webhook_deliveries.c.ticket_id,
                    earlier.c.id < webhook_deliveries.c.id,
                    earlier.c.status == "pending",
                ),
            ).order_by(webhook_deliveries.c.id).limit(limit)
        ).scalars().all()
    attempted = 0
    for did in due:
        with store.writing() as conn:
            claimed = conn.execute(
                update(webhook_deliveries).where(
                    webhook_deliveries.c.id == did,
                    webhook_deliveries.c.status == "pending",
                    (webhook_deliveries.c.claimed_until.is_(None))
                    | (webhook_deliveries.c.claimed_until < now),
                ).values(claimed_until=now + CLAIM_SECONDS)
            ).rowcount
            row = conn.execute(
                select(webhook_deliveries).where(webhook_deliveries.c.id == did)
            ).mappings().first() if claimed else None
        if not row:
            continue
        attempted += 1
        hook = hooks.get(row["url"])
        status_code: int | None = None
        error: str | None = None
        if hook is None:
            error = "webhook no longer configured"
        else:
            body = row["payload"].encode()
            ts = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "X-Lenswatch-Event": row["event"],
                "X-Lenswatch-Delivery": str(row["id"]),
                "X-Lenswatch-Timestamp": ts,
                "X-Lenswatch-Signature": sign(hook.secret, ts, body),
            }
            try:
                resp = client.post(row["url"], content=body, headers=headers)
                status_code = resp.status_code
                if not 200 <= resp.status_code < 300:
                    error = f"HTTP {resp.status_code}"
            except httpx.HTTPError as exc:
                error = mask_url(f"{exc.__class__.__name__}: {exc}")[:500]
        attempts = row["attempts"] + 1
        values: dict[str, Any] = {"attempts": attempts, "last_status": status_code,
                                  "last_error": error, "claimed_until": None}
        if error is None:
            values.update(status="delivered", delivered_at=time.time())
        elif hook is None or attempts >= hook.max_attempts:
            values["status"] = "failed"
        else:
            values["next_attempt_at"] = time.time() + backoff(attempts)
        with store.writing() as conn:
            conn.execute(update(webhook_deliveries)
                         .where(webhook_deliveries.c.id == did).values(**values))
        if error:
            log.warning("webhook delivery %s to %s failed (attempt %d): %s",
                        did, mask_url(row["url"].split("?")[0]), attempts, error)
    return attempted
