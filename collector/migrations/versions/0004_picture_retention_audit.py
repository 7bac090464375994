"""pictures: reference picture receipt time (retention) and the picture view audit log

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 11:00:00

`cameras.reference_at` is nullable, so the upgrade is instant on both databases and replicas
still on the previous version keep working (they never name it). A reference picture stored
before this upgrade has no receipt time; it is given the camera's `first_seen`, the earliest
it can have arrived, so the retention sweep errs towards deleting it early, never late.
`picture_views` is a new table, invisible to older replicas (their picture views are not
audited until they are upgraded: upgrade every replica together).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite, as in collector/schema.py.
_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("cameras", sa.Column("reference_at", sa.Double(), nullable=True))
    op.execute("UPDATE cameras SET reference_at = first_seen WHERE reference_image IS NOT NULL")
    op.create_table(
        "picture_views",
        sa.Column("id", _BigId, autoincrement=True, nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("via", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("camera", sa.String(128), nullable=True),
        sa.Column("event_id", sa.String(36), nullable=True),
        sa.Column("picture_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_picture_views"),
    )
    op.create_index("ix_picture_views_at", "picture_views", ["at"])
    op.create_index("ix_picture_views_camera_at", "picture_views", ["camera", "at"])


def downgrade() -> None:
    op.drop_index("ix_picture_views_camera_at", table_name="picture_views")
    op.drop_index("ix_picture_views_at", table_name="picture_views")
    op.drop_table("picture_views")
    with op.batch_alter_table("cameras") as batch:
        batch.drop_column("reference_at")
