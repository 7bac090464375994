"""agents: clock offset measured from the send-time header

Revision ID: 0003 (after 0002_trust)
Revises: 0001
Create Date: 2026-12-05 09:45:00

Nullable columns only, so the upgrade is instant on both databases and replicas still running
the previous version keep working (they never name these columns).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002_trust"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("agents", sa.Column("clock_offset", sa.Double(), nullable=True))
    op.add_column("agents", sa.Column("clock_offset_at", sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("clock_offset_at")
        batch.drop_column("clock_offset")
