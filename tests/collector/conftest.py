"""Fixtures for the collector tests: real SQLite files, a real PostgreSQL schema, real servers.

PostgreSQL is required, not optional: if it cannot be reached the PostgreSQL-parametrised tests
FAIL with a message saying how to point them at a server (LENSWATCH_TEST_PG). Each test session
works in its own uniquely named schema, dropped at the end, so engineers sharing one server do
not collide.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from collector_helpers import Env, make_tokens  # noqa: E402

from collector.app import create_app  # noqa: E402
from collector.config import load_config  # noqa: E402
from collector.schema import metadata  # noqa: E402
from collector.store import Store, migrate, open_store  # noqa: E402

PG_URL = os.environ.get(
    "LENSWATCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
ROLES = ("agent", "operator", "crew", "admin")


def pytest_configure(config: pytest.Config) -> None:
    # Starlette nags that its TestClient will move to `httpx2`; not our concern here.
    config.addinivalue_line("filterwarnings", "ignore:Using `httpx` with `starlette")


@pytest.fixture(scope="session")
def pg_schema_url() -> Iterator[str]:
    """A fresh, migrated schema on the shared PostgreSQL; fails (not skips) if unreachable."""
    schema = f"lwtest_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001
        pytest.fail(
            f"PostgreSQL is required for these tests and is not reachable at {PG_URL}: "
            f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}. Start it or set "
            "LENSWATCH_TEST_PG to a SQLAlchemy URL.", pytrace=False)
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    store = open_store(url, pool_size=2)
    migrate(store)
    store.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    store = open_store(f"sqlite:///{path}")
    migrate(store)
    store.dispose()  # the last connection to close checkpoints the WAL into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


def _truncate_pg(url: str) -> None:
    eng = create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with eng.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    eng.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A clean, migrated database of each kind; the same test body runs on both."""
    if request.param == "sqlite":
        tpl = request.getfixturevalue("sqlite_template")
        dst = tmp_path / "collector.db"
        shutil.copy(tpl, dst)
        return f"sqlite:///{dst}"
    url = request.getfixturevalue("pg_schema_url")
    _truncate_pg(url)
    return url


@pytest.fixture
def make_env(db_url: str) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    opened: list[tuple[Any, Store]] = []

    def _make(**overrides: Any) -> Env:
        overrides.setdefault("sweep_interval_seconds", 0)
        cfg = load_config(None, db=db_url, **overrides)
        store = open_store(db_url, pool_size=3)
        app = create_app(cfg, store=store, run_migrations=False)
        client = TestClient(app)
        client.__enter__()
        opened.append((client, store))
        return Env(app, client, store, make_tokens(store))

    yield _make
    for client, store in opened:
        client.__exit__(None, None, None)
        store.dispose()


@pytest.fixture
def env(make_env: Any) -> Env:
    return make_env()
