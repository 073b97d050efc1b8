"""Use cases as stored, and what their goals read over a window: answers of conversations
tagged with the use case and items of eval runs started for it (or run on one of its
datasets), with their scores, the thumbs on them and the live votes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import and_, case, func, or_, select

from service.ids import utcnow
from service.store import rollups, sketch
from service.store.engine import Store
from service.store.filters import Filters
from service.store.tables import (
    AnswerMinuteRow,
    AnswerRow,
    ConversationRow,
    EvalItemRow,
    EvalRunRow,
    FeedbackRow,
    ScoreRow,
    TurnRow,
    UseCaseRow,
    VoteMinuteRow,
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
    store: Store,
    name: str,
    variants: list[str],
    since: datetime,
    until: datetime,
    *,
    live_variants: list[str] | None = None,
    datasets: list[str] | None = None,
) -> list[dict[str, Any]]:
    """The use case's answers of these variants (live traffic, only of `live_variants` when
    given, and its eval runs): variant, status, latency_ms, ttft_ms, tokens_out, cost_usd,
    scores; eval items also example_key. Its eval runs are those started for it and, with
    `datasets` (SHA-256 of its dataset files), those started for no use case on a file with
    the same content, such as a run from the Evaluations page. Joins only: nothing is bound
    per answer."""
    live_names = variants if live_variants is None else live_variants
    its_runs = EvalRunRow.use_case == name
    if datasets:
        its_runs = or_(
            its_runs,
            and_(EvalRunRow.use_case.is_(None), EvalRunRow.dataset_sha256.in_(datasets)),
        )

    def live(query: Any) -> Any:
        return (
            query.join(TurnRow, TurnRow.id == AnswerRow.turn_id)
            .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
            .where(
                ConversationRow.use_case == name,
                AnswerRow.variant_name.concat("").in_(live_names),  # see _live_answers
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
                its_runs,
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
    store: Store,
    name: str,
    since: datetime,
    until: datetime,
    variants: list[str] | None = None,
) -> list[tuple[str, str]]:
    """(variant, result) of each live vote of the use case in the window, per variant in
    it (win, loss, tie, both_bad), only for `variants` when given: one join, nothing bound
    per vote."""
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
    if variants is not None:
        query = query.where(AnswerRow.variant_name.in_(variants))
    query = Filters(since=since, until=until, use_case=name).apply(query)
    out: list[tuple[str, str]] = []
    with store.session() as s:
        rows = s.execute(query).all()
    by_vote: dict[str, list[Any]] = {}
    for row in rows:
        by_vote.setdefault(row.id, []).append(row)
    for answers in by_vote.values():
        panes = {a.pane: a.variant_name for a in answers}
        first = answers[0]
        for pane, result in rollups.pane_results(first.outcome, first.ranking, panes).items():
            out.append((panes[pane], result))
    return out


# ---- aggregates: what the goals read instead of rows for a variant with many answers ----

minute_of = rollups.minute_of  # the rollups' key: whole minutes since 1970 UTC

Bins = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]  # a sketch's bins and counts
Sums = tuple[int, float, float]  # count, sum, sum of squares


@dataclass
class AnswerAggregate:
    """One variant's live answers of a use case over whole minutes, from the rollups and one
    SQL aggregate: counts, latency/TTFT sketches (ms, ok answers), sums per field (ok answers
    with a value) and per score metric (with the number of failed scorings)."""

    answers: int = 0
    ok: int = 0
    latency: Bins | None = None
    ttft: Bins | None = None
    sums: dict[str, Sums] = field(default_factory=dict)  # latency_ms, tokens_out, cost_usd
    scores: dict[str, tuple[int, float, float, int]] = field(default_factory=dict)


def answer_counts(store: Store, name: str, first: int, end: int) -> dict[str, int]:
    """Answers per variant of the use case's live traffic in minutes [first, end), from the
    rollups."""
    with store.session() as s:
        rows = s.execute(
            select(AnswerMinuteRow.variant_name, func.sum(AnswerMinuteRow.answers))
            .where(
                AnswerMinuteRow.use_case == name,
                AnswerMinuteRow.minute >= first,
                AnswerMinuteRow.minute < end,
            )
            .group_by(AnswerMinuteRow.variant_name)
        ).all()
    return {v: int(n or 0) for v, n in rows}


def answer_aggregates(
    store: Store,
    name: str,
    variants: list[str],
    first: int,
    end: int,
    since: datetime,
    until: datetime,
) -> dict[str, AnswerAggregate]:
    """Per variant: its live answers in minutes [first, end) (= since..until, which the
    caller rounds to those minutes). Counts and sketches from the rollups; the sums of
    squares the rollups do not keep from one GROUP BY over the rows (no Python per row)."""
    out = {v: AnswerAggregate() for v in variants}
    with store.session() as s:
        minutes = s.execute(
            select(
                AnswerMinuteRow.variant_name,
                AnswerMinuteRow.answers,
                AnswerMinuteRow.ok,
                AnswerMinuteRow.latency,
                AnswerMinuteRow.ttft,
            ).where(
                AnswerMinuteRow.use_case == name,
                AnswerMinuteRow.variant_name.in_(variants),
                AnswerMinuteRow.minute >= first,
                AnswerMinuteRow.minute < end,
            )
        ).all()
        fields = {
            "latency_ms": AnswerRow.latency_ms,
            "tokens_out": AnswerRow.tokens_out,
            "cost_usd": AnswerRow.cost_usd,
        }
        ok = AnswerRow.status == "ok"
        columns: list[Any] = [AnswerRow.variant_name]
        for column in fields.values():
            value = case((ok, column))
            columns += [func.count(value), func.sum(value), func.sum(value * value)]
        sums = s.execute(
            _live_answers(select(*columns), name, variants, since, until).group_by(
                AnswerRow.variant_name
            )
        ).all()
        value = case((ok, ScoreRow.value))
        scores = s.execute(
            _live_answers(
                select(
                    AnswerRow.variant_name,
                    ScoreRow.metric,
                    func.count(value),
                    func.sum(value),
                    func.sum(value * value),
                    func.sum(case((ok & ScoreRow.value.is_(None), 1), else_=0)),
                ).join(AnswerRow, AnswerRow.id == ScoreRow.answer_id),
                name,
                variants,
                since,
                until,
            ).group_by(AnswerRow.variant_name, ScoreRow.metric)
        ).all()
    groups = {v: i for i, v in enumerate(variants)}
    owner = np.array([groups[r.variant_name] for r in minutes], dtype=np.int64)
    latency = sketch.merge_groups([r.latency or b"" for r in minutes], owner)
    ttft = sketch.merge_groups([r.ttft or b"" for r in minutes], owner)
    for r in minutes:
        agg = out[r.variant_name]
        agg.answers += r.answers
        agg.ok += r.ok
    for v, i in groups.items():
        out[v].latency, out[v].ttft = latency.get(i), ttft.get(i)
    for row in sums:
        for k, key in enumerate(fields):
            n, total, total_sq = row[1 + 3 * k : 4 + 3 * k]
            out[row[0]].sums[key] = (int(n), float(total or 0.0), float(total_sq or 0.0))
    for variant, metric, n, total, total_sq, errors in scores:
        out[variant].scores[metric] = (
            int(n),
            float(total or 0.0),
            float(total_sq or 0.0),
            int(errors or 0),
        )
    return out


def _live_answers(
    query: Any, name: str, variants: list[str], since: datetime, until: datetime
) -> Any:
    # `variant_name || ''`: keeps SQLite off the variant index (which walks every answer
    # of the variant, in every use case) and on the use case's: conversations -> turns ->
    # answers, by their indexes. The same answers either way.
    return (
        query.join(TurnRow, TurnRow.id == AnswerRow.turn_id)
        .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
        .where(
            ConversationRow.use_case == name,
            AnswerRow.variant_name.concat("").in_(variants),
            AnswerRow.created_at >= since,
            AnswerRow.created_at < until,
        )
    )


def vote_counts(store: Store, name: str, first: int, end: int) -> dict[str, dict[str, int]]:
    """Per variant: what the use case's live votes cast in minutes [first, end) gave it
    (win, loss, tie, both_bad), from the rollups."""
    columns = rollups.OUTCOME_COLUMNS
    with store.session() as s:
        rows = s.execute(
            select(
                VoteMinuteRow.variant_name,
                *(func.sum(getattr(VoteMinuteRow, c)) for c in columns.values()),
            )
            .where(
                VoteMinuteRow.use_case == name,
                VoteMinuteRow.minute >= first,
                VoteMinuteRow.minute < end,
            )
            .group_by(VoteMinuteRow.variant_name)
        ).all()
    return {
        r[0]: {result: int(n or 0) for result, n in zip(columns, r[1:], strict=True)} for r in rows
    }
