"""Alembic migrations for the store, driven from code (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    return config


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = _scripts().get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    return {script.revision for script in _scripts().walk_revisions()}


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


# Any fixed number: the PostgreSQL advisory lock that makes concurrent openers migrate one at a time.
MIGRATION_LOCK_KEY = 0x4C414E54


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply all pending migrations in one transaction: they all land or none does.

    Concurrent openers queue on a lock (SQLite: the write lock; PostgreSQL: an advisory lock), and
    alembic reads the schema version after taking it, so the second one finds nothing left to do.
    """
    config = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            # Python's sqlite3 runs DDL outside any transaction unless told otherwise: without this
            # BEGIN a failed migration would leave half a schema behind.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        elif connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
