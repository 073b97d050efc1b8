"""per-minute rollups for the dashboard (answers with latency/TTFT sketches, scores, live
votes), filled from the rows already stored by 0017

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
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
        "answer_minutes",
        *_keys(),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("latency", sa.LargeBinary(), nullable=False),
        sa.Column("ttft", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "score_minutes",
        sa.Column("minute", sa.Integer(), primary_key=True),
        sa.Column("metric", sa.String(64), primary_key=True),
        sa.Column("version", sa.String(128), primary_key=True),
        sa.Column("variant_name", sa.String(64), primary_key=True),
        sa.Column("use_case", sa.String(64), primary_key=True),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
    )
    op.create_table(
        "vote_minutes",
        *_keys(),
        sa.Column("wins", sa.Integer(), nullable=False),
        sa.Column("losses", sa.Integer(), nullable=False),
        sa.Column("ties", sa.Integer(), nullable=False),
        sa.Column("both_bad", sa.Integer(), nullable=False),
    )
    # Filled by the newest migration that changes the rollups (0017_dashboard_hour_rollups),
    # with the code that rebuilds them later: that code writes every rollup table, including
    # those later migrations add, so it cannot run at this revision.


def downgrade() -> None:
    for table in ("vote_minutes", "score_minutes", "answer_minutes"):
        op.drop_table(table)
