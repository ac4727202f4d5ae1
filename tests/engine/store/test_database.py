"""Opening the store: both backends, sessions, and every kind of bad database or URL."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from engine.core.device import DeviceChoice
from engine.core.errors import CorruptDatabase, DatabaseUnreachable, LanternError, StoreError
from engine.store import Store, open_store
from engine.store.models import Run

CPU = DeviceChoice("cpu", "float32", "test CPU")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _real_sqlite_db(path: Path, runs: int = 1, points: int = 3000) -> Path:
    """A closed, fully checkpointed Lantern database with some runs and metric points."""
    store = open_store(url=f"sqlite:///{path}")
    for index in range(runs):
        run_id = store.runs.create(name=f"run {index}", kind="test", config={}, device=CPU)
        store.runs.add_metrics(run_id, [("loss", step, step / 10) for step in range(points)])
    store.close()
    assert not path.with_name(path.name + "-wal").exists()  # the last connection checkpointed it
    return path


def test_both_backends_open_and_name_their_dialect(any_store: Store, backend: str) -> None:
    assert any_store.engine.dialect.name == backend
    assert any_store.is_sqlite == (backend == "sqlite")
    assert any_store.artifacts_dir.is_dir()


def test_sqlite_store_uses_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    store = open_store(url=f"sqlite:///{tmp_path / 'a.db'}")
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    store.close()


def test_sqlite_artifacts_live_beside_the_database_file(tmp_path: Path) -> None:
    store = open_store(url=f"sqlite:///{tmp_path / 'elsewhere' / 'x.db'}")
    assert store.artifacts_dir == tmp_path / "elsewhere" / "artifacts"
    store.close()


def test_default_store_is_sqlite_in_the_lantern_home(lantern_home: Path) -> None:
    store = open_store()
    assert store.is_sqlite
    assert (lantern_home / "data" / "lantern.db").is_file()
    store.close()


def test_session_commits_on_success_and_rolls_back_on_error(any_store: Store) -> None:
    with any_store.session() as session:
        session.add(Run(name="kept", kind="k", config={}, summary={}))
    with pytest.raises(RuntimeError), any_store.session() as session:
        session.add(Run(name="dropped", kind="k", config={}, summary={}))
        session.flush()
        raise RuntimeError("abort the transaction")
    assert [run.name for run in any_store.runs.list()] == ["kept"]


def test_display_url_hides_the_password(tmp_path: Path) -> None:
    store = open_store(url=f"sqlite:///{tmp_path / 'a.db'}")
    assert store.display_url == f"sqlite:///{tmp_path / 'a.db'}"
    store.close()
    store = Store("postgresql+psycopg://ann:hunter2@db.example/lantern", tmp_path, store.engine)
    assert store.display_url == "postgresql+psycopg://ann:***@db.example/lantern"


def test_a_file_name_with_uri_characters_is_checked_as_itself(tmp_path: Path) -> None:
    """'#' and '%' in the name must not make the integrity check look at another file ("odd")."""
    path = tmp_path / "odd#1%.db"
    path.write_bytes(b"this is not a database" * 10)
    with pytest.raises(CorruptDatabase) as caught:
        open_store(url=f"sqlite:///{path}")
    assert caught.value.where == str(path)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("odd")) == ["odd#1%.db"]


@pytest.mark.parametrize("damage", ["random bytes", "text file", "truncated db", "garbled middle"])
def test_a_corrupt_sqlite_file_is_refused_and_left_byte_for_byte(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "lantern.db"
    if damage == "random bytes":
        path.write_bytes(os.urandom(64 * 1024))
    elif damage == "text file":
        path.write_text("name,value\nloss,0.5\n" * 200, encoding="utf-8")
    else:
        raw = _real_sqlite_db(tmp_path / "real.db").read_bytes()
        if damage == "truncated db":
            raw = raw[: len(raw) // 2]
        else:
            middle = len(raw) // 2
            raw = raw[:middle] + os.urandom(8192) + raw[middle + 8192 :]
        path.write_bytes(raw)
    before = _sha256(path)
    with pytest.raises(CorruptDatabase) as caught:
        open_store(url=f"sqlite:///{path}")
    error = caught.value
    assert error.where == str(path)
    assert str(path) in str(error)
    assert "move the damaged file aside" in error.hint
    assert "what to do:" in str(error)
    assert _sha256(path) == before
    # The read-only check takes back the empty -wal/-shm files it made beside the damaged file.
    assert not path.with_name("lantern.db-wal").exists()
    assert not path.with_name("lantern.db-shm").exists()


def test_corrupt_database_hint_names_the_latest_backup(tmp_path: Path) -> None:
    path = tmp_path / "lantern.db"
    path.write_bytes(os.urandom(8192))
    backup = tmp_path / "lantern.db.bak-20260101-000000-before-0002"
    backup.write_bytes(b"")
    with pytest.raises(CorruptDatabase) as caught:
        open_store(url=f"sqlite:///{path}")
    assert str(backup) in caught.value.hint


def test_an_empty_file_becomes_a_new_store(tmp_path: Path) -> None:
    path = tmp_path / "lantern.db"
    path.write_bytes(b"")
    store = open_store(url=f"sqlite:///{path}")
    assert store.runs.list() == []
    store.close()


def test_unreachable_postgres_fails_fast_with_the_url_without_password() -> None:
    url = "postgresql+psycopg://nobody:s3cret@127.0.0.1:1/x"
    started = time.monotonic()
    with pytest.raises(DatabaseUnreachable) as caught:
        open_store(url=url)
    assert time.monotonic() - started < 10
    error = caught.value
    assert error.where == "postgresql+psycopg://nobody:***@127.0.0.1:1/x"
    assert "s3cret" not in str(error)
    assert "start the server or correct the URL" in error.hint
    assert isinstance(error, StoreError)


@pytest.mark.postgres
def test_a_missing_postgres_database_is_reported_as_unreachable(postgres_store_url: str) -> None:
    url = make_url(postgres_store_url).set(database="lantern_no_such_database")
    with pytest.raises(DatabaseUnreachable) as caught:
        open_store(url=url.render_as_string(hide_password=False))
    assert 'database "lantern_no_such_database" does not exist' in caught.value.what


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "://",
        "postgresql+psycopg://ann:pw@host:notaport/db",
        "postgresql+nosuchdriver://ann@host/db",
        "mysql://ann@host/db",
    ],
)
def test_a_malformed_or_unsupported_url_is_a_store_error(url: str) -> None:
    with pytest.raises(StoreError) as caught:
        open_store(url=url)
    error = caught.value
    assert type(error) is StoreError
    assert error.hint
    assert "pw@" not in str(error)  # a password never reaches a message


def test_a_url_from_the_environment_is_used_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANTERN_DATABASE_URL", "nonsense")
    with pytest.raises(StoreError, match="is not a database URL"):
        open_store()


def test_a_database_of_another_application_is_refused_and_untouched(store_url: str) -> None:
    engine = create_engine(store_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(50))"))
        connection.execute(text("INSERT INTO customers VALUES (1, 'Ada')"))
    with pytest.raises(StoreError) as caught:
        open_store(url=store_url)
    assert caught.value.what == "the database holds tables that are not Lantern's (customers)"
    assert "empty database" in caught.value.hint
    with engine.connect() as connection:
        assert inspect(connection).get_table_names() == ["customers"]
        assert connection.execute(text("SELECT name FROM customers")).scalars().all() == ["Ada"]
    engine.dispose()


def test_every_store_failure_is_a_lantern_error_with_a_hint() -> None:
    for error_type in (StoreError, DatabaseUnreachable, CorruptDatabase):
        assert issubclass(error_type, LanternError)


def test_a_readonly_look_does_not_disturb_a_live_wal_database(tmp_path: Path) -> None:
    """The integrity check runs while another connection has uncheckpointed WAL content."""
    path = _real_sqlite_db(tmp_path / "live.db", runs=1, points=10)
    writer = sqlite3.connect(path)
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("INSERT INTO workspaces (name, kind, created_at) VALUES ('w', 'general', '2026-01-01')")
    writer.commit()
    assert path.with_name("live.db-wal").stat().st_size > 0
    store = open_store(url=f"sqlite:///{path}")
    with store.session() as session:
        assert session.execute(text("SELECT name FROM workspaces")).scalars().all() == ["w"]
    store.close()
    writer.close()
