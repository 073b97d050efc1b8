"""eval runs on batch backends: the run's backend (eval_run_backends), and one row per provider job (Bedrock
model invocation job or SageMaker transform job) with its ARN, so a restarted run re-attaches

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "eval_run_backends",
        sa.Column("run_id", sa.String(36), sa.ForeignKey("eval_runs.id"), primary_key=True),
        sa.Column("backend", sa.String(32), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "eval_batch_jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("run_id", sa.String(36), sa.ForeignKey("eval_runs.id"), nullable=False),
        sa.Column("variant", sa.String(64), nullable=False),
        sa.Column("backend", sa.String(32), nullable=False),
        sa.Column("job_name", sa.String(63), nullable=False, unique=True),
        sa.Column("job_arn", sa.String(2048), nullable=True),
        sa.Column("input_uri", sa.String(2048), nullable=False),
        sa.Column("output_uri", sa.String(2048), nullable=False),
        sa.Column("examples", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("collected", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_eval_batch_jobs_run_id", "eval_batch_jobs", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_eval_batch_jobs_run_id", "eval_batch_jobs")
    op.drop_table("eval_batch_jobs")
    op.drop_table("eval_run_backends")
