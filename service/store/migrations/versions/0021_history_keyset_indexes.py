"""History's keyset indexes: turns by (created_at, id), turns by (conversation_id,
created_at, id) and conversations by (rater, id), each replacing the single-column index it
starts with (every query that used that one can use its prefix)

Revision ID: 0021
Revises: 0020
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, old index, its columns, new index, its columns)
REPLACED = [
    (
        "turns",
        "ix_turns_created_at",
        ["created_at"],
        "ix_turns_created_at_id",
        ["created_at", "id"],
    ),
    (
        "turns",
        "ix_turns_conversation_id",
        ["conversation_id"],
        "ix_turns_conversation_id_created_at",
        ["conversation_id", "created_at", "id"],
    ),
    (
        "conversations",
        "ix_conversations_rater",
        ["rater"],
        "ix_conversations_rater_id",
        ["rater", "id"],
    ),
]


def upgrade() -> None:
    for table, old, _, new, columns in REPLACED:
        op.create_index(new, table, columns)
        op.drop_index(old, table_name=table)


def downgrade() -> None:
    for table, old, columns, new, _ in REPLACED:
        op.create_index(old, table, columns)
        op.drop_index(new, table_name=table)
