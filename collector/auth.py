"""Bearer tokens and roles.

Tokens are 256-bit random strings shown once at creation and stored only as SHA-256 digests:
with that much entropy a slow password hash buys nothing, and a fast digest keeps a lookup to one
indexed read. The collector caches verified tokens for `auth_cache_seconds` and re-verifies the
ones in use in one query (`lookup_many`), so a revoked token stops working within that time on
every replica (collector/app.py, `_Auth`).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update

from collector.schema import tokens

ROLES: tuple[str, ...] = ("agent", "operator", "crew", "admin")
TOKEN_PREFIX = "lw_"

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

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, frozenset())


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(conn: Connection, subject: str, role: str = "agent") -> tuple[int, str]:
    """Store a new token's digest and return (id, token); the plain token exists only here."""
    if role not in ROLES:
        raise ValueError(f"unknown role '{role}'; use one of {', '.join(ROLES)}")
    if not subject or len(subject) > 64 or any(c.isspace() for c in subject):
        raise ValueError("subject must be 1-64 characters without spaces (e.g. c0417)")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    res = conn.execute(
        insert(tokens).values(
            token_hash=hash_token(token), subject=subject, role=role, created_at=time.time()
        )
    )
    return int(res.inserted_primary_key[0]), token


def list_tokens(conn: Connection) -> list[dict]:
    """Token metadata for `token list`; never includes the digest or the token."""
    rows = conn.execute(
        select(
            tokens.c.id, tokens.c.subject, tokens.c.role, tokens.c.created_at,
            tokens.c.revoked_at,
        ).order_by(tokens.c.id)
    ).mappings()
    return [dict(r) for r in rows]


def revoke_token(conn: Connection, token_id: int) -> bool:
    res = conn.execute(
        update(tokens)
        .where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
        .values(revoked_at=time.time())
    )
    return res.rowcount == 1


def lookup_many(conn: Connection, digests: list[str]) -> dict[str, Principal]:
    """Principals of the tokens (by SHA-256 digest) that exist and are not revoked."""
    out: dict[str, Principal] = {}
    for i in range(0, len(digests), 500):
        for row in conn.execute(
            select(tokens.c.token_hash, tokens.c.id, tokens.c.subject, tokens.c.role).where(
                tokens.c.token_hash.in_(digests[i:i + 500]), tokens.c.revoked_at.is_(None))
        ):
            out[row.token_hash] = Principal(row.id, row.subject, row.role)
    return out


def lookup(conn: Connection, token: str) -> Principal | None:
    """The principal for a presented token, or None if unknown or revoked."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = conn.execute(
        select(tokens.c.id, tokens.c.subject, tokens.c.role).where(
            tokens.c.token_hash == hash_token(token), tokens.c.revoked_at.is_(None)
        )
    ).first()
    if row is None:
        return None
    return Principal(row.id, row.subject, row.role)
