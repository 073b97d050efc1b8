"""use cases (workspaces with targets); turns and eval runs can belong to one

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "use_cases",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("use_case", sa.String(64), nullable=True))
        batch.create_index("ix_conversations_use_case", ["use_case"])
    with op.batch_alter_table("eval_runs") as batch:
        batch.add_column(sa.Column("use_case", sa.String(64), nullable=True))
        batch.create_index("ix_eval_runs_use_case", ["use_case"])


def downgrade() -> None:
    with op.batch_alter_table("eval_runs") as batch:
        batch.drop_index("ix_eval_runs_use_case")
        batch.drop_column("use_case")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_index("ix_conversations_use_case")
        batch.drop_column("use_case")
    op.drop_table("use_cases")
