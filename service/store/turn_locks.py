"""Turn locks: a vote, and a review of a vote, first lock their turns' rows, so what they
read next (the live votes) cannot change under them."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.store.tables import TurnRow


def lock_turns(s: Session, turn_ids: set[str]) -> None:
    """Hold these turns' rows until the transaction ends; the first statement of a vote's
    transaction, so what it reads next cannot change under it."""
    if s.get_bind().dialect.name == "sqlite":
        s.execute(update(TurnRow).where(TurnRow.id.in_(turn_ids)).values(status=TurnRow.status))
        return
    s.execute(
        select(TurnRow.id)
        .where(TurnRow.id.in_(turn_ids))
        .order_by(TurnRow.id)
        .with_for_update(key_share=True)
    ).all()
