"""Keeping the export dry run's counts (`ExportShapeRow`) in step with the votes, as the
leaderboard's cells are (`service.store.vote_cells`): a vote's "shape" — what the export
rules look at: its outcome, its ranking, each pane's variant and whether that answer is ok
— counted per UTC day (and all days), mode, RAG setting and use case, in the transaction
that changes whether the vote counts; and read back summed over the days a dry run asks
for.

A vote counts here while it is live, on any turn (one without answers too: the dry run
counts it as skipped). A turn's answers never change once it has ended, which a vote
needs, so a vote's shape never changes while it counts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.store.cell_days import ALL_DAYS
from service.store.tables import ExportShapeRow
from service.store.upsert import add_statement

# (day, mode, rag, use case, outcome, ranking text, panes text)
ShapeKey = tuple[str, str, bool, str, str, str, str]
SHAPE_COLUMNS = ("day", "mode", "rag", "use_case", "outcome", "ranking", "panes")


def ranking_text(outcome: str, ranking: Sequence[Any] | None) -> str:
    """The ranking as the shape keeps it: JSON, or "" for a vote that is not a ranking."""
    if outcome != "ranking" or ranking is None:
        return ""
    return json.dumps([int(p) for p in ranking])


def panes_text(panes: Mapping[int, tuple[str | None, str | None]]) -> str:
    """Each pane with an answer (pane -> (variant, status)) as [[pane, variant, "ok" or
    "failed"], ...] in pane order; an answer without a variant name is left out, as the
    dry run's GROUP BY leaves it."""
    return json.dumps(
        [
            [pane, variant, "ok" if status == "ok" else "failed"]
            for pane, (variant, status) in sorted(panes.items())
            if variant
        ],
        ensure_ascii=False,
    )


def read_panes(text: str) -> dict[int, tuple[str, str]]:
    return {int(p): (v, st) for p, v, st in json.loads(text)}


def read_ranking(text: str) -> list[int] | None:
    return json.loads(text) if text else None


def add(s: Session, changes: Mapping[ShapeKey, int]) -> None:
    """n += change for each shape, creating the missing ones, as one upsert, in key order
    (two transactions on PostgreSQL then lock them in the same order)."""
    if not changes:
        return
    s.execute(
        add_statement(s, ExportShapeRow, SHAPE_COLUMNS, ("n",)),
        [
            {**dict(zip(SHAPE_COLUMNS, key, strict=True)), "n": changes[key]}
            for key in sorted(changes)
        ],
    )


def summed(
    s: Session,
    *,
    mode: str | None,
    rag: bool | None,
    use_case: str | None,
    first: str | None,
    end: str | None,
) -> list[tuple[str, str, str, int]]:
    """(outcome, ranking text, panes text, live votes) summed over the days first <= day <
    end (both None: the all-days rows), for the mode, RAG and use case given (None: any)."""
    c = ExportShapeRow
    query = select(c.outcome, c.ranking, c.panes, func.sum(c.n))
    if mode is not None:
        query = query.where(c.mode == mode)
    if rag is not None:
        query = query.where(c.rag == rag)
    if use_case is not None:
        query = query.where(c.use_case == use_case)
    if first is None and end is None:
        query = query.where(c.day == ALL_DAYS)
    else:
        query = query.where(c.day != ALL_DAYS)
    if first is not None:
        query = query.where(c.day >= first)
    if end is not None:
        query = query.where(c.day < end)
    query = query.group_by(c.outcome, c.ranking, c.panes).having(func.sum(c.n) != 0)
    return [(o, r, p, int(n)) for o, r, p, n in s.execute(query)]
