"""Attribution experiment tables: replicates (one trained model each) and their scores

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attribution_replicates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("manipulation", sa.String(length=100), nullable=False),
        sa.Column("strength", sa.Float(), nullable=False),
        sa.Column("r", sa.Float(), nullable=False),
        sa.Column("replicate", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("val_accuracy", sa.Float(), nullable=False),
        sa.Column("test_accuracy", sa.Float(), nullable=True),
        sa.Column("p_star", sa.Float(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("epochs", sa.Integer(), nullable=False),
        sa.Column("dropped", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "run_id", "manipulation", "strength", "r", "replicate", name="uq_attribution_replicate_key"
        ),
    )
    with op.batch_alter_table("attribution_replicates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attribution_replicates_run_id"), ["run_id"], unique=False)

    op.create_table(
        "attribution_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("replicate_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=100), nullable=False),
        sa.Column("metric", sa.String(length=100), nullable=False),
        sa.Column("condition", sa.String(length=20), nullable=False),
        sa.Column("mean", sa.Float(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("region_share", sa.Float(), nullable=False),
        sa.Column("aggregation", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["replicate_id"], ["attribution_replicates.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("attribution_scores", schema=None) as batch_op:
        batch_op.create_index(
            "ix_attribution_scores_run_metric", ["run_id", "metric", "condition"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_attribution_scores_replicate_id"), ["replicate_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("attribution_scores", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attribution_scores_replicate_id"))
        batch_op.drop_index("ix_attribution_scores_run_metric")

    op.drop_table("attribution_scores")
    with op.batch_alter_table("attribution_replicates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attribution_replicates_run_id"))

    op.drop_table("attribution_replicates")
