"""Database engines and migrations for SQLite (default) and PostgreSQL.

SQLite gets WAL (readers never wait for the single writer) and `BEGIN IMMEDIATE` on the write
engine, so a write transaction takes the lock up front instead of failing half-way with
"database is locked" when a reader upgrades. PostgreSQL needs neither.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

log = logging.getLogger("lenswatch.collector.store")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class StoreError(Exception):
    """A database URL or connection problem, phrased for the operator."""


def _normalise_url(url: str) -> str:
    # psycopg 3 is the installed driver; plain postgresql:// would ask for psycopg2.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_setup(engine: Engine, begin: str) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):  # type: ignore[no-untyped-def]
        conn.exec_driver_sql(begin)


@dataclass
class Store:
    """The read and write engines of one database (the same engine on PostgreSQL)."""

    url: str
    read: Engine
    write: Engine

    @property
    def dialect(self) -> str:
        return self.write.dialect.name

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """One write transaction, committed on success."""
        with self.write.begin() as conn:
            yield conn

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with self.read.connect() as conn:
            yield conn

    def dispose(self) -> None:
        self.read.dispose()
        if self.write is not self.read:
            self.write.dispose()


def open_store(url: str, *, pool_size: int = 10) -> Store:
    """Create engines for `url`; raises StoreError with a fix for unusable URLs."""
    url = _normalise_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(
            f"database URL is not valid ({exc}); use sqlite:///path/to/file.db or "
            "postgresql://user@host:5432/dbname"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        db = parsed.database
        if not db or db == ":memory:":
            raise StoreError("SQLite needs a file path (sqlite:///path/file.db), not memory")
        Path(db).parent.mkdir(parents=True, exist_ok=True)
        write = create_engine(url, pool_size=1, max_overflow=4)
        _sqlite_setup(write, "BEGIN IMMEDIATE")
        read = create_engine(url, pool_size=pool_size, max_overflow=10)
        _sqlite_setup(read, "BEGIN")
        return Store(url, read, write)
    if backend == "postgresql":
        engine = create_engine(
            url, pool_size=pool_size, max_overflow=10, pool_pre_ping=True
        )
        return Store(url, engine, engine)
    raise StoreError(f"unsupported database '{backend}'; use sqlite:/// or postgresql://")


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    """An Alembic Config pointing at the packaged migrations, usable from any directory."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", _normalise_url(url).replace("%", "%%"))
    return cfg


def migrate(store: Store) -> None:
    """Bring the schema to head. Replicas starting together serialise on an advisory lock."""
    from alembic import command

    cfg = alembic_config(store.url)
    with store.write.connect() as conn:
        if store.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_lock(7412300)"))
            conn.commit()
        try:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()
        finally:
            if store.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_unlock(7412300)"))
                conn.commit()


def check_connection(store: Store) -> None:
    """Fail early with a clear message instead of on the first request."""
    try:
        with store.read.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - we rephrase any driver error
        safe = make_url(store.url).render_as_string(hide_password=True)
        raise StoreError(f"cannot connect to database {safe}: {exc.__class__.__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
