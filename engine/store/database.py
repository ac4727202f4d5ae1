"""Open the store: check the database, back it up, apply migrations, and hand out sessions."""

from __future__ import annotations

import json
import logging
import math
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from engine.core.errors import CorruptDatabase, DatabaseUnreachable, StoreError
from engine.core.settings import Settings, load_settings

log = logging.getLogger(__name__)


class Store:
    """The one store: a database (SQLite or PostgreSQL) plus an artifacts folder.

    Reads and writes go through the repositories (`store.runs`, `store.jobs`, `store.artifacts`),
    each a small module with one job.
    """

    def __init__(self, url: str, artifacts_dir: Path, engine: Engine) -> None:
        from engine.store.artifacts import ArtifactRepository
        from engine.store.jobs import JobRepository
        from engine.store.runs import RunRepository

        self.url = url
        self.artifacts_dir = artifacts_dir
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.runs = RunRepository(self)
        self.jobs = JobRepository(self)
        self.artifacts = ArtifactRepository(self)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def display_url(self) -> str:
        """The URL with any password hidden, for messages and the title bar."""
        return make_url(self.url).render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def close(self) -> None:
        self.engine.dispose()


URL_WHERE = "settings: database URL / LANTERN_DATABASE_URL"
URL_HINT = "use sqlite:///path/to/file.db or postgresql+psycopg://user@host/dbname"


def parse_url(url: str) -> URL:
    """Parse a database URL; a malformed one (bad syntax, a port that is not a number) is a StoreError."""
    try:
        parsed = make_url(url)
        parsed.port  # noqa: B018 - make_url accepts "host:abc"; reading the port is what rejects it
    except (ArgumentError, ValueError) as exc:
        # Unparsable, so hide_password cannot help: mask whatever sits between "user:" and "@".
        masked = re.sub(r"(://[^/@:]*:)[^?]*@", r"\1***@", url)
        raise StoreError(f"'{masked}' is not a database URL ({exc})", URL_WHERE, URL_HINT) from exc
    return parsed


def _sqlite_path(url: str) -> Path | None:
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:":
        return None
    return Path(database)


def _check_sqlite_file(path: Path) -> None:
    """Refuse a file that is not a healthy SQLite database, without touching it."""
    if not path.exists() or path.stat().st_size == 0:
        return
    # A read-only look at a WAL-mode file creates empty -wal/-shm files; take back those we made.
    companions = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
    ours = [companion for companion in companions if not companion.exists()]
    try:
        # as_uri() percent-encodes '?', '#' and '%', which would otherwise cut the file name short.
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            row = connection.execute("PRAGMA quick_check").fetchone()
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        _remove_empty(ours)
        raise CorruptDatabase(
            f"the database file is damaged or is not a SQLite database ({exc})",
            str(path),
            _restore_hint(path),
        ) from exc
    if not row or row[0] != "ok":
        _remove_empty(ours)
        raise CorruptDatabase(
            f"the database failed its integrity check ({row[0] if row else 'no answer'})",
            str(path),
            _restore_hint(path),
        )


def _remove_empty(files: list[Path]) -> None:
    """Delete files our own read-only check created, unless something wrote to them since."""
    wal = [f for f in files if f.name.endswith("-wal")]
    if any(f.exists() and f.stat().st_size > 0 for f in wal):
        return
    for file in files:
        file.unlink(missing_ok=True)


