"""eval runs with retrieval: the context each answer was given (eval_items.contexts), the
context of each example a batch job sends (eval_batch_jobs.contexts, so a resumed run
rebuilds the same records and scores answers against what the model saw), and a batch
run's retrieval settings (eval_run_backends.retrieval, reused by `--resume`)

Revision ID: 0023
Revises: 0022
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Nullable: rows written by older revisions (and answers given without context) have none.
ADDED = [
    ("eval_items", "contexts"),
    ("eval_batch_jobs", "contexts"),
    ("eval_run_backends", "retrieval"),
]


def upgrade() -> None:
    for table, column in ADDED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(column, sa.JSON(), nullable=True))


def downgrade() -> None:
    for table, column in ADDED:
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
