"""Migrations: applied when a store opens, never twice, atomic, refused when newer, backed up on SQLite."""

from __future__ import annotations

import multiprocessing
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

from engine.core.device import DeviceChoice
from engine.core.errors import StoreError
from engine.store import Store, migrations, open_store
from engine.store.database import backup_sqlite
from engine.store.models import Base

CPU = DeviceChoice("cpu", "float32", "test CPU")
HEAD = migrations.head_revision()  # the newest revision in engine/store/migrations/versions
NEXT = "0900"  # a test-only revision after HEAD

TEST_REVISION = '''"""test-only second revision"""

import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = "{down_revision}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("test_notes", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("text", sa.Text))
    op.execute("INSERT INTO test_notes (id, text) VALUES (1, 'migrated')")
    {failure}


def downgrade() -> None:
    op.drop_table("test_notes")
'''


def _version(store_or_url: Store | str) -> list[str]:
    engine = store_or_url.engine if isinstance(store_or_url, Store) else create_engine(store_or_url)
    with engine.connect() as connection:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if not isinstance(store_or_url, Store):
        engine.dispose()
    return versions


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    with engine.connect() as connection:
        names = set(inspect(connection).get_table_names())
    engine.dispose()
    return names


def _backups(url: str) -> list[Path]:
    if not url.startswith("sqlite"):
        return []
    path = Path(url.removeprefix("sqlite:///"))
    return sorted(path.parent.glob(path.name + ".bak-*"))


@pytest.fixture
def newer_head(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Point the store at a copy of its migrations plus a real revision NEXT (optionally failing)."""

    def install(fail: bool = False) -> str:
        location = tmp_path / f"migrations-with-{NEXT}"
        shutil.copytree(migrations.SCRIPT_LOCATION, location, ignore=shutil.ignore_patterns("__pycache__"))
        failure = f'raise RuntimeError("{NEXT} cannot convert a row")' if fail else "pass"
        (location / "versions" / f"{NEXT}_test_notes.py").write_text(
            TEST_REVISION.format(failure=failure, revision=NEXT, down_revision=HEAD), encoding="utf-8"
        )
        monkeypatch.setattr(migrations, "SCRIPT_LOCATION", location)
        assert migrations.head_revision() == NEXT
        return NEXT

    return install


def test_a_new_store_is_migrated_to_head(any_store: Store) -> None:
    assert migrations.head_revision() == HEAD
    assert _version(any_store) == [migrations.head_revision()]
    with any_store.engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


def test_the_migrated_schema_matches_the_models(any_store: Store) -> None:
    """Autogenerate finds nothing to do: the migration files and models.py describe the same schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with any_store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_reopening_does_not_migrate_again_or_lose_data(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(url=store_url)
    run_id = store.runs.create(name="kept", kind="test", config={"lr": 0.1}, device=CPU)
    store.runs.add_metrics(run_id, [("loss", 1, 0.5)])
    store.close()

    def no_upgrade(engine: object, revision: str = "head") -> None:
        raise AssertionError("an up-to-date store must not be migrated again")

    monkeypatch.setattr(migrations, "upgrade", no_upgrade)
    for _ in range(2):
        store = open_store(url=store_url)
        assert store.runs.get(run_id).config == {"lr": 0.1}
        assert store.runs.metrics(run_id)["loss"].values == [0.5]
        store.close()
    assert _version(store_url) == [HEAD]
    assert _backups(store_url) == []


def test_a_newer_schema_is_refused_and_left_untouched(store_url: str, backend: str) -> None:
    store = open_store(url=store_url)
    run_id = store.runs.create(name="from the future", kind="test", config={}, device=CPU)
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    store.close()
    path = Path(store_url.removeprefix("sqlite:///"))
    before = path.read_bytes() if backend == "sqlite" else b""
    with pytest.raises(StoreError) as caught:
        open_store(url=store_url)
    assert "(0099) is newer than this Lantern knows" in caught.value.what
    assert "upgrade Lantern" in caught.value.hint
    assert _version(store_url) == ["0099"]
    if backend == "sqlite":
        assert path.read_bytes() == before
        assert _backups(store_url) == []
    store = open_store(url=store_url, migrate=False)
    assert store.runs.get(run_id).name == "from the future"
    store.close()


def test_an_older_store_is_backed_up_then_migrated_keeping_its_data(
    store_url: str,
    backend: str,
    newer_head,  # type: ignore[no-untyped-def]
) -> None:
    store = open_store(url=store_url)
    run_id = store.runs.create(name=f"before {NEXT}", kind="test", config={}, device=CPU)
    store.close()
    newer_head()
    store = open_store(url=store_url)
    assert _version(store) == [NEXT]
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT text FROM test_notes")).scalars().all() == ["migrated"]
    assert store.runs.get(run_id).name == f"before {NEXT}"
    store.close()
    if backend == "sqlite":
        [backup] = _backups(store_url)
        assert backup.name.endswith(f"-before-{NEXT}")
        copy = sqlite3.connect(backup)
        assert copy.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD,)]
        assert copy.execute("SELECT name FROM runs").fetchall() == [(f"before {NEXT}",)]
        copy.close()
    # A second opening finds nothing to do and makes no second backup.
    open_store(url=store_url).close()
    assert len(_backups(store_url)) == (1 if backend == "sqlite" else 0)


