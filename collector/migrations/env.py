"""Alembic environment: runs on the connection the collector hands in (see store.migrate)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from collector.schema import metadata

config = context.config
target_metadata = metadata


def run_migrations() -> None:
    """Use the caller's connection so PostgreSQL advisory locks and search_path apply."""
    conn = config.attributes.get("connection")
    if conn is not None:
        context.configure(connection=conn, target_metadata=target_metadata,
                          render_as_batch=conn.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations()
