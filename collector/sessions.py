"""Browser sessions: a random session id in the cookie, its digest and expiry in the database.

Before issue 11 the cookie *was* the person's bearer token: a copied cookie worked for as long
as the token did (for ever), and "log out" only asked the browser to forget it. Now signing in
creates a session row; the cookie carries only the random id. The row lives in the shared
database, so every replica knows the session, and logout (or the expiry, or revoking the token)
ends it everywhere at once. Only the SHA-256 of the id is stored, as for tokens.

Cookie-authenticated requests that change state must also come from the collector's own pages:
`origin_error` checks the `Origin` header (SameSite=Strict already keeps the cookie off most
cross-site requests; the Origin check also covers same-site neighbours and older browsers).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable, Mapping

from sqlalchemy import Connection, delete, insert, select

from collector.auth import Principal, principal_of, usable_clause
from collector.schema import sessions, tokens

SESSION_PREFIX = "lws_"
#: Methods that never change state; everything else is checked for its Origin.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


def create_session(conn: Connection, token_id: int, ttl_seconds: float,
                   now: float | None = None) -> tuple[str, float]:
    """A new session for a token: returns (session id for the cookie, expiry epoch s).

    A session never outlives its token's own expiry.
    """
    now = time.time() if now is None else now
    expires = now + ttl_seconds
    token_expires_at = conn.execute(
        select(tokens.c.expires_at).where(tokens.c.id == token_id)).scalar()
    if token_expires_at is not None:
        expires = min(expires, token_expires_at)
    sid = SESSION_PREFIX + secrets.token_urlsafe(32)
    conn.execute(insert(sessions).values(id_hash=_digest(sid), token_id=token_id,
                                         created_at=now, expires_at=expires))
    return sid, expires


def lookup_session(conn: Connection, sid: str, now: float | None = None) -> Principal | None:
    """The principal of a live session whose token is still usable, else None."""
    if not sid.startswith(SESSION_PREFIX) or len(sid) > 100:
        return None
    now = time.time() if now is None else now
    row = conn.execute(
        select(tokens.c.id, tokens.c.subject, tokens.c.role, tokens.c.compounds)
        .join(sessions, sessions.c.token_id == tokens.c.id)
        .where(sessions.c.id_hash == _digest(sid), sessions.c.expires_at > now,
               usable_clause(now))
    ).first()
    return None if row is None else principal_of(row)


def end_session(conn: Connection, sid: str) -> bool:
    """Logout: the session is gone for every replica."""
    return conn.execute(delete(sessions).where(sessions.c.id_hash == _digest(sid))).rowcount == 1


def prune_sessions(conn: Connection, now: float | None = None) -> int:
    """Delete expired sessions (the sweeper calls this now and then)."""
    now = time.time() if now is None else now
    return conn.execute(delete(sessions).where(sessions.c.expires_at <= now)).rowcount


def origin_error(method: str, headers: Mapping[str, str], scheme: str,
                 trusted: Iterable[str] = ()) -> str | None:
    """Why a cookie-authenticated request must be refused for its Origin, or None.

    Safe methods pass. Otherwise `Origin` must be the collector's own origin (the scheme the
    request came in on and its Host header) or one of `trusted`; a missing or `null` Origin
    is refused too, since every browser sends one on a cross-origin or same-origin POST.
    """
    if method.upper() in SAFE_METHODS:
        return None
    origin = headers.get("origin")
    host = headers.get("host", "")
    own = f"{scheme}://{host}"
    allowed = {own.lower(), *(t.rstrip("/").lower() for t in trusted)}
    if origin is None:
        return "cookie-authenticated change without an Origin header; use the collector's pages"
    if origin.lower() not in allowed:
        return (f"cookie-authenticated change from origin '{origin[:100]}' refused; only "
                "the collector's own pages may do this")
    return None
