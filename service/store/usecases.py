"""Use cases as stored, and what their goals read over a window: answers of conversations
tagged with the use case and items of eval runs started for it (or run on one of its
datasets), with their scores, the thumbs on them and the live votes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import and_, func, or_, select

from service.ids import utcnow
from service.store import rollups, sketch
from service.store.dashboard import tiled
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
        # `variant_name || ''`: keeps SQLite off the variant index (which walks every answer
        # of the variant, in every use case) and on the use case's: conversations -> turns
        # -> answers, by their indexes. The same answers either way.
        return (
            query.join(TurnRow, TurnRow.id == AnswerRow.turn_id)
            .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
            .where(
                ConversationRow.use_case == name,
                AnswerRow.variant_name.concat("").in_(live_names),
                AnswerRow.created_at >= since,
                AnswerRow.created_at < until,
            )
        )

    out: list[dict[str, Any]] = []
    with store.session() as s:
        # With no live variant to list (all read as aggregates) the two live queries are
        # skipped: they would walk every answer of the use case in the window for nothing.
        if live_names:
            scores: dict[str, list[dict[str, Any]]] = {}
            for answer_id, metric, value, error in s.execute(
                live(
                    select(
                        ScoreRow.answer_id, ScoreRow.metric, ScoreRow.value, ScoreRow.error
                    ).join(AnswerRow, AnswerRow.id == ScoreRow.answer_id)
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


def _window(tables: dict[int, Any], name: str, first: int, end: int) -> Iterator[tuple[Any, Any]]:
    """(rollup table, condition) for the use case's rows of minutes [first, end): whole hours
    from the hour rollups, the minutes at the ends from the minute ones."""
    for table, _, where in tiled(tables, first, end, max(1, end - first), name, True):
        yield table, and_(*where)


def answer_counts(store: Store, name: str, first: int, end: int) -> dict[str, int]:
    """Answers per variant of the use case's live traffic in minutes [first, end), from the
    rollups."""
    counts: dict[str, int] = {}
    with store.session() as s:
        for table, where in _window(rollups.ANSWER_TABLES, name, first, end):
            for variant, n in s.execute(
                select(table.variant_name, func.sum(table.answers))
                .where(where)
                .group_by(table.variant_name)
            ):
                counts[variant] = counts.get(variant, 0) + int(n or 0)
    return counts


def answer_aggregates(
    store: Store, name: str, variants: list[str], first: int, end: int
) -> dict[str, AnswerAggregate]:
    """Per variant: its live answers in minutes [first, end), all from the rollups (whole
    hours from the hour rows): counts, sketches, the ok answers' moments; and its scores by
    metric, counted in the minute they were scored."""
    out = {v: AnswerAggregate() for v in variants}
    moments = [*rollups.MOMENT_COLUMNS]
    rows: list[Any] = []
    score_rows: list[Any] = []
    with store.session() as s:
        for table, where in _window(rollups.ANSWER_TABLES, name, first, end):
            rows += s.execute(
                select(
                    table.variant_name,
                    table.answers,
                    table.ok,
                    table.latency,
                    table.ttft,
                    *(getattr(table, c) for c in moments),
                ).where(where, table.variant_name.in_(variants))
            ).all()
        for table, where in _window(rollups.SCORE_TABLES, name, first, end):
            score_rows += s.execute(
                select(
                    table.variant_name,
                    table.metric,
                    *(func.sum(getattr(table, c)) for c in rollups.SCORE_SUMS),
                )
                .where(where, table.variant_name.in_(variants))
                .group_by(table.variant_name, table.metric)
            ).all()
    groups = {v: i for i, v in enumerate(variants)}
    owner = np.array([groups[r.variant_name] for r in rows], dtype=np.int64)
    latency = sketch.merge_groups([r.latency or b"" for r in rows], owner)
    ttft = sketch.merge_groups([r.ttft or b"" for r in rows], owner)
    totals = {v: dict.fromkeys(moments, 0.0) for v in variants}
    for r in rows:
        agg = out[r.variant_name]
        agg.answers += r.answers
        agg.ok += r.ok
        for k, column in enumerate(moments):
            totals[r.variant_name][column] += r[5 + k] or 0
    for v, i in groups.items():
        out[v].latency, out[v].ttft = latency.get(i), ttft.get(i)
        for field_name in rollups.MOMENT_FIELDS:
            t = totals[v]
            out[v].sums[field_name] = (
                int(t[f"{field_name}_n"]),
                float(t[f"{field_name}_sum"]),
                float(t[f"{field_name}_sq"]),
            )
    for variant, metric, n, total, total_sq, failed in score_rows:
        had = out[variant].scores.get(metric, (0, 0.0, 0.0, 0))
        out[variant].scores[metric] = (
            had[0] + int(n or 0),
            had[1] + float(total or 0.0),
            had[2] + float(total_sq or 0.0),
            had[3] + int(failed or 0),
        )
    return out


def vote_counts(store: Store, name: str, first: int, end: int) -> dict[str, dict[str, int]]:
    """Per variant: what the use case's live votes cast in minutes [first, end) gave it
    (win, loss, tie, both_bad), from the rollups."""
    columns = rollups.OUTCOME_COLUMNS
    out: dict[str, dict[str, int]] = {}
    with store.session() as s:
        for table, where in _window(rollups.VOTE_TABLES, name, first, end):
            for row in s.execute(
                select(
                    table.variant_name,
                    *(func.sum(getattr(table, c)) for c in columns.values()),
                )
                .where(where)
                .group_by(table.variant_name)
            ):
                counts = out.setdefault(row[0], dict.fromkeys(columns, 0))
                for result, n in zip(columns, row[1:], strict=True):
                    counts[result] += int(n or 0)
    return out
