"""API keys: the shown `prefix` becomes a handle made from the key's id; it was the secret's
first 10 characters (all of a short key), also kept in the audit log of key creations

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

api_keys = sa.table("api_keys", sa.column("id", sa.String), sa.column("prefix", sa.String))
audit_events = sa.table(
    "audit_events",
    sa.column("id", sa.String),
    sa.column("action", sa.String),
    sa.column("target", sa.String),
    sa.column("detail", sa.JSON),
)


def _handle(key_id: str) -> str:
    # As service/store/keys.py key_handle (copied: a migration must not change when it does).
    return "arb_" + key_id[-8:]


def upgrade() -> None:
    conn = op.get_bind()
    for (key_id,) in conn.execute(sa.select(api_keys.c.id)).all():
        conn.execute(
            sa.update(api_keys).where(api_keys.c.id == key_id).values(prefix=_handle(key_id))
        )
    created = sa.select(audit_events.c.id, audit_events.c.target, audit_events.c.detail).where(
        audit_events.c.action == "key.create"
    )
    for event_id, target, detail in conn.execute(created).all():
        if isinstance(detail, dict) and "prefix" in detail:
            conn.execute(
                sa.update(audit_events)
                .where(audit_events.c.id == event_id)
                .values(detail={**detail, "prefix": _handle(target)})
            )


def downgrade() -> None:
    # The secrets' first characters are not kept anywhere: the handles stay.
    pass