def test_a_new_database_is_migrated_straight_to_head_without_a_backup(
    store_url: str,
    newer_head,  # type: ignore[no-untyped-def]
) -> None:
    newer_head()
    store = open_store(url=store_url)
    assert _version(store) == [NEXT]
    store.close()
    assert _backups(store_url) == []


def test_a_failed_migration_rolls_back_completely(
    store_url: str,
    backend: str,
    newer_head,  # type: ignore[no-untyped-def]
) -> None:
    store = open_store(url=store_url)
    run_id = store.runs.create(name="survivor", kind="test", config={}, device=CPU)
    store.close()
    newer_head(fail=True)
    with pytest.raises(StoreError) as caught:
        open_store(url=store_url)
    assert f"migrating the database to {NEXT} failed" in caught.value.what
    assert f"{NEXT} cannot convert a row" in caught.value.what
    assert "left as it was" in caught.value.hint
    # All of the new revision or none of it: its table (created before the failure) is gone again.
    assert "test_notes" not in _tables(store_url)
    assert _version(store_url) == [HEAD]
    store = open_store(url=store_url, migrate=False)
    assert store.runs.get(run_id).name == "survivor"
    store.close()
    if backend == "sqlite":
        assert len(_backups(store_url)) == 1


def _open_and_report(url: str, barrier: Any) -> None:
    barrier.wait(timeout=60)
    store = open_store(url=url)
    store.runs.list()
    store.close()


def test_two_processes_opening_a_new_database_at_once_both_succeed(store_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    workers = [context.Process(target=_open_and_report, args=(store_url, barrier)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0, 0]
    assert _version(store_url) == [HEAD]


def test_backup_sqlite_copies_a_live_database_including_its_wal(tmp_path: Path) -> None:
    path = tmp_path / "live.db"
    store = open_store(url=f"sqlite:///{path}")
    store.runs.create(name="checkpointed", kind="test", config={}, device=CPU)
    store.close()
    writer = sqlite3.connect(path)
    writer.execute("PRAGMA wal_autocheckpoint=0")  # keep the next rows in the WAL only
    writer.execute(
        "INSERT INTO runs (name, kind, config, device, device_name, dtype, status, summary, created_at) "
        "VALUES ('only in the wal', 'test', '{}', 'cpu', '', 'float32', 'running', '{}', '2026-01-01')"
    )
    writer.commit()
    assert path.with_name("live.db-wal").stat().st_size > 0

    backup = backup_sqlite(path, "test")

    writer.close()
    assert backup.parent == path.parent
    assert backup.name.startswith("live.db.bak-") and backup.name.endswith("-test")
    copy = sqlite3.connect(backup)
    assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    names = [row[0] for row in copy.execute("SELECT name FROM runs ORDER BY id")]
    assert names == ["checkpointed", "only in the wal"]
    assert copy.execute("SELECT version_num FROM alembic_version").fetchone() == (HEAD,)
    copy.close()


def test_head_read_without_alembic_matches_alembics_own_head() -> None:
    """open_store reads the head from the scripts to keep alembic off the start-up path; it must agree."""
    from alembic.script import ScriptDirectory

    from engine.store import migrations

    scripts = ScriptDirectory.from_config(migrations.alembic_config())
    assert migrations.head_revision() == scripts.get_current_head()
    assert migrations.known_revisions() == {s.revision for s in scripts.walk_revisions()}
