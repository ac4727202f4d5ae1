"""Store fixtures on both backends (a SQLite file, a fresh schema on a real PostgreSQL server), shared by the
conftest files of tests/engine/store and tests/engine/ner, which import them (conftests cannot import each
other)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from engine.store import Store, open_store

# The same variable tests/conftest.py reads (its postgres_url()).
POSTGRES_URL_ENV = "LANTERN_TEST_POSTGRES_URL"

# Held for the whole of a PostgreSQL test, so two test sessions sharing the server (a developer's run
# next to CI, two helpers at once) take turns with the schema instead of dropping it under each other.
TEST_SCHEMA_LOCK_KEY = 0x4C544553

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


def _require_postgres_url() -> str:
    url = os.environ.get(POSTGRES_URL_ENV) or None
    if url:
        return url
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must test PostgreSQL too, but {POSTGRES_URL_ENV} is not set")
    pytest.skip(f"no PostgreSQL server: set {POSTGRES_URL_ENV} to run the PostgreSQL variant")


def reset_postgres_schema(url: str) -> None:
    """Drop everything (tables, alembic_version) so that open_store() migrates a fresh schema."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """The test server's URL with an empty schema, held under the test-session lock until the block ends."""
    url = _require_postgres_url()
    lock_engine = create_engine(url, poolclass=NullPool)
    try:
        with lock_engine.connect() as lock:
            lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": TEST_SCHEMA_LOCK_KEY})
            lock.commit()
            try:
                reset_postgres_schema(url)
                yield url
            finally:
                lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": TEST_SCHEMA_LOCK_KEY})
                lock.commit()
    finally:
        lock_engine.dispose()


@pytest.fixture
def store_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL to a store that does not exist yet: a new SQLite file, or an emptied PostgreSQL schema."""
    if backend == "sqlite":
        (tmp_path / "db").mkdir()
        yield f"sqlite:///{tmp_path / 'db' / 'lantern.db'}"
        return
    with fresh_postgres() as url:
        yield url


@pytest.fixture
def postgres_store_url() -> Iterator[str]:
    """For tests about PostgreSQL alone; mark them with pytest.mark.postgres."""
    with fresh_postgres() as url:
        yield url


@pytest.fixture
def any_store(store_url: str) -> Iterator[Store]:
    """A migrated store on each backend (SQLite and PostgreSQL)."""
    opened = open_store(url=store_url)
    yield opened
    opened.close()
