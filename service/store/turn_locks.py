"""Serialising the writes that change which votes of a turn count (votes, supersedes,
reviews): each takes its turns' locks first, so what it reads next cannot change under it,
and two of them cannot both count a vote as live, nor both take it away."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.store.among import among
from service.store.tables import TurnRow


def lock_turns(s: Session, turn_ids: set[str]) -> None:
    """Hold these turns' rows until the transaction ends; the first statement of the
    transaction. PostgreSQL: `FOR NO KEY UPDATE`, in id order, so two writers cannot
    deadlock; SQLite: a no-op UPDATE takes the database's write lock before anything is
    read."""
    if s.get_bind().dialect.name == "sqlite":
        s.execute(update(TurnRow).where(TurnRow.id.in_(turn_ids)).values(status=TurnRow.status))
        return
    s.execute(
        select(TurnRow.id)
        .where(among(s, TurnRow.id, turn_ids))
        .order_by(TurnRow.id)
        .with_for_update(key_share=True)
    ).all()
