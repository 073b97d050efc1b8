"""Model tokens per key per UTC day, for the daily token budgets (`service/limits.py`)."""

from __future__ import annotations

from sqlalchemy import select

from service.store.engine import Store
from service.store.tables import TokenSpendRow
from service.store.upsert import add_statement


def add(store: Store, deltas: dict[tuple[str, str], int]) -> None:
    """Add tokens to each (key, day) in one transaction; concurrent adds from other
    processes are summed by the database, not overwritten."""
    if not deltas:
        return
    rows = [{"key": k, "day": d, "tokens": n} for (k, d), n in sorted(deltas.items())]
    with store.session() as s:
        s.execute(add_statement(s, TokenSpendRow, ("key", "day"), ("tokens",)), rows)


def on_day(store: Store, day: str) -> dict[str, int]:
    """Every key's tokens on `day` (YYYY-MM-DD, UTC)."""
    with store.session() as s:
        rows = s.execute(
            select(TokenSpendRow.key, TokenSpendRow.tokens).where(TokenSpendRow.day == day)
        ).all()
    return {key: int(tokens) for key, tokens in rows}
