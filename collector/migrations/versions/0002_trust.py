"""compound-scoped agent tokens, token expiry, server-side browser sessions

Revision ID: 0002_trust
Revises: 0001
Create Date: 2026-11-28 09:00:00

Upgrading must not cut off an agent that is reporting today, so every existing agent token is
bound to the compounds it has already reported for (its stored state changes, and the cameras
its heartbeats named). Each binding is logged, and `lenswatch token list` shows it as bound
"at upgrade", so an admin can review it: a token that had been misused to report for another
compound is bound to that compound too, and should be replaced.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0002_trust"
down_revision = "0001"
branch_labels = None
depends_on = None

log = logging.getLogger("lenswatch.collector.migrations")


def upgrade() -> None:
    with op.batch_alter_table("tokens") as b:
        b.add_column(sa.Column("compounds", sa.Text(), nullable=True))
        b.add_column(sa.Column("compounds_origin", sa.String(length=16), nullable=True))
        b.add_column(sa.Column("expires_at", sa.Double(), nullable=True))
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(["token_id"], ["tokens.id"],
                                name=op.f("fk_sessions_token_id_tokens")),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_sessions")),
    )
    op.create_index(op.f("ix_sessions_expires_at"), "sessions", ["expires_at"])
    op.create_index(op.f("ix_sessions_token_id"), "sessions", ["token_id"])
    _bind_existing_agent_tokens()


def _bind_existing_agent_tokens() -> None:
    """Bind each agent token to the compounds its agent id has reported for, and log it."""
    conn = op.get_bind()
    tokens = sa.table("tokens", sa.column("id"), sa.column("subject"), sa.column("role"),
                      sa.column("revoked_at"), sa.column("compounds"),
                      sa.column("compounds_origin"))
    events = sa.table("events", sa.column("agent"), sa.column("compound"))
    cameras = sa.table("cameras", sa.column("agent"), sa.column("compound"))
    reported: dict[str, set[str]] = {}
    for agent, compound in conn.execute(
        sa.union(
            sa.select(events.c.agent, events.c.compound)
            .where(events.c.compound.is_not(None)).distinct(),
            sa.select(cameras.c.agent, cameras.c.compound).distinct(),
        )
    ):
        reported.setdefault(agent, set()).add(compound)
    rows = conn.execute(
        sa.select(tokens.c.id, tokens.c.subject, tokens.c.revoked_at)
        .where(tokens.c.role == "agent").order_by(tokens.c.id)).all()
    for tid, subject, revoked_at in rows:
        compounds = sorted(reported.get(subject, ()))
        conn.execute(sa.update(tokens).where(tokens.c.id == tid).values(
            compounds=" ".join(compounds), compounds_origin="upgrade"))
        if revoked_at is not None:
            continue
        if compounds:
            log.warning("upgrade: agent token %d (%s) bound to the compound(s) it has reported "
                        "for: %s. Review with `lenswatch token list`.", tid, subject,
                        ", ".join(compounds))
        else:
            log.warning("upgrade: agent token %d (%s) has reported nothing yet, so it is bound "
                        "to no compound and every event it sends will be rejected; bind it "
                        "with `lenswatch token bind %d --compound C`.", tid, subject, tid)


def downgrade() -> None:
    op.drop_index(op.f("ix_sessions_token_id"), table_name="sessions")
    op.drop_index(op.f("ix_sessions_expires_at"), table_name="sessions")
    op.drop_table("sessions")
    with op.batch_alter_table("tokens") as b:
        b.drop_column("expires_at")
        b.drop_column("compounds_origin")
        b.drop_column("compounds")
