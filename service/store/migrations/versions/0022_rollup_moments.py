"""rollup moments: the answer rollups (per minute and per hour) keep count, sum and sum of
squares of the ok answers' latency, output tokens and cost, the score rollups the scores'
sum of squares and the failed scorings, so a use case's goals are read from the rollups
instead of a GROUP BY over its answers; every rollup filled again from the rows

Revision ID: 0022
Revises: 0021
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

from service.store.rollup_rebuild import rebuild

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ANSWER_TABLES = ("answer_minutes", "answer_hours")
SCORE_TABLES = ("score_minutes", "score_hours")
ANSWER_FIELDS = ("latency_ms", "tokens_out", "cost_usd")


def _answer_columns() -> list[sa.Column[float]]:
    out: list[sa.Column[float]] = []
    for field in ANSWER_FIELDS:
        out.append(sa.Column(f"{field}_n", sa.Integer(), nullable=False, server_default="0"))
        for part in ("sum", "sq"):
            out.append(sa.Column(f"{field}_{part}", sa.Float(), nullable=False, server_default="0"))
    return out


def _score_columns() -> list[sa.Column[float]]:
    return [
        sa.Column("total_sq", sa.Float(), nullable=False, server_default="0"),
        sa.Column("failed", sa.Integer(), nullable=False, server_default="0"),
    ]


def upgrade() -> None:
    for tables, columns in ((ANSWER_TABLES, _answer_columns), (SCORE_TABLES, _score_columns)):
        for table in tables:
            with op.batch_alter_table(table) as batch:
                for column in columns():
                    batch.add_column(column)
    # Every rollup filled by the code that rebuilds them later (`arbiter db
    # rebuild-rollups`): a rollup is a function of the rows. A later migration that changes
    # the rollups takes this fill over, as this one took 0020's.
    with Session(bind=op.get_bind()) as session:
        rebuild(session)
        session.flush()


def downgrade() -> None:
    for tables, columns in ((ANSWER_TABLES, _answer_columns), (SCORE_TABLES, _score_columns)):
        for table in tables:
            with op.batch_alter_table(table) as batch:
                for column in columns():
                    batch.drop_column(column.name)
