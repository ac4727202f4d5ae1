"""Alembic migrations for the store, driven from code (no alembic.ini needed)."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    return config


@cache
def _revision_graph(location: Path) -> dict[str, str | None]:
    """revision -> down_revision, read from the version scripts without importing alembic.

    Opening an up-to-date store is on the app's start-up path; alembic's import costs more than the
    whole check, so it is imported only when a migration is due.
    """
    graph: dict[str, str | None] = {}
    for script in sorted((location / "versions").glob("*.py")):
        values: dict[str, object] = {}
        for node in ast.parse(script.read_text(encoding="utf-8")).body:
            target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
            if isinstance(node, ast.AnnAssign) and node.value is not None:
                target = node.target
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                values[target.id] = ast.literal_eval(node.value)  # type: ignore[union-attr, arg-type]
        if "revision" in values:
            down = values.get("down_revision")
            graph[str(values["revision"])] = str(down) if down else None
    return graph


def head_revision() -> str:
    graph = _revision_graph(SCRIPT_LOCATION)
    heads = set(graph) - {down for down in graph.values() if down}
    if len(heads) != 1:
        raise RuntimeError(f"the store's migrations must have exactly one head, found {sorted(heads)}")
    return heads.pop()


def known_revisions() -> set[str]:
    return set(_revision_graph(SCRIPT_LOCATION))


def current_revision(connection: Connection) -> str | None:
    """The schema revision stamped in the database (None for a database Lantern has never opened)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


# Any fixed number: the PostgreSQL advisory lock that makes concurrent openers migrate one at a time.
MIGRATION_LOCK_KEY = 0x4C414E54


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply all pending migrations in one transaction: they all land or none does.

    Concurrent openers queue on a lock (SQLite: the write lock; PostgreSQL: an advisory lock), and
    alembic reads the schema version after taking it, so the second one finds nothing left to do.
    """
    from alembic import command

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
