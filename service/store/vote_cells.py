"""Keeping the leaderboard's cells (`LeaderboardCellRow`) — and the export dry run's shapes,
which count the same live votes — in step with the votes: which
cells a vote counts in, and adding or taking away its count inside the transaction that
changes whether it counts (a new vote, a supersede, a review that rejects or restores it).

A vote counts while it is live (not superseded, not rejected by its latest review). A
pairwise vote counts once in (pane A's variant, pane B's variant, outcome), both-bad as a
tie; a ranking counts once per pairwise win it implies. A vote on a turn without both panes
counts nowhere, as in the GROUP BY over the votes (`service.store.leaderboard`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from evals.leaderboard import battles_from_ranking
from service.store import export_shapes, rollups
from service.store.among import among
from service.store.cell_days import ALL_DAYS, NO_USE_CASE
from service.store.tables import AnswerRow, ConversationRow, LeaderboardCellRow, TurnRow
from service.store.upsert import add_statement

PAIR_OUTCOMES = {"a": "a", "b": "b", "tie": "tie", "both_bad": "tie"}

# (day, mode, rag, use case, variant x, variant y, outcome)
CellKey = tuple[str, str, bool, str, str, str, str]
CELL_COLUMNS = ("day", "mode", "rag", "use_case", "variant_x", "variant_y", "outcome")


@dataclass(frozen=True)
class TurnFacts:
    """What a vote's cells depend on besides the vote itself (none of it changes once the
    turn has ended)."""

    mode: str
    rag: bool
    use_case: str
    panes: dict[int, str]  # pane -> variant
    statuses: dict[int, str] = field(default_factory=dict)  # pane -> the answer's status


def day_of(when: datetime) -> str:
    """The UTC day of a time (a naive time is taken as UTC, as the store writes them)."""
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%d")


def turn_facts(s: Session, turn_ids: Iterable[str]) -> dict[str, TurnFacts]:
    """The facts of these turns (a vote's or a batch's: a bounded number of ids)."""
    ids = set(turn_ids)
    if not ids:
        return {}
    # RAG on/off exactly as the filters decide it (SQL NULL or not), not from the Python value.
    heads = s.execute(
        select(
            TurnRow.id,
            ConversationRow.mode,
            ConversationRow.use_case,
            TurnRow.retrieval.is_not(None),
        )
        .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
        .where(among(s, TurnRow.id, ids))
    ).all()
    panes: dict[str, dict[int, str]] = {}
    statuses: dict[str, dict[int, str]] = {}
    for turn_id, pane, variant, status in s.execute(
        select(AnswerRow.turn_id, AnswerRow.pane, AnswerRow.variant_name, AnswerRow.status).where(
            among(s, AnswerRow.turn_id, ids)
        )
    ):
        panes.setdefault(turn_id, {})[pane] = variant
        statuses.setdefault(turn_id, {})[pane] = status
    return {
        turn_id: TurnFacts(
            mode,
            bool(rag),
            use_case or NO_USE_CASE,
            panes.get(turn_id, {}),
            statuses.get(turn_id, {}),
        )
        for turn_id, mode, use_case, rag in heads
    }


def battles_of(
    panes: Mapping[int, str], outcome: str, ranking: list[Any] | None
) -> list[tuple[str, str, str]]:
    """(variant x, variant y, outcome) of every battle one vote counts as."""
    if outcome == "ranking":
        if ranking and all(p in panes for p in ranking):
            return battles_from_ranking(panes, ranking)
        return []
    if outcome in PAIR_OUTCOMES and 0 in panes and 1 in panes:
        return [(panes[0], panes[1], PAIR_OUTCOMES[outcome])]
    return []


def in_name_order(x: str, y: str, outcome: str) -> tuple[str, str, str]:
    """A battle with its pair in name order (the outcome seen from the first), so a pair
    has one set of cells whichever pane each variant had."""
    if x <= y:
        return x, y, outcome
    return y, x, {"a": "b", "b": "a"}.get(outcome, outcome)


def cells_of(
    facts: TurnFacts, outcome: str, ranking: list[Any] | None, created_at: datetime
) -> list[CellKey]:
    dims = (facts.mode, facts.rag, facts.use_case)
    return [
        (day, *dims, *in_name_order(x, y, o))
        for x, y, o in battles_of(facts.panes, outcome, ranking)
        for day in (day_of(created_at), ALL_DAYS)
    ]


def shapes_of(
    facts: TurnFacts, outcome: str, ranking: list[Any] | None, created_at: datetime
) -> list[export_shapes.ShapeKey]:
    """The export dry run's rows a live vote counts in (`service.store.export_shapes`)."""
    shape = (
        outcome,
        export_shapes.ranking_text(outcome, ranking),
        export_shapes.panes_text({p: (v, facts.statuses.get(p)) for p, v in facts.panes.items()}),
    )
    dims = (facts.mode, facts.rag, facts.use_case)
    return [(day, *dims, *shape) for day in (day_of(created_at), ALL_DAYS)]


class CellDeltas:
    """The changes one transaction makes to what is kept per live vote — the dashboard's
    vote rollups, the leaderboard's cells and the export dry run's shapes — applied at once
    with `apply`. Votes alike (same turn, outcome, ranking and time: a batch's votes on a
    turn) are grouped first, so each group's keys are worked out once, not once per vote."""

    def __init__(self) -> None:
        self.votes: Counter[tuple[int, str, tuple[int, ...] | None, datetime]] = Counter()
        self.facts: dict[int, TurnFacts] = {}

    def count(
        self,
        facts: TurnFacts,
        outcome: str,
        ranking: list[Any] | None,
        created_at: datetime,
        sign: int,
    ) -> None:
        """A vote starts counting (sign +1) or stops (-1)."""
        self.facts[id(facts)] = facts
        ranked = tuple(ranking) if ranking is not None else None
        # A group whose changes cancel out stays, with 0: the transaction still touches (and
        # so locks) its rows, which a concurrent rebuild relies on.
        self.votes[(id(facts), outcome, ranked, created_at)] += sign

    def apply(self, s: Session) -> None:
        """The dashboard's rollups, then the cells, then the shapes: every writer takes
        them in this order, so two cannot deadlock on them."""
        minutes: Counter[tuple[int, str, str, str]] = Counter()
        cells: Counter[CellKey] = Counter()
        shapes: Counter[export_shapes.ShapeKey] = Counter()
        for (facts_id, outcome, ranked, created_at), n in self.votes.items():
            facts = self.facts[facts_id]
            ranking = list(ranked) if ranked is not None else None
            minute = rollups.minute_of(created_at)
            for pane, result in rollups.pane_results(outcome, ranking, facts.panes).items():
                minutes[(minute, facts.panes[pane], facts.use_case, result)] += n
            for key in cells_of(facts, outcome, ranking, created_at):
                cells[key] += n
            for shape in shapes_of(facts, outcome, ranking, created_at):
                shapes[shape] += n
        rollups.write_vote_cells(s, minutes)
        add(s, cells)
        export_shapes.add(s, shapes)


def add(s: Session, changes: Mapping[CellKey, int]) -> None:
    """n += change for each cell, creating the missing ones, as one upsert. Cells are
    written in key order, so two transactions on PostgreSQL lock them in the same order
    and cannot deadlock on them."""
    if not changes:
        return
    s.execute(
        add_statement(s, LeaderboardCellRow, CELL_COLUMNS, ("n",)),
        [
            {**dict(zip(CELL_COLUMNS, key, strict=True)), "n": changes[key]}
            for key in sorted(changes)
        ],
    )
