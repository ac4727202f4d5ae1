"""Open the store: check the database, back it up, apply migrations, and hand out sessions."""

from __future__ import annotations

import logging
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
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


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
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
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = connection.execute("PRAGMA quick_check").fetchone()
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise CorruptDatabase(
            f"the database file is damaged or is not a SQLite database ({exc})",
            str(path),
            _restore_hint(path),
        ) from exc
    if not row or row[0] != "ok":
        raise CorruptDatabase(
            f"the database failed its integrity check ({row[0] if row else 'no answer'})",
            str(path),
            _restore_hint(path),
        )


def _restore_hint(path: Path) -> str:
    backups = sorted(path.parent.glob(path.name + ".bak-*"))
    if backups:
        return f"restore the latest backup ({backups[-1]}) or move the damaged file aside to start afresh"
    return "move the damaged file aside (Lantern then creates a new one) or point the settings at another database"


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


def create_db_engine(url: str) -> Engine:
    """An SQLAlchemy engine for the URL, with a clear error for a malformed one."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(
            f"'{url}' is not a database URL",
            "settings: database URL / LANTERN_DATABASE_URL",
            "use sqlite:///path/to/file.db or postgresql+psycopg://user@host/dbname",
        ) from exc
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
            return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 5})
        except ModuleNotFoundError as exc:
            raise StoreError(
                f"the PostgreSQL driver is not installed ({exc.name})",
                make_url(url).render_as_string(hide_password=True),
                "pip install 'lantern-workbench[postgres]'",
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
    sqlite_path = _sqlite_path(url)
    if sqlite_path is not None:
        _check_sqlite_file(sqlite_path)
    engine = create_db_engine(url)
    shown = make_url(url).render_as_string(hide_password=True)
    try:
        with engine.connect() as connection:
            current = migrations.current_revision(connection)
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
        raise StoreError(f"the database cannot be read ({exc})", shown, "check the URL and permissions") from exc
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
        except SQLAlchemyError as exc:
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
