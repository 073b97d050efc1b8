"""Use cases as stored, and what their goals read over a window: answers of conversations
tagged with the use case and items of eval runs started for it, with their scores, the
thumbs on them and the live votes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from service.ids import utcnow
from service.schemas import VoteOut
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
from service.store.votes import live_votes, vote_out


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
    status, latency_ms, ttft_ms, tokens_out, cost_usd, scores; eval items also example_key."""
    in_window = (AnswerRow.created_at >= since) & (AnswerRow.created_at < until)
    live = (
        select(AnswerRow.id)
        .join(TurnRow, TurnRow.id == AnswerRow.turn_id)
        .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
        .where(ConversationRow.use_case == name, AnswerRow.variant_name.in_(variants), in_window)
    )
    out: list[dict[str, Any]] = []
    with store.session() as s:
        scores: dict[str, list[dict[str, Any]]] = {}
        for answer_id, metric, value, error in s.execute(
            select(ScoreRow.answer_id, ScoreRow.metric, ScoreRow.value, ScoreRow.error).where(
                ScoreRow.answer_id.in_(live)
            )
        ):
            scores.setdefault(answer_id, []).append(
                {"metric": metric, "value": value, "error": error}
            )
        for a in s.execute(
            select(
                AnswerRow.id,
                AnswerRow.variant_name,
                AnswerRow.status,
                AnswerRow.latency_ms,
                AnswerRow.ttft_ms,
                AnswerRow.tokens_out,
                AnswerRow.cost_usd,
            ).where(AnswerRow.id.in_(live))
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


def _live_votes_query(name: str, since: datetime, until: datetime) -> Any:
    query = (
        select(VoteRow)
        .join(TurnRow, TurnRow.id == VoteRow.turn_id)
        .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
        .where(live_votes())
    )
    return Filters(since=since, until=until, use_case=name).apply(query)


def live_votes_in_window(
    store: Store, name: str, since: datetime, until: datetime
) -> list[VoteOut]:
    with store.session() as s:
        return [vote_out(v) for v in s.scalars(_live_votes_query(name, since, until))]


def panes_of_voted_turns(
    store: Store, name: str, since: datetime, until: datetime
) -> tuple[dict[str, dict[int, str]], dict[str, str]]:
    """What `live_votes_in_window` needs to become records: each voted turn's variant per
    pane, and its conversation's mode. The turns are chosen by a subquery, not by binding
    their ids (a window may hold more votes than a statement may have parameters)."""
    voted = _live_votes_query(name, since, until).with_only_columns(VoteRow.turn_id)
    panes: dict[str, dict[int, str]] = {}
    modes: dict[str, str] = {}
    with store.session() as s:
        rows = s.execute(
            select(AnswerRow.turn_id, AnswerRow.pane, AnswerRow.variant_name, ConversationRow.mode)
            .join(TurnRow, TurnRow.id == AnswerRow.turn_id)
            .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
            .where(AnswerRow.turn_id.in_(voted))
        )
        for turn_id, pane, variant, mode in rows:
            panes.setdefault(turn_id, {})[pane] = variant
            modes[turn_id] = mode
    return panes, modes
