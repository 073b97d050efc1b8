"""What the dashboard reads over a window: answers, scores, live votes and thumbs since a
time, optionally of one use case's conversations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, true

from service.schemas import VoteOut
from service.store.engine import Store
from service.store.tables import (
    AnswerRow,
    ConversationRow,
    FeedbackRow,
    ScoreRow,
    TurnRow,
    VoteRow,
)
from service.store.votes import live_votes, vote_out


def _scoped(column: Any, use_case: str | None) -> Any:
    """A condition: the turn id in `column` belongs to a conversation of `use_case`."""
    if use_case is None:
        return true()
    return column.in_(
        select(TurnRow.id)
        .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
        .where(ConversationRow.use_case == use_case)
    )


def answers_since(store: Store, since: datetime, use_case: str | None) -> Sequence[Any]:
    """created_at, variant_name, status, latency_ms, ttft_ms, cost_usd of each answer."""
    with store.session() as s:
        return s.execute(
            select(
                AnswerRow.created_at,
                AnswerRow.variant_name,
                AnswerRow.status,
                AnswerRow.latency_ms,
                AnswerRow.ttft_ms,
                AnswerRow.cost_usd,
            ).where(AnswerRow.created_at >= since, _scoped(AnswerRow.turn_id, use_case))
        ).all()


def scores_since(
    store: Store, since: datetime, use_case: str | None
) -> list[tuple[datetime, str, str, str, float]]:
    """(created_at, metric, version, variant, value) of each score with a value."""
    with store.session() as s:
        rows = s.execute(
            select(
                ScoreRow.created_at,
                ScoreRow.metric,
                ScoreRow.version,
                ScoreRow.variant_name,
                ScoreRow.value,
            ).where(
                ScoreRow.created_at >= since,
                ScoreRow.value.is_not(None),
                _scoped(ScoreRow.turn_id, use_case),
            )
        ).all()
    return [
        (at, m, version, variant, float(value or 0.0)) for at, m, version, variant, value in rows
    ]


def live_votes_since(store: Store, since: datetime, use_case: str | None) -> list[VoteOut]:
    with store.session() as s:
        return [
            vote_out(v)
            for v in s.scalars(
                select(VoteRow).where(
                    VoteRow.created_at >= since,
                    live_votes(),
                    _scoped(VoteRow.turn_id, use_case),
                )
            )
        ]


def feedback_since(store: Store, since: datetime, use_case: str | None) -> Sequence[Any]:
    """answer_id, rater, created_at, variant_name, positive of each thumb, oldest first."""
    with store.session() as s:
        return s.execute(
            select(
                FeedbackRow.answer_id,
                FeedbackRow.rater,
                FeedbackRow.created_at,
                FeedbackRow.variant_name,
                FeedbackRow.positive,
            )
            .where(FeedbackRow.created_at >= since, _scoped(FeedbackRow.turn_id, use_case))
            .order_by(FeedbackRow.created_at, FeedbackRow.id)
        ).all()
