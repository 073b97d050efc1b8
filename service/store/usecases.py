"""Use cases as stored, and what their goals read over a window: answers of conversations
tagged with the use case and items of eval runs started for it, with their scores, the
thumbs on them and the live votes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from service.ids import utcnow
from service.store import rollups
from service.store.engine import Store
from service.store.filters import Filters
from service.store.tables import (
    AnswerRow,
    ConversationRow,
    EvalItemRow,
    EvalRunRow,
    FeedbackRow,
    ScoreRow,
    TurnRow,
    UseCaseRow,
    VoteRow,
)
from service.store.votes import live_votes


def upsert_spec(store: Store, name: str, spec: dict[str, Any]) -> bool:
    """Create or replace; True when new."""
    now = utcnow()
    with store.session() as s:
        row = s.scalar(select(UseCaseRow).where(UseCaseRow.name == name))
        if row is None:
            s.add(UseCaseRow(name=name, spec=spec, created_at=now, updated_at=now))
            return True
        row.spec = spec
        row.updated_at = now
        return False


def get_spec(store: Store, name: str) -> dict[str, Any] | None:
    with store.session() as s:
        return s.scalar(select(UseCaseRow.spec).where(UseCaseRow.name == name))


def all_specs(store: Store) -> list[dict[str, Any]]:
    with store.session() as s:
        return list(s.scalars(select(UseCaseRow.spec).order_by(UseCaseRow.name)))


def has_use_case(store: Store, name: str) -> bool:
    with store.session() as s:
        return s.scalar(select(UseCaseRow.id).where(UseCaseRow.name == name)) is not None


def answers_in_window(
    store: Store, name: str, variants: list[str], since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """The use case's answers of these variants (live traffic and its eval runs): variant,
    status, latency_ms, ttft_ms, tokens_out, cost_usd, scores; eval items also example_key.
    Joins only: nothing is bound per answer."""

    def live(query: Any) -> Any:
        return (
            query.join(TurnRow, TurnRow.id == AnswerRow.turn_id)
            .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
            .where(
                ConversationRow.use_case == name,
                AnswerRow.variant_name.in_(variants),
                AnswerRow.created_at >= since,
                AnswerRow.created_at < until,
            )
        )

    out: list[dict[str, Any]] = []
    with store.session() as s:
        scores: dict[str, list[dict[str, Any]]] = {}
        for answer_id, metric, value, error in s.execute(
            live(
                select(ScoreRow.answer_id, ScoreRow.metric, ScoreRow.value, ScoreRow.error).join(
                    AnswerRow, AnswerRow.id == ScoreRow.answer_id
                )
            )
        ):
            scores.setdefault(answer_id, []).append(
                {"metric": metric, "value": value, "error": error}
            )
        for a in s.execute(
            live(
                select(
                    AnswerRow.id,
                    AnswerRow.variant_name,
                    AnswerRow.status,
                    AnswerRow.latency_ms,
                    AnswerRow.ttft_ms,
                    AnswerRow.tokens_out,
                    AnswerRow.cost_usd,
                )
            )
        ):
            out.append(
                {
                    "variant": a.variant_name,
                    "status": a.status,
                    "latency_ms": a.latency_ms,
                    "ttft_ms": a.ttft_ms,
                    "tokens_out": a.tokens_out,
                    "cost_usd": a.cost_usd,
                    "scores": scores.get(a.id, []),
                }
            )
        for item in s.execute(
            select(
                EvalItemRow.run_id,
                EvalItemRow.example_id,
                EvalItemRow.variant,
                EvalItemRow.status,
                EvalItemRow.latency_ms,
                EvalItemRow.ttft_ms,
                EvalItemRow.tokens_out,
                EvalItemRow.cost_usd,
                EvalItemRow.scores,
            )
            .join(EvalRunRow, EvalRunRow.id == EvalItemRow.run_id)
            .where(
                EvalRunRow.use_case == name,
                EvalItemRow.variant.in_(variants),
                EvalItemRow.created_at >= since,
                EvalItemRow.created_at < until,
            )
        ):
            out.append(
                {
                    "variant": item.variant,
                    "status": item.status,
                    "latency_ms": item.latency_ms,
                    "ttft_ms": item.ttft_ms,
                    "tokens_out": item.tokens_out,
                    "cost_usd": item.cost_usd,
                    "scores": item.scores or [],
                    "example_key": (item.run_id, item.example_id),
                }
            )
    return out


def latest_thumbs(
    store: Store, name: str, since: datetime, until: datetime
) -> list[tuple[str, bool]]:
    """(variant, positive) of each rater's latest thumb on each answer of the use case."""
    latest: dict[tuple[str, str], tuple[str, bool]] = {}
    with store.session() as s:
        for answer_id, rater, variant, positive in s.execute(
            select(
                FeedbackRow.answer_id,
                FeedbackRow.rater,
                FeedbackRow.variant_name,
                FeedbackRow.positive,
            )
            .join(TurnRow, TurnRow.id == FeedbackRow.turn_id)
            .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
            .where(
                ConversationRow.use_case == name,
                FeedbackRow.created_at >= since,
                FeedbackRow.created_at < until,
            )
            .order_by(FeedbackRow.created_at, FeedbackRow.id)
        ):
            latest[(answer_id, rater)] = (variant, positive)
    return list(latest.values())


def vote_results_in_window(
    store: Store, name: str, since: datetime, until: datetime
) -> list[tuple[str, str]]:
    """(variant, result) of each live vote of the use case in the window, per variant in
    it (win, loss, tie, both_bad): one join, nothing bound per vote."""
    query = (
        select(
            VoteRow.id,
            VoteRow.outcome,
            VoteRow.ranking,
            AnswerRow.pane,
            AnswerRow.variant_name,
        )
        .join(AnswerRow, AnswerRow.turn_id == VoteRow.turn_id)
        .join(TurnRow, TurnRow.id == VoteRow.turn_id)
        .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
        .where(live_votes())
        .order_by(VoteRow.id)
    )
    query = Filters(since=since, until=until, use_case=name).apply(query)
    out: list[tuple[str, str]] = []
    with store.session() as s:
        rows = s.execute(query).all()
    by_vote: dict[str, list[Any]] = {}
    for row in rows:
        by_vote.setdefault(row.id, []).append(row)
    for answers in by_vote.values():
        variants = {a.pane: a.variant_name for a in answers}
        first = answers[0]
        for pane, result in rollups.pane_results(first.outcome, first.ranking, variants).items():
            out.append((variants[pane], result))
    return out
