"""BankRepository on SQLite and PostgreSQL: bank rows, shard rows (replaced, forgotten), keys, status."""

from __future__ import annotations

from pathlib import Path

import pytest
import store_backends

from engine.augment.repository import BANKS_FOLDER, BankRepository
from engine.core.device import DeviceChoice
from engine.core.errors import LanternError
from engine.store import Store

CPU = DeviceChoice("cpu", "float32", "test CPU")
any_store = store_backends.any_store
backend = store_backends.backend
store_url = store_backends.store_url


def _bank(repo: BankRepository, key: str = "a" * 64, **overrides) -> int:  # type: ignore[no-untyped-def]
    fields = dict(
        name="identity x2",
        key=key,
        dataset="fashion-mnist-demo",
        limit=10,
        generator="identity",
        checkpoint=None,
        settings={"steps": 10, "guidance": 1.5},
        k=2,
        seed=3,
        image_count=10,
        image_shape=(1, 28, 28),
        shard_size=4,
        fingerprint="f" * 64,
    )
    fields.update(overrides)
    return repo.create(**fields)


def test_a_bank_round_trips_with_its_parameters(any_store: Store) -> None:
    repo = BankRepository(any_store)
    bank_id = _bank(repo)
    bank = repo.require(bank_id)
    assert bank.status == "building" and bank.summary == {} and bank.run_id is None
    assert bank.image_shape == (1, 28, 28)
    assert bank.shard_count == 3
    assert [bank.shard_range(s) for s in range(3)] == [(0, 4), (4, 8), (8, 10)]
    assert bank.parameters() == {
        "dataset": "fashion-mnist-demo",
        "limit": 10,
        "generator": "identity",
        "checkpoint": None,
        "settings": {"steps": 10, "guidance": 1.5},
        "k": 2,
        "seed": 3,
    }
    assert repo.folder(bank_id) == Path(any_store.artifacts_dir).parent / BANKS_FOLDER / str(bank_id)
    with pytest.raises(LanternError, match="there is no bank #999"):
        repo.require(999)


def test_shards_are_recorded_replaced_and_forgotten(any_store: Store) -> None:
    repo = BankRepository(any_store)
    bank_id = _bank(repo)
    for shard, (start, stop) in enumerate([(4, 8), (0, 4)][::-1]):
        repo.record_shard(
            bank_id,
            shard=shard,
            relpath=f"{bank_id}/s{shard}",
            start=start,
            stop=stop,
            sha256="0" * 64,
            size=10,
        )
    repo.record_shard(bank_id, shard=1, relpath=f"{bank_id}/s1", start=4, stop=8, sha256="1" * 64, size=11)
    shards = repo.shards(bank_id)
    assert [(s.shard, s.start, s.stop, s.sha256[0], s.size) for s in shards] == [
        (0, 0, 4, "0", 10),
        (1, 4, 8, "1", 11),
    ]
    assert repo.shard_counts([bank_id, 12345]) == {bank_id: 2}
    repo.forget_shard(bank_id, 0)
    assert [s.shard for s in repo.shards(bank_id)] == [1]


def test_status_summary_and_listing(any_store: Store) -> None:
    repo = BankRepository(any_store)
    first, second = _bank(repo), _bank(repo, key="b" * 64, name="other")
    repo.set_status(first, "complete", summary={"similarity_mean": 0.5})
    assert repo.require(first).status == "complete"
    assert repo.require(first).summary == {"similarity_mean": 0.5}
    assert [b.id for b in repo.list()] == [second, first]
    with pytest.raises(ValueError, match="bank status"):
        repo.set_status(first, "half-done")
    assert repo.require(first).status == "complete"  # a refused status changes nothing


def test_with_key_puts_complete_then_most_advanced_first(any_store: Store) -> None:
    repo = BankRepository(any_store)
    empty, advanced, done = _bank(repo), _bank(repo), _bank(repo)
    _bank(repo, key="c" * 64)
    repo.record_shard(advanced, shard=0, relpath="x", start=0, stop=4, sha256="0" * 64, size=1)
    assert [b.id for b in repo.with_key("a" * 64)] == [advanced, empty, done]
    repo.set_status(done, "complete")
    assert [b.id for b in repo.with_key("a" * 64)] == [done, advanced, empty]
    assert repo.with_key("d" * 64) == []


def test_for_run_finds_the_bank_a_job_recorded(any_store: Store) -> None:
    repo = BankRepository(any_store)
    run_id = any_store.runs.create(name="bank", kind="augment-bank", config={}, device=CPU)
    assert repo.for_run(run_id) is None
    bank_id = _bank(repo, run_id=run_id)
    assert repo.for_run(run_id).id == bank_id  # type: ignore[union-attr]
