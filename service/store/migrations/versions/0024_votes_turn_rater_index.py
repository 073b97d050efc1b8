"""Votes by (turn_id, rater), replacing the index on turn_id alone (every query that used
that one can use its prefix): a vote batch looks up each of its raters' live vote on each
of its turns, which the turn alone narrows to every vote on that turn

Revision ID: 0024
Revises: 0023
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_votes_turn_id_rater", "votes", ["turn_id", "rater"])
    op.drop_index("ix_votes_turn_id", table_name="votes")


def downgrade() -> None:
    op.create_index("ix_votes_turn_id", "votes", ["turn_id"])
    op.drop_index("ix_votes_turn_id_rater", table_name="votes")
