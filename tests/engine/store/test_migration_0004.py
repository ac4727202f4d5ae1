"""Migration 0004 (augment banks) on SQLite and PostgreSQL: upgrades a 0003 store keeping its data, creates
the bank tables as the models describe them, and downgrades cleanly."""

from __future__ import annotations

import store_backends
from sqlalchemy import create_engine, inspect, text

import engine.augment.models  # noqa: F401 - the bank tables join Base.metadata (as engine.store.models will)
from engine.core.device import DeviceChoice
from engine.store import migrations, open_store
from engine.store.models import Base

CPU = DeviceChoice("cpu", "float32", "test CPU")
any_store = store_backends.any_store
backend = store_backends.backend
store_url = store_backends.store_url
BANK_TABLES = {"augment_banks", "augment_bank_shards"}


def _upgrade_to(url: str, revision: str) -> None:
    engine = create_engine(url)
    try:
        migrations.upgrade(engine, revision)
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def test_0004_is_the_head_and_follows_0003() -> None:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(migrations.alembic_config())
    assert scripts.get_revision("0004").down_revision == "0003"
    assert "0004" in migrations.known_revisions()


def test_a_0003_store_is_upgraded_keeping_its_runs(store_url: str) -> None:
    _upgrade_to(store_url, "0003")
    assert not BANK_TABLES & _tables(store_url)
    engine = create_engine(store_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO runs (name, kind, config, device, device_name, dtype, status, summary, "
                "created_at) VALUES ('kept', 'test', '{}', 'cpu', '', 'float32', 'done', '{}', '2026-01-01')"
            )
        )
    engine.dispose()
    store = open_store(url=store_url)
    try:
        assert _tables(store_url) >= BANK_TABLES
        assert [run.name for run in store.runs.list()] == ["kept"]
        with store.engine.connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() in (
                migrations.head_revision(),
            )
    finally:
        store.close()


def test_the_bank_tables_match_the_models(any_store) -> None:  # type: ignore[no-untyped-def]
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with any_store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert [d for d in differences if BANK_TABLES & {_table_of(d)}] == []


def _table_of(difference: object) -> str:
    """The table a compare_metadata entry is about (entries are tuples, or lists of tuples)."""
    entry = difference[0] if isinstance(difference, list) else difference
    for item in entry[1:]:  # type: ignore[index]
        name = getattr(item, "name", None) if not isinstance(item, str) else item
        table = getattr(item, "table", None)
        if table is not None:
            return str(table.name)
        if isinstance(name, str) and name in BANK_TABLES:
            return name
    return ""


def test_downgrading_to_0003_drops_only_the_bank_tables(store_url: str) -> None:
    from alembic import command

    open_store(url=store_url).close()
    engine = create_engine(store_url)
    try:
        with engine.begin() as connection:
            config = migrations.alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "0003")
    finally:
        engine.dispose()
    tables = _tables(store_url)
    assert not BANK_TABLES & tables
    assert {"runs", "attribution_replicates"} <= tables


def test_a_bank_row_and_its_shards_cascade(any_store) -> None:  # type: ignore[no-untyped-def]
    from engine.augment.repository import BankRepository

    repo = BankRepository(any_store)
    run_id = any_store.runs.create(name="bank run", kind="augment-bank", config={}, device=CPU)
    bank_id = repo.create(
        name="b",
        key="k" * 64,
        dataset="fashion-mnist-demo",
        limit=10,
        generator="identity",
        checkpoint=None,
        settings={},
        k=2,
        seed=0,
        image_count=10,
        image_shape=(1, 28, 28),
        shard_size=4,
        fingerprint="f" * 64,
        run_id=run_id,
    )
    repo.record_shard(
        bank_id, shard=0, relpath=f"{bank_id}/shard-00000.npz", start=0, stop=4, sha256="0" * 64, size=3 << 31
    )
    assert repo.shards(bank_id)[0].size == 3 << 31  # BigInteger: a GPU-sized shard passes 2 GiB
    with any_store.engine.begin() as connection:
        connection.execute(text("DELETE FROM runs WHERE id = :id"), {"id": run_id})
    assert repo.require(bank_id).run_id is None  # the bank outlives its run
    with any_store.engine.begin() as connection:
        connection.execute(text("DELETE FROM augment_banks WHERE id = :id"), {"id": bank_id})
    assert repo.shards(bank_id) == []
