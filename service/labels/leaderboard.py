"""The leaderboard over stored votes and ratings: the store gives sufficient statistics
(a GROUP BY over live votes), `evals.leaderboard` fits them.

Rules, stated once: a vote counts while it is live (not superseded by the same rater's
later vote); "both are bad" counts as a tie; a ranking of N panes counts as the N(N-1)/2
pairwise wins it implies; each rater's vote on a turn counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import aliased

from evals.leaderboard import (
    Battle,
    Leaderboard,
    PairCounts,
    battles_from_ranking,
    build,
    online_elo,
)
from evals.report import Estimate, bootstrap_mean
from service.labels.reviews import rejected
from service.store import Store
from service.store.tables import (
    AnswerRow,
    CampaignItemRow,
    CampaignRow,
    ConversationRow,
    RatingRow,
    TurnRow,
    TurnTagRow,
    VoteRow,
)

Q = TypeVar("Q", bound=Select)

PAIR_OUTCOMES = {"a": "a", "b": "b", "tie": "tie", "both_bad": "tie"}
CRITERIA = ("helpfulness", "honesty", "harmlessness")


@dataclass(frozen=True)
class Filters:
    since: datetime | None = None
    until: datetime | None = None
    mode: Literal["arena", "named"] | None = None
    rag: bool | None = None  # True: turns with retrieved context only; False: without
    rater: str | None = None
    campaign: str | None = None  # only turns of this campaign's items
    tag: str | None = None  # only turns with this tag
    use_case: str | None = None  # only conversations of this use case

    def apply(self, query: Q) -> Q:
        if self.since is not None:
            query = query.where(VoteRow.created_at >= self.since)
        if self.until is not None:
            query = query.where(VoteRow.created_at < self.until)
        if self.mode is not None:
            query = query.where(ConversationRow.mode == self.mode)
        if self.rag is True:
            query = query.where(TurnRow.retrieval.is_not(None))
        elif self.rag is False:
            query = query.where(TurnRow.retrieval.is_(None))
        if self.rater is not None:
            query = query.where(VoteRow.rater == self.rater)
        if self.use_case is not None:
            query = query.where(ConversationRow.use_case == self.use_case)
        if self.tag is not None:
            query = query.where(
                TurnRow.id.in_(select(TurnTagRow.turn_id).where(TurnTagRow.tag == self.tag))
            )
        if self.campaign is not None:
            query = query.where(
                TurnRow.id.in_(
                    select(CampaignItemRow.turn_id)
                    .join(CampaignRow, CampaignRow.id == CampaignItemRow.campaign_id)
                    .where(CampaignRow.name == self.campaign)
                )
            )
        return query


def live_votes() -> Any:
    """A condition: votes that count — not replaced by their rater's later vote, and not
    rejected by a reviewer."""
    superseded = select(VoteRow.supersedes_id).where(VoteRow.supersedes_id.is_not(None))
    return VoteRow.id.not_in(superseded) & VoteRow.id.not_in(rejected("vote"))


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


def battles_in_order(store: Store, filters: Filters = Filters()) -> list[Battle]:
    """Every live pairwise vote as a battle, oldest first (for online Elo)."""
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
        return [(x, y, PAIR_OUTCOMES[o]) for x, y, o in s.execute(filters.apply(query))]


def leaderboard(
    store: Store, filters: Filters = Filters(), *, with_elo: bool = True, rounds: int = 200
) -> Leaderboard:
    elo = online_elo(battles_in_order(store, filters)) if with_elo else None
    return build(pair_counts(store, filters), elo=elo, rounds=rounds)


@dataclass(frozen=True)
class QualityRow:
    variant: str
    ratings: int
    criteria: dict[str, Estimate]


def rubric_quality(store: Store, filters: Filters = Filters()) -> list[QualityRow]:
    """Absolute quality: each variant's mean rubric scores with bootstrap 95% CIs, from
    each rater's latest rating of each answer."""
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
    # dates and rater are of votes, not of ratings
    filters = Filters(mode=filters.mode, rag=filters.rag, use_case=filters.use_case)
    latest: dict[tuple[str, str], tuple[str, tuple[int | None, ...]]] = {}
    with store.session() as s:
        for variant, answer_id, rater, helpful, honest, harmless in s.execute(filters.apply(query)):
            latest[(answer_id, rater)] = (variant, (helpful, honest, harmless))
    per: dict[str, dict[str, list[float]]] = {}
    counts: dict[str, int] = {}
    for variant, scores in latest.values():
        counts[variant] = counts.get(variant, 0) + 1
        bucket = per.setdefault(variant, {c: [] for c in CRITERIA})
        for c, value in zip(CRITERIA, scores, strict=True):
            if value is not None:
                bucket[c].append(float(value))
    return [
        QualityRow(v, counts[v], {c: bootstrap_mean(per[v][c]) for c in CRITERIA})
        for v in sorted(per)
    ]
