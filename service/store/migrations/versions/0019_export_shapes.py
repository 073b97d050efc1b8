"""export shapes: the export dry run's counts kept as votes arrive (per UTC day and all
days, mode, RAG, use case, outcome, ranking, each pane's variant and status), counted here
from the votes already stored

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

from service.store.exports import rebuild_shapes

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "export_shapes",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("mode", sa.String(16), primary_key=True),
        sa.Column("rag", sa.Boolean(), primary_key=True),
        sa.Column("use_case", sa.String(64), primary_key=True),
        sa.Column("outcome", sa.String(16), primary_key=True),
        sa.Column("ranking", sa.String(256), primary_key=True),
        sa.Column("panes", sa.String(1024), primary_key=True),
        sa.Column("n", sa.BigInteger(), nullable=False),
    )
    # Counted by the code that rebuilds them (`arbiter db rebuild-counts`).
    with Session(bind=op.get_bind()) as session:
        rebuild_shapes(session)
        session.flush()


def downgrade() -> None:
    op.drop_table("export_shapes")
