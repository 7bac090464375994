"""Bearer tokens and roles.

Tokens are 256-bit random strings shown once at creation and stored only as SHA-256 digests:
with that much entropy a slow password hash buys nothing, and a fast digest keeps a lookup to one
indexed read. The collector caches verified tokens for `auth_cache_seconds` and re-verifies the
ones in use in one query (`lookup_many`), so a revoked token stops working within that time on
every replica (collector/app.py, `_Auth`).

An agent token is bound to the compounds it may report for (`compounds`): a camera id is
"compound/camera", and an agent may say nothing about a camera of any other compound (see
`collector.scope`). A token may carry an expiry; an expired token is treated like a revoked one.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from collector.schema import tokens

ROLES: tuple[str, ...] = ("agent", "operator", "crew", "admin")
TOKEN_PREFIX = "lw_"
#: A compound id: the part of a camera id before the '/' (contract.wire.CAMERA_RE).
COMPOUND_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

#: What each role may do. Pages and endpoints name a permission, never a role, so the table
#: below is the whole policy.
PERMISSIONS: dict[str, frozenset[str]] = {
    "agent": frozenset({"ingest", "agent_commands"}),
    "operator": frozenset({"view", "tickets_read", "metrics"}),
    "crew": frozenset({"tickets_read", "tickets_write", "view_cameras"}),
    "admin": frozenset(
        {"view", "view_cameras", "tickets_read", "tickets_write", "metrics", "admin"}
    ),
}
# Operators see cameras too (the dashboard); "view" implies "view_cameras".
PERMISSIONS["operator"] = PERMISSIONS["operator"] | {"view_cameras"}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request: the token's subject (agent id or person) and role."""

    token_id: int
    subject: str
    role: str
    #: For agent tokens, the compounds whose cameras this agent may report for; empty for
    #: people (their permissions are not per compound).
    compounds: frozenset[str] = frozenset()

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, frozenset())

    def may_speak_for(self, camera: str) -> bool:
        """Whether this agent may report on (or take commands for) `camera`."""
        return camera.split("/", 1)[0] in self.compounds


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _compound_list(compounds: Iterable[str]) -> str:
    out = sorted(set(compounds))
    for c in out:
        if not COMPOUND_RE.match(c):
            raise ValueError(f"compound '{c[:70]}' is not a compound id (1-64 letters, digits, "
                             "'_', '-', '.'; the part of a camera id before '/')")
    return " ".join(out)


def create_token(conn: Connection, subject: str, role: str = "agent",
                 compounds: Iterable[str] = (), expires_days: float | None = None,
                 now: float | None = None) -> tuple[int, str]:
    """Store a new token's digest and return (id, token); the plain token exists only here.

    An agent token must name the compounds it reports for: an unbound agent token would
    either speak for every camera in town (the hole this closes) or for none (useless).
    """
    if role not in ROLES:
        raise ValueError(f"unknown role '{role}'; use one of {', '.join(ROLES)}")
    if not subject or len(subject) > 64 or any(c.isspace() for c in subject):
        raise ValueError("subject must be 1-64 characters without spaces (e.g. c0417)")
    comp = _compound_list(compounds)
    if role == "agent" and not comp:
        raise ValueError("an agent token must name the compound(s) it reports for: "
                         "--compound C (repeat for several)")
    if role != "agent" and comp:
        raise ValueError("--compound applies to agent tokens only")
    if expires_days is not None and not 0 < expires_days <= 36500:
        raise ValueError("--expires takes a number of days between 0 and 36500")
    now = time.time() if now is None else now
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    res = conn.execute(
        tokens.insert().values(
            token_hash=hash_token(token), subject=subject, role=role, created_at=now,
            compounds=comp if role == "agent" else None,
            compounds_origin="created" if role == "agent" else None,
            expires_at=None if expires_days is None else now + expires_days * 86400,
        )
    )
    return int(res.inserted_primary_key[0]), token


def bind_compounds(conn: Connection, token_id: int, compounds: Iterable[str]) -> bool:
    """Replace an agent token's compounds (e.g. after an upgrade bound it to none)."""
    comp = _compound_list(compounds)
    if not comp:
        raise ValueError("name at least one --compound")
    res = conn.execute(
        update(tokens).where(tokens.c.id == token_id, tokens.c.role == "agent",
                             tokens.c.revoked_at.is_(None))
        .values(compounds=comp, compounds_origin="created"))
    return res.rowcount == 1


def list_tokens(conn: Connection) -> list[dict]:
    """Token metadata for `token list`; never includes the digest or the token."""
    rows = conn.execute(
        select(
            tokens.c.id, tokens.c.subject, tokens.c.role, tokens.c.created_at,
            tokens.c.revoked_at, tokens.c.expires_at, tokens.c.compounds,
            tokens.c.compounds_origin,
        ).order_by(tokens.c.id)
    ).mappings()
    return [dict(r) for r in rows]


def usable_clause(now: float) -> ColumnElement[bool]:
    """Not revoked and not expired: the only tokens that authenticate."""
    return tokens.c.revoked_at.is_(None) & or_(tokens.c.expires_at.is_(None),
                                                tokens.c.expires_at > now)


def principal_of(row: object) -> Principal:
    comp = getattr(row, "compounds", None) or ""
    return Principal(row.id, row.subject, row.role,  # type: ignore[attr-defined]
                     frozenset(comp.split()))


_COLS = (tokens.c.id, tokens.c.subject, tokens.c.role, tokens.c.compounds)


def revoke_token(conn: Connection, token_id: int) -> bool:
    res = conn.execute(
        update(tokens)
        .where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
        .values(revoked_at=time.time())
    )
    return res.rowcount == 1


def lookup_many(conn: Connection, digests: list[str]) -> dict[str, Principal]:
    """Principals of the tokens (by SHA-256 digest) that exist, unrevoked and unexpired."""
    out: dict[str, Principal] = {}
    now = time.time()
    for i in range(0, len(digests), 500):
        for row in conn.execute(
            select(tokens.c.token_hash, *_COLS).where(
                tokens.c.token_hash.in_(digests[i:i + 500]), usable_clause(now))
        ):
            out[row.token_hash] = principal_of(row)
    return out


def lookup(conn: Connection, token: str) -> Principal | None:
    """The principal for a presented token, or None if unknown, revoked or expired."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = conn.execute(
        select(*_COLS).where(tokens.c.token_hash == hash_token(token),
                             usable_clause(time.time()))
    ).first()
    if row is None:
        return None
    return principal_of(row)

