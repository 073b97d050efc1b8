"""What exports read: live votes with their turns and answers, ideal answers, rubric means,
and the campaign of each turn — as plain values, so the export logic never sees a table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from service.store.engine import Store
from service.store.filters import Filters
from service.store.label_reviews import rejected
from service.store.tables import (
    AnswerRow,
    CampaignItemRow,
    CampaignRow,
    ConversationRow,
    IdealAnswerRow,
    RatingRow,
    TurnRow,
    VoteRow,
)
from service.store.votes import live_votes


@dataclass(frozen=True)
class ExportAnswer:
    id: str
    pane: int
    variant: str
    status: str
    text: str
    request: dict[str, Any] | None
    variant_spec: dict[str, Any] | None
    context_refs: list[str] | None


@dataclass(frozen=True)
class ExportTurn:
    id: str
    conversation_id: str
    mode: str
    prompt: str
    created_at: datetime
    answers: list[ExportAnswer]
    campaign: str | None


@dataclass(frozen=True)
class ExportVote:
    id: str
    turn_id: str
    outcome: str
    ranking: list[int] | None
    rater: str | None
    created_at: datetime


@dataclass(frozen=True)
class ExportIdeal:
    id: str
    turn_id: str
    text: str
    rater: str | None
    based_on_answer_id: str | None
    created_at: datetime


def live_votes_in_order(store: Store, filters: Filters) -> list[ExportVote]:
    query = (
        select(VoteRow)
        .join(TurnRow, TurnRow.id == VoteRow.turn_id)
        .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
        .where(live_votes())
        .order_by(VoteRow.created_at, VoteRow.id)
    )
    with store.session() as s:
        return [
            ExportVote(v.id, v.turn_id, v.outcome, v.ranking, v.rater, v.created_at)
            for v in s.scalars(filters.apply(query))
        ]


def ideal_answers(store: Store, filters: Filters) -> list[ExportIdeal]:
    """Ideal answers in the order written; rater, mode, RAG and use-case filters apply."""
    query = (
        select(IdealAnswerRow)
        .join(TurnRow, TurnRow.id == IdealAnswerRow.turn_id)
        .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
        .order_by(IdealAnswerRow.created_at, IdealAnswerRow.id)
    )
    if filters.rater is not None:
        query = query.where(IdealAnswerRow.rater == filters.rater)
    query = Filters(mode=filters.mode, rag=filters.rag, use_case=filters.use_case).apply(query)
    with store.session() as s:
        return [
            ExportIdeal(i.id, i.turn_id, i.text, i.rater, i.based_on_answer_id, i.created_at)
            for i in s.scalars(query)
        ]


def _answer(a: AnswerRow) -> ExportAnswer:
    return ExportAnswer(
        a.id, a.pane, a.variant_name, a.status, a.text, a.request, a.variant_spec, a.context_refs
    )


def turns_by_id(store: Store, ids: set[str]) -> dict[str, ExportTurn]:
    """The turns with their answers and the campaign each belongs to (if any)."""
    with store.session() as s:
        campaigns = _campaigns(s, ids)
        rows = s.scalars(
            select(TurnRow)
            .where(TurnRow.id.in_(ids))
            .options(selectinload(TurnRow.answers), selectinload(TurnRow.conversation))
        )
        return {
            t.id: ExportTurn(
                t.id,
                t.conversation_id,
                t.conversation.mode,
                t.prompt,
                t.created_at,
                [_answer(a) for a in t.answers],
                campaigns.get(t.id),
            )
            for t in rows
        }


def _campaigns(s: Session, ids: set[str]) -> dict[str, str]:
    rows = s.execute(
        select(CampaignItemRow.turn_id, CampaignRow.name)
        .join(CampaignRow, CampaignRow.id == CampaignItemRow.campaign_id)
        .where(CampaignItemRow.turn_id.in_(ids))
    )
    return {turn_id: name for turn_id, name in rows if turn_id is not None}


def rubric_means(store: Store, answer_ids: set[str]) -> dict[str, float]:
    """Each answer's mean over every rubric score it was given (ratings not rejected)."""
    totals: dict[str, list[float]] = {}
    with store.session() as s:
        for r in s.scalars(
            select(RatingRow).where(
                RatingRow.answer_id.in_(answer_ids), RatingRow.id.not_in(rejected("rating"))
            )
        ):
            for v in (r.helpfulness, r.honesty, r.harmlessness):
                if v is not None:
                    totals.setdefault(r.answer_id, []).append(float(v))
    return {k: sum(v) / len(v) for k, v in totals.items()}
