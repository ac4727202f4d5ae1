"""Augment tables: view banks (K generated views per train image) and the shard files that hold them

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "augment_banks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("dataset", sa.Text(), nullable=False),
        sa.Column("image_limit", sa.Integer(), nullable=True),
        sa.Column("generator", sa.String(length=100), nullable=False),
        sa.Column("checkpoint", sa.Text(), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("k", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("image_count", sa.Integer(), nullable=False),
        sa.Column("image_shape", sa.JSON(), nullable=False),
        sa.Column("shard_size", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("augment_banks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_augment_banks_key"), ["key"], unique=False)
        batch_op.create_index(batch_op.f("ix_augment_banks_run_id"), ["run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_augment_banks_status"), ["status"], unique=False)

    op.create_table(
        "augment_bank_shards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("relpath", sa.Text(), nullable=False),
        sa.Column("start", sa.Integer(), nullable=False),
        sa.Column("stop", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["bank_id"], ["augment_banks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("bank_id", "shard", name="uq_augment_bank_shard"),
    )
    with op.batch_alter_table("augment_bank_shards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_augment_bank_shards_bank_id"), ["bank_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("augment_bank_shards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_augment_bank_shards_bank_id"))

    op.drop_table("augment_bank_shards")
    with op.batch_alter_table("augment_banks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_augment_banks_status"))
        batch_op.drop_index(batch_op.f("ix_augment_banks_run_id"))
        batch_op.drop_index(batch_op.f("ix_augment_banks_key"))

    op.drop_table("augment_banks")
