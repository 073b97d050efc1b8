"""Automatic scores on answers (online scoring): one row per metric and answer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select

from service.ids import new_id, utcnow
from service.store import rollups
from service.store.engine import Store
from service.store.tables import ScoreRow


def scored(store: Store, turn_id: str) -> set[tuple[str, str]]:
    """(answer id, metric) of the scores a turn already has."""
    with store.session() as s:
        rows = s.execute(
            select(ScoreRow.answer_id, ScoreRow.metric).where(ScoreRow.turn_id == turn_id)
        ).all()
    return {(answer_id, metric) for answer_id, metric in rows}


def save_scores(
    store: Store, turn_id: str, answer_id: str, variant: str, results: list[dict[str, Any]]
) -> None:
    """One answer's scores (metric, version, value, error, detail), all or none."""
    now = utcnow()
    with store.session() as s:
        s.execute(
            insert(ScoreRow),
            [
                {
                    "id": new_id(),
                    "answer_id": answer_id,
                    "turn_id": turn_id,
                    "variant_name": variant,
                    "created_at": now,
                    **result,
                }
                for result in results
            ],
        )
        rollups.add_scores(s, turn_id, variant, now, results)
