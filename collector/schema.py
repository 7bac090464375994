"""Table definitions (SQLAlchemy Core); the Alembic migrations are checked against them.

Times are stored as epoch seconds (double precision): the same arithmetic (time to acknowledge,
time to repair, silence) then works identically on SQLite and PostgreSQL without timezone
conversion rules that differ between the two.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: BIGINT on PostgreSQL, but INTEGER on SQLite so the column aliases the rowid.
BigId = BigInteger().with_variant(Integer(), "sqlite")

events = Table(
    "events",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("agent", String(64), nullable=False),
    Column("camera", String(128)),
    Column("compound", String(64)),
    Column("fault", String(32)),
    Column("state", String(8)),
    Column("t", Double, nullable=False),
    Column("received_at", Double, nullable=False),
    Column("confidence", Double),
    Column("severity", String(8)),
    Column("evidence", Text),
    Column("snapshot", Text),
    Index("ix_events_camera_seq", "camera", "seq"),
)

agents = Table(
    "agents",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("first_seen", Double, nullable=False),
    Column("last_contact", Double, nullable=False),
    Column("last_heartbeat", Double),
    # The agent's clock offset (receipt minus its send-time header, seconds; positive: the
    # agent's clock is behind) and when it was last measured; NULL until it sends the header.
    Column("clock_offset", Double),
    Column("clock_offset_at", Double),
)

cameras = Table(
    "cameras",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("compound", String(64), nullable=False, index=True),
    Column("agent", String(64), nullable=False, index=True),
    Column("first_seen", Double, nullable=False),
    Column("last_seen", Double, nullable=False),
    Column("last_frame", Double),
    Column("reported_status", String(32)),
    Column("reference_image", Text),
    Column("last_ticket_closed_at", Double),
    # When the stored reference picture was received (the retention sweep deletes it once
    # this is older than `picture_retention_days`); NULL when there is none.
    Column("reference_at", Double),
)

camera_faults = Table(
    "camera_faults",
    metadata,
    Column("camera", String(128), primary_key=True),
    Column("fault", String(32), primary_key=True),
    Column("state", String(8), nullable=False),
    Column("since", Double, nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("confidence", Double),
    Column("severity", String(8)),
    Column("evidence", Text),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("subject", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("revoked_at", Double),
    # Agent tokens only: the compounds (space-separated) whose cameras the agent may report
    # for, and how they were bound ("created" by `token create --compound`, "upgrade" when
    # migration 0002 bound a pre-existing token to what it had already reported for).
    Column("compounds", Text),
    Column("compounds_origin", String(16)),
    Column("expires_at", Double),
)

#: Browser sessions: the cookie holds a random session id, the database its SHA-256 (a leaked
#: backup or replica log then holds no usable session). Stored here, not in process memory, so
#: every replica knows a session and a logout ends it everywhere.
sessions = Table(
    "sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("token_id", Integer, ForeignKey("tokens.id"), nullable=False, index=True),
    Column("created_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False, index=True),
)

tickets = Table(
    "tickets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("camera", String(128), nullable=False),
    Column("compound", String(64), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("severity", String(8)),
    Column("opened_at", Double, nullable=False),
    Column("acknowledged_at", Double),
    Column("acknowledged_by", String(64)),
    Column("assignee", String(64)),
    Column("recovered_at", Double),
    Column("closed_at", Double),
    Column("closed_by", String(64)),
    Column("updated_at", Double, nullable=False),
    # At most one not-closed ticket per camera, enforced by the database so that several
    # collector replicas sweeping at once can never open two.
    Index(
        "uq_tickets_open_camera",
        "camera",
        unique=True,
        sqlite_where=text("status != 'closed'"),
        postgresql_where=text("status != 'closed'"),
    ),
)

ticket_faults = Table(
    "ticket_faults",
    metadata,
    Column("ticket_id", Integer, ForeignKey("tickets.id"), primary_key=True),
    Column("fault", String(32), primary_key=True),
    Column("raised_at", Double, nullable=False),
    Column("cleared_at", Double),
)

ticket_comments = Table(
    "ticket_comments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket_id", Integer, ForeignKey("tickets.id"), nullable=False, index=True),
    Column("author", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("at", Double, nullable=False),
)

commands = Table(
    "commands",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent", String(64), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("camera", String(128), nullable=False),
    Column("ticket_id", Integer),
    Column("created_at", Double, nullable=False),
    Column("acked_at", Double),
)

#: Every view or download of a picture (event snapshot or camera reference picture): pictures
#: of residential compounds are personal data, so who looked at which camera's picture and
#: when is kept, for admins only (GET /v1/audit/pictures; exported nowhere else).
picture_views = Table(
    "picture_views",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", Double, nullable=False, index=True),
    Column("token_id", Integer, nullable=False),
    Column("subject", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    # "bearer" (API token) or "session" (a signed-in browser: dashboard, crew board).
    Column("via", String(8), nullable=False),
    Column("kind", String(16), nullable=False),  # "snapshot" or "reference"
    Column("camera", String(128)),
    Column("event_id", String(36)),  # the snapshot's event; NULL for a reference picture
    Column("picture_at", Double),  # when the picture shown was received by the collector
    Index("ix_picture_views_camera_at", "camera", "at"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event", String(16), nullable=False),
    Column("ticket_id", Integer, nullable=False),
    Column("url", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Double, nullable=False),
    Column("claimed_until", Double),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("created_at", Double, nullable=False),
    Column("delivered_at", Double),
    Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),
)
