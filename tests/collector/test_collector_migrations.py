"""Alembic migrations produce exactly the schema the code expects, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from collector.schema import metadata
from collector.store import open_store


def test_migrated_schema_matches_models(db_url):
    store = open_store(db_url, pool_size=1)
    try:
        with store.write.connect() as conn:
            ctx = MigrationContext.configure(conn)
            assert ctx.get_current_revision() == "0002_trust"
            diff = compare_metadata(ctx, metadata)
        assert diff == [], diff
    finally:
        store.dispose()
