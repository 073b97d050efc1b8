"""tags on turns (categories for leaderboard and export filters)

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "turn_tags",
        sa.Column("turn_id", sa.String(36), sa.ForeignKey("turns.id"), primary_key=True),
        sa.Column("tag", sa.String(64), primary_key=True),
    )
    op.create_index("ix_turn_tags_tag", "turn_tags", ["tag"])


def downgrade() -> None:
    op.drop_table("turn_tags")
