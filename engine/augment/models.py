"""Store tables of the Augment workspace: view banks (K generated views per train image) and their shards.

They sit on the store's declarative Base, so alembic (migration 0004) and the schema tests see them once
engine.store.models imports this module. Torch-free: the GUI lists banks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.models import Base, utcnow

BANK_STATES = ("building", "complete")


class AugmentBank(Base):
    """One bank: which views of which data (dataset, generator + settings, k, seed), and how far it got."""

    __tablename__ = "augment_banks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # sha256 of the parameters and the train split's content: banks that would hold the same views share it
    key: Mapped[str] = mapped_column(String(64), index=True)
    dataset: Mapped[str] = mapped_column(Text)  # a dataset name or a folder path
    image_limit: Mapped[int | None] = mapped_column(Integer)  # the train split's cap (None: all of it)
    generator: Mapped[str] = mapped_column(String(100))
    checkpoint: Mapped[str | None] = mapped_column(Text)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    k: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer)
    image_count: Mapped[int] = mapped_column(Integer)
    image_shape: Mapped[list[int]] = mapped_column(JSON, default=list)  # [C, H, W]
    shard_size: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of the train split's images and labels
    status: Mapped[str] = mapped_column(String(20), default="building", index=True)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AugmentBankShard(Base):
    """One finished shard file of a bank: train images [start, stop) with their K views and scores."""

    __tablename__ = "augment_bank_shards"
    __table_args__ = (UniqueConstraint("bank_id", "shard", name="uq_augment_bank_shard"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("augment_banks.id", ondelete="CASCADE"), index=True)
    shard: Mapped[int] = mapped_column(Integer)
    relpath: Mapped[str] = mapped_column(Text)  # relative to the banks folder beside the store's artifacts
    start: Mapped[int] = mapped_column(Integer)
    stop: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)  # a GPU-sized shard can pass 2 GiB
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
