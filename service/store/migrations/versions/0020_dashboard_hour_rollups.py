"""per-hour rollups for the dashboard's long windows (answers with latency/TTFT sketches,
scores, live votes), keyed by the hour's first minute; every rollup (per minute too) filled
from the rows already stored

Revision ID: 0020
Revises: 0019
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _keys() -> list[sa.Column]:
    return [
        sa.Column("minute", sa.Integer(), primary_key=True),
        sa.Column("variant_name", sa.String(64), primary_key=True),
        sa.Column("use_case", sa.String(64), primary_key=True),
    ]


def upgrade() -> None:
    op.create_table(
        "answer_hours",
        *_keys(),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("latency", sa.LargeBinary(), nullable=False),
        sa.Column("ttft", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "score_hours",
        sa.Column("minute", sa.Integer(), primary_key=True),
        sa.Column("metric", sa.String(64), primary_key=True),
        sa.Column("version", sa.String(128), primary_key=True),
        sa.Column("variant_name", sa.String(64), primary_key=True),
        sa.Column("use_case", sa.String(64), primary_key=True),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
    )
    op.create_table(
        "vote_hours",
        *_keys(),
        sa.Column("wins", sa.Integer(), nullable=False),
        sa.Column("losses", sa.Integer(), nullable=False),
        sa.Column("ties", sa.Integer(), nullable=False),
        sa.Column("both_bad", sa.Integer(), nullable=False),
    )
    # Filled by the newest migration that changes the rollups (0022_rollup_moments), with
    # the code that rebuilds them later: that code writes the columns later migrations add,
    # so it cannot run at this revision.


def downgrade() -> None:
    for table in ("vote_hours", "score_hours", "answer_hours"):
        op.drop_table(table)
