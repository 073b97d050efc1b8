"""What the dashboard reads over a window, optionally of one use case's conversations: the
per-minute rollups of answers, scores and live votes (`service.store.rollups`), and the
thumbs. The raw rows too (`answers_since`, ...), for checking the rollups against them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, true

from service.store import rollup_rebuild
from service.store.engine import Store
from service.store.tables import (
    AnswerMinuteRow,
    AnswerRow,
    ConversationRow,
    FeedbackRow,
    ScoreMinuteRow,
    ScoreRow,
    TurnRow,
    VoteMinuteRow,
    VoteRow,
)


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


def live_vote_answers_since(store: Store, since: datetime, use_case: str | None) -> Sequence[Any]:
    """Each live vote since then with each of its turn's answers (id, created_at, outcome,
    ranking, pane, variant_name, use_case), by a join: no parameter per vote."""
    query = rollup_rebuild.live_vote_answers().where(VoteRow.created_at >= since)
    if use_case is not None:
        query = query.where(ConversationRow.use_case == use_case)
    with store.session() as s:
        return s.execute(query).all()


def _buckets(table: Any, since: int, until: int, size: int, use_case: str | None) -> Any:
    """The bucket of each rollup row, (minute - since) // size, and the rows' condition:
    minutes in [since, until) and the use case."""
    conditions = [table.minute >= since, table.minute < until]
    if use_case is not None:
        conditions.append(table.use_case == use_case)
    # Integers on both sides: SQLite and PostgreSQL both divide them as integers (floor,
    # since minute >= since).
    return ((table.minute - since) // size).label("bucket"), conditions


def answer_buckets(
    store: Store, since: int, until: int, size: int, use_case: str | None
) -> tuple[Sequence[Any], Sequence[Any]]:
    """Per bucket (index from `since`, `size` minutes each) and variant: answers, ok and
    cost summed by the database; and the latency and TTFT sketches of every rollup row of
    the window with one (merged by the caller), each with its bucket."""
    bucket, where = _buckets(AnswerMinuteRow, since, until, size, use_case)
    with store.session() as s:
        sums = s.execute(
            select(
                bucket,
                AnswerMinuteRow.variant_name,
                func.sum(AnswerMinuteRow.answers),
                func.sum(AnswerMinuteRow.ok),
                func.sum(AnswerMinuteRow.cost_usd),
            )
            .where(*where)
            .group_by(bucket, AnswerMinuteRow.variant_name)
        ).all()
        sketches = s.execute(
            select(
                bucket, AnswerMinuteRow.variant_name, AnswerMinuteRow.latency, AnswerMinuteRow.ttft
            ).where(*where, AnswerMinuteRow.ok > 0)
        ).all()
    return sums, sketches


def score_buckets(
    store: Store, since: int, until: int, size: int, use_case: str | None
) -> Sequence[Any]:
    """bucket, metric, version, variant_name, n, total."""
    bucket, where = _buckets(ScoreMinuteRow, since, until, size, use_case)
    with store.session() as s:
        return s.execute(
            select(
                bucket,
                ScoreMinuteRow.metric,
                ScoreMinuteRow.version,
                ScoreMinuteRow.variant_name,
                func.sum(ScoreMinuteRow.n),
                func.sum(ScoreMinuteRow.total),
            )
            .where(*where)
            .group_by(
                bucket, ScoreMinuteRow.metric, ScoreMinuteRow.version, ScoreMinuteRow.variant_name
            )
        ).all()


def vote_buckets(
    store: Store, since: int, until: int, size: int, use_case: str | None
) -> Sequence[Any]:
    """bucket, variant_name, wins, losses, ties (both-bad votes are left out)."""
    bucket, where = _buckets(VoteMinuteRow, since, until, size, use_case)
    with store.session() as s:
        return s.execute(
            select(
                bucket,
                VoteMinuteRow.variant_name,
                func.sum(VoteMinuteRow.wins),
                func.sum(VoteMinuteRow.losses),
                func.sum(VoteMinuteRow.ties),
            )
            .where(*where)
            .group_by(bucket, VoteMinuteRow.variant_name)
        ).all()


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
