"""Reads and writes of view banks in the store: bank rows, their shard rows, status and summary.

Torch- and numpy-free (the GUI lists banks). Callers get frozen records, never live ORM rows. The shard
files themselves are written by engine.augment.bank; a shard row exists only once its file is complete.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from engine.augment.models import BANK_STATES, AugmentBank, AugmentBankShard
from engine.core.errors import LanternError
from engine.store.models import utcnow

if TYPE_CHECKING:
    from engine.store.database import Store

BANKS_FOLDER = "banks"


@dataclass(frozen=True)
class BankRecord:
    """A bank as stored: its parameters, size, state and (once complete) the summary of its scores."""

    id: int
    name: str
    key: str
    dataset: str
    limit: int | None
    generator: str
    checkpoint: str | None
    settings: dict[str, Any]
    k: int
    seed: int
    image_count: int
    image_shape: tuple[int, ...]
    shard_size: int
    fingerprint: str
    status: str
    summary: dict[str, Any]
    run_id: int | None
    created_at: datetime
    updated_at: datetime

    @property
    def shard_count(self) -> int:
        return -(-self.image_count // self.shard_size)

    def shard_range(self, shard: int) -> tuple[int, int]:
        """Train images [start, stop) of shard number `shard`."""
        start = shard * self.shard_size
        return start, min(start + self.shard_size, self.image_count)

    def parameters(self) -> dict[str, Any]:
        """What a bank is made of: the fields a caller passes to build the same views again."""
        return {
            "dataset": self.dataset,
            "limit": self.limit,
            "generator": self.generator,
            "checkpoint": self.checkpoint,
            "settings": dict(self.settings),
            "k": self.k,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class ShardRecord:
    id: int
    bank_id: int
    shard: int
    relpath: str
    start: int
    stop: int
    sha256: str
    size: int


def _bank_record(row: AugmentBank) -> BankRecord:
    return BankRecord(
        id=row.id,
        name=row.name,
        key=row.key,
        dataset=row.dataset,
        limit=row.image_limit,
        generator=row.generator,
        checkpoint=row.checkpoint,
        settings=dict(row.settings or {}),
        k=row.k,
        seed=row.seed,
        image_count=row.image_count,
        image_shape=tuple(int(v) for v in row.image_shape or ()),
        shard_size=row.shard_size,
        fingerprint=row.fingerprint,
        status=row.status,
        summary=dict(row.summary or {}),
        run_id=row.run_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _shard_record(row: AugmentBankShard) -> ShardRecord:
    return ShardRecord(
        id=row.id,
        bank_id=row.bank_id,
        shard=row.shard,
        relpath=row.relpath,
        start=row.start,
        stop=row.stop,
        sha256=row.sha256,
        size=int(row.size),
    )


def no_such_bank(bank_id: int, where: str) -> LanternError:
    return LanternError(
        f"there is no bank #{bank_id}", where, "list the banks with 'lantern augment banks' and pick one"
    )


class BankRepository:
    """The store's banks. Files live under `root` (banks/ beside the store's artifacts folder), so a
    SQLite database travels with its banks and two databases never share bank folders."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @property
    def root(self) -> Path:
        return Path(self._store.artifacts_dir).parent / BANKS_FOLDER

    def folder(self, bank_id: int) -> Path:
        return self.root / str(bank_id)

    def create(
        self,
        *,
        name: str,
        key: str,
        dataset: str,
        limit: int | None,
        generator: str,
        checkpoint: str | None,
        settings: dict[str, Any],
        k: int,
        seed: int,
        image_count: int,
        image_shape: tuple[int, ...],
        shard_size: int,
        fingerprint: str,
        run_id: int | None = None,
    ) -> int:
        with self._store.session() as session:
            row = AugmentBank(
                name=name,
                key=key,
                dataset=dataset,
                image_limit=limit,
                generator=generator,
                checkpoint=checkpoint,
                settings=dict(settings),
                k=k,
                seed=seed,
                image_count=image_count,
                image_shape=[int(v) for v in image_shape],
                shard_size=shard_size,
                fingerprint=fingerprint,
                status="building",
                summary={},
                run_id=run_id,
            )
            session.add(row)
            session.flush()
            return row.id

    def get(self, bank_id: int) -> BankRecord | None:
        with self._store.session() as session:
            row = session.get(AugmentBank, bank_id)
            return _bank_record(row) if row is not None else None

    def require(self, bank_id: int, where: str = "bank") -> BankRecord:
        record = self.get(bank_id)
        if record is None:
            raise no_such_bank(bank_id, where)
        return record

    def list(self) -> list[BankRecord]:
        """All banks, newest first."""
        with self._store.session() as session:
            rows = session.scalars(select(AugmentBank).order_by(AugmentBank.id.desc())).all()
            return [_bank_record(row) for row in rows]

    def with_key(self, key: str) -> list[BankRecord]:
        """Banks that hold (or are building) the views of these parameters, complete ones first, then
        the one with most shards stored (the cheapest to resume), then the oldest."""
        with self._store.session() as session:
            rows = session.scalars(select(AugmentBank).where(AugmentBank.key == key)).all()
            records = [_bank_record(row) for row in rows]
        counts = self.shard_counts([r.id for r in records])
        return sorted(records, key=lambda r: (r.status != "complete", -counts.get(r.id, 0), r.id))

    def for_run(self, run_id: int) -> BankRecord | None:
        with self._store.session() as session:
            row = session.scalars(
                select(AugmentBank).where(AugmentBank.run_id == run_id).order_by(AugmentBank.id.desc())
            ).first()
            return _bank_record(row) if row is not None else None

    def shards(self, bank_id: int) -> list[ShardRecord]:
        """The bank's finished shards, in order."""
        with self._store.session() as session:
            rows = session.scalars(
                select(AugmentBankShard)
                .where(AugmentBankShard.bank_id == bank_id)
                .order_by(AugmentBankShard.shard)
            ).all()
            return [_shard_record(row) for row in rows]

    def shard_counts(self, bank_ids: list[int]) -> dict[int, int]:
        if not bank_ids:
            return {}
        with self._store.session() as session:
            rows = session.execute(
                select(AugmentBankShard.bank_id, AugmentBankShard.shard).where(
                    AugmentBankShard.bank_id.in_(bank_ids)
                )
            ).all()
        counts: dict[int, int] = {}
        for bank_id, _ in rows:
            counts[bank_id] = counts.get(bank_id, 0) + 1
        return counts

    def record_shard(
        self, bank_id: int, *, shard: int, relpath: str, start: int, stop: int, sha256: str, size: int
    ) -> None:
        """Record a complete shard file (replacing an earlier row of the same shard, which a resume that
        found the old file damaged has rewritten)."""
        with self._store.session() as session:
            session.execute(
                delete(AugmentBankShard).where(
                    AugmentBankShard.bank_id == bank_id, AugmentBankShard.shard == shard
                )
            )
            session.add(
                AugmentBankShard(
                    bank_id=bank_id,
                    shard=shard,
                    relpath=relpath,
                    start=start,
                    stop=stop,
                    sha256=sha256,
                    size=size,
                )
            )
            bank = session.get(AugmentBank, bank_id)
            if bank is not None:
                bank.updated_at = utcnow()

    def forget_shard(self, bank_id: int, shard: int) -> None:
        """Drop the row of a shard whose file is gone or damaged, so that resuming writes it again."""
        with self._store.session() as session:
            session.execute(
                delete(AugmentBankShard).where(
                    AugmentBankShard.bank_id == bank_id, AugmentBankShard.shard == shard
                )
            )

    def set_status(
        self, bank_id: int, status: str, summary: dict[str, Any] | None = None, run_id: int | None = None
    ) -> None:
        if status not in BANK_STATES:
            raise ValueError(f"bank status must be one of {BANK_STATES}, got {status!r}")
        with self._store.session() as session:
            row = session.get(AugmentBank, bank_id)
            if row is None:
                raise no_such_bank(bank_id, "bank status")
            row.status = status
            if summary is not None:
                row.summary = dict(summary)
            if run_id is not None:
                row.run_id = run_id
            row.updated_at = utcnow()
