"""Alembic migrations produce exactly the schema the code expects, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from collector.schema import metadata
from collector.store import alembic_config, open_store


def test_migrated_schema_matches_models(db_url):
    store = open_store(db_url, pool_size=1)
    try:
        with store.write.connect() as conn:
            ctx = MigrationContext.configure(conn)
            # The newest migration (was "0001"; a schema change adds one, so ask Alembic).
            head = ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()
            assert head is not None and ctx.get_current_revision() == head
            diff = compare_metadata(ctx, metadata)
        assert diff == [], diff
    finally:
        store.dispose()
