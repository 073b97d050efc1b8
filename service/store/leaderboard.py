"""The leaderboard's sufficient statistics, counted by the database: win/loss/tie per pair
of variants over live votes (and the pairwise battles rankings imply), and the battles in
arrival order for online Elo."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from evals.leaderboard import SCORE_OF_A, Battle, BattleLog, PairCounts, battles_from_ranking
from service.store.engine import Store
from service.store.filters import Filters
from service.store.label_reviews import rejected
from service.store.tables import AnswerRow, ConversationRow, RatingRow, TurnRow, VoteRow
from service.store.votes import live_votes

PAIR_OUTCOMES = {"a": "a", "b": "b", "tie": "tie", "both_bad": "tie"}


def pair_counts(store: Store, filters: Filters = Filters()) -> PairCounts:
    """Win/loss/tie counts per pair of variants, counted by the database."""
    first, second = aliased(AnswerRow), aliased(AnswerRow)
    query = (
        select(first.variant_name, second.variant_name, VoteRow.outcome, func.count())
        .select_from(VoteRow)
        .join(TurnRow, TurnRow.id == VoteRow.turn_id)
        .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
        .join(first, (first.turn_id == VoteRow.turn_id) & (first.pane == 0))
        .join(second, (second.turn_id == VoteRow.turn_id) & (second.pane == 1))
        .where(VoteRow.outcome.in_(list(PAIR_OUTCOMES)), live_votes())
        .group_by(first.variant_name, second.variant_name, VoteRow.outcome)
    )
    cells: dict[tuple[str, str], list[float]] = {}
    with store.session() as s:
        for x, y, outcome, n in s.execute(filters.apply(query)):
            cell = cells.setdefault((x, y), [0.0, 0.0, 0.0])
            cell[{"a": 0, "b": 1, "tie": 2}[PAIR_OUTCOMES[outcome]]] += n
        for x, y, outcome in _ranking_battles(s, filters):
            cell = cells.setdefault((x, y), [0.0, 0.0, 0.0])
            cell[{"a": 0, "b": 1, "tie": 2}[outcome]] += 1
    return PairCounts.from_cells({k: (v[0], v[1], v[2]) for k, v in cells.items()})


def _ranking_battles(s: Any, filters: Filters) -> list[Battle]:
    query = (
        select(VoteRow.turn_id, VoteRow.ranking)
        .join(TurnRow, TurnRow.id == VoteRow.turn_id)
        .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
        .where(VoteRow.outcome == "ranking", live_votes())
        .order_by(VoteRow.created_at, VoteRow.id)
    )
    rankings = s.execute(filters.apply(query)).all()
    if not rankings:
        return []
    panes: dict[str, dict[int, str]] = {}
    for turn_id, pane, variant in s.execute(
        select(AnswerRow.turn_id, AnswerRow.pane, AnswerRow.variant_name).where(
            AnswerRow.turn_id.in_({r.turn_id for r in rankings})
        )
    ):
        panes.setdefault(turn_id, {})[pane] = variant
    battles: list[Battle] = []
    for turn_id, ranking in rankings:
        by_pane = panes.get(turn_id, {})
        if ranking and all(p in by_pane for p in ranking):
            battles += battles_from_ranking(by_pane, ranking)
    return battles


def battles_in_order(store: Store, filters: Filters = Filters()) -> BattleLog:
    """Every live pairwise vote as a battle, oldest first (for online Elo), as variant
    indices and A's score (both-bad is a tie)."""
    first, second = aliased(AnswerRow), aliased(AnswerRow)
    query = (
        select(first.variant_name, second.variant_name, VoteRow.outcome)
        .select_from(VoteRow)
        .join(TurnRow, TurnRow.id == VoteRow.turn_id)
        .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
        .join(first, (first.turn_id == VoteRow.turn_id) & (first.pane == 0))
        .join(second, (second.turn_id == VoteRow.turn_id) & (second.pane == 1))
        .where(VoteRow.outcome.in_(list(PAIR_OUTCOMES)), live_votes())
        .order_by(VoteRow.created_at, VoteRow.id)
    )
    with store.session() as s:
        rows = s.execute(filters.apply(query)).tuples().all()
    return BattleLog.from_battles(rows, {o: SCORE_OF_A[t] for o, t in PAIR_OUTCOMES.items()})


def ratings(store: Store, filters: Filters = Filters()) -> list[tuple[Any, ...]]:
    """(variant, answer id, rater, helpfulness, honesty, harmlessness) of every rating a
    reviewer did not reject, oldest first. Dates and rater filter votes, not ratings, so
    only the mode, RAG and use-case filters apply."""
    query = (
        select(
            AnswerRow.variant_name,
            RatingRow.answer_id,
            RatingRow.rater,
            RatingRow.helpfulness,
            RatingRow.honesty,
            RatingRow.harmlessness,
        )
        .select_from(RatingRow)
        .join(AnswerRow, AnswerRow.id == RatingRow.answer_id)
        .join(TurnRow, TurnRow.id == RatingRow.turn_id)
        .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
        .where(RatingRow.id.not_in(rejected("rating")))
        .order_by(RatingRow.created_at, RatingRow.id)
    )
    filters = Filters(mode=filters.mode, rag=filters.rag, use_case=filters.use_case)
    with store.session() as s:
        return [tuple(row) for row in s.execute(filters.apply(query))]