def _restore_hint(path: Path) -> str:
    backups = sorted(path.parent.glob(path.name + ".bak-*"))
    if backups:
        return f"restore the latest backup ({backups[-1]}) or move the damaged file aside to start afresh"
    return (
        "move the damaged file aside (Lantern then creates a new one) "
        "or point the settings at another database"
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        # WAL lets engine processes write metrics while the GUI reads; the busy timeout rides out
        # short write locks instead of failing.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


def _finite_json(value: Any) -> Any:
    """NaN and infinities as strings: PostgreSQL's JSON has no such numbers (SQLite's Python JSON does)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {key: _finite_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_json(item) for item in value]
    return value


_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _restore_non_finite(value: Any) -> Any:
    if isinstance(value, str):
        return _NON_FINITE.get(value, value)
    if isinstance(value, dict):
        return {key: _restore_non_finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_restore_non_finite(item) for item in value]
    return value


def _json_dumps(value: Any) -> str:
    return json.dumps(_finite_json(value))


def _json_loads(text: str) -> Any:
    return _restore_non_finite(json.loads(text))


def create_db_engine(url: str) -> Engine:
    """An SQLAlchemy engine for the URL, with a clear error for a malformed one."""
    parsed = parse_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = _sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        _configure_sqlite(engine)
        return engine
    if backend == "postgresql":
        try:
            return create_engine(
                url,
                pool_pre_ping=True,
                connect_args={"connect_timeout": 5},
                json_serializer=_json_dumps,
                json_deserializer=_json_loads,
            )
        except ModuleNotFoundError as exc:
            raise StoreError(
                f"the PostgreSQL driver is not installed ({exc.name})",
                parsed.render_as_string(hide_password=True),
                "pip install 'lantern-workbench[postgres]'",
            ) from exc
        except NoSuchModuleError as exc:
            raise StoreError(
                f"the database driver '{parsed.drivername}' is not known",
                parsed.render_as_string(hide_password=True),
                "use postgresql+psycopg:// (with the psycopg package installed)",
            ) from exc
    raise StoreError(
        f"database backend '{backend}' is not supported",
        parsed.render_as_string(hide_password=True),
        "use SQLite (the default) or PostgreSQL",
    )


def backup_sqlite(path: Path, tag: str) -> Path:
    """Copy a live SQLite database (WAL included) beside itself with the sqlite3 backup API."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.bak-{stamp}-{tag}")
    source = sqlite3.connect(str(path))
    try:
        destination = sqlite3.connect(str(target))
        try:
            source.backup(destination)
        finally:
            destination.close()
    finally:
        source.close()
    return target


def open_store(settings: Settings | None = None, url: str | None = None, migrate: bool = True) -> Store:
    """Open the configured store, backing up and migrating it first when its schema is behind.

    Raises a StoreError subclass (corrupt file, unreachable server, bad URL) that says what to do;
    a failure leaves the stored data as it was.
    """
    from engine.store import migrations

    settings = settings or load_settings()
    url = url or settings.resolved_database_url()
    shown = parse_url(url).render_as_string(hide_password=True)
    sqlite_path = _sqlite_path(url)
    if sqlite_path is not None:
        _check_sqlite_file(sqlite_path)
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            current = migrations.current_revision(connection)
            tables = inspect(connection).get_table_names() if current is None else []
            foreign = sorted(set(tables) - {"alembic_version"})
    except OperationalError as exc:
        engine.dispose()
        if sqlite_path is not None:
            raise StoreError(
                f"the SQLite database cannot be opened ({exc.orig})",
                str(sqlite_path),
                "check that the folder exists and is writable",
            ) from exc
        raise DatabaseUnreachable(
            f"the database server does not answer ({str(exc.orig).strip().splitlines()[0]})",
            shown,
            "start the server or correct the URL in Settings (or LANTERN_DATABASE_URL); "
            "unset it to use the embedded SQLite store",
        ) from exc
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(
            f"the database cannot be read ({exc})", shown, "check the URL and permissions"
        ) from exc
    if foreign:
        engine.dispose()
        listed = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise StoreError(
            f"the database holds tables that are not Lantern's ({listed})",
            str(sqlite_path) if sqlite_path is not None else shown,
            "point Lantern at an empty database or at one it created; it leaves this one alone",
        )
    head = migrations.head_revision()
    if migrate and current != head:
        if current is not None and current not in migrations.known_revisions():
            engine.dispose()
            raise StoreError(
                f"the database schema ({current}) is newer than this Lantern knows",
                shown,
                "upgrade Lantern, or open another database",
            )
        if sqlite_path is not None and sqlite_path.exists() and current is not None:
            backup = backup_sqlite(sqlite_path, f"before-{head}")
            log.info("backed up %s to %s before migrating %s -> %s", sqlite_path, backup, current, head)
        try:
            migrations.upgrade(engine)
        except Exception as exc:  # any failure inside a migration rolls it back; report it the same way
            engine.dispose()
            raise StoreError(
                f"migrating the database to {head} failed ({exc})",
                shown,
                "the database was left as it was; report this with the log file",
            ) from exc
    artifacts_dir = settings.artifacts_dir()
    if sqlite_path is not None:
        # Artifacts live beside a SQLite file so that a database and its files travel together.
        artifacts_dir = sqlite_path.parent / "artifacts"
        artifacts_dir.mkdir(parents=True, exist_ok=True)
    return Store(url, artifacts_dir, engine)
