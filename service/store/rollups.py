"""Per-minute rollups the dashboard reads instead of every answer, score and vote: kept up
to date in the transaction of the write that changes them (an answer, a score; a vote, the
supersede it implies and a review through `service.store.vote_cells`), so they cannot drift from the rows; `rebuild` recomputes
them from the rows (`service.store.rollup_rebuild`).

Keys: minute (whole minutes since 1970 UTC, of the row's `created_at`), variant and use case ('' for none).
Each rollup is kept twice, per minute and per hour (the hour tables keyed by the hour's first
minute), written together: long windows read whole hours, and minutes only at their edges."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.store import sketch
from service.store.tables import (
    AnswerHourRow,
    AnswerMinuteRow,
    AnswerRow,
    ConversationRow,
    ScoreHourRow,
    ScoreMinuteRow,
    TurnRow,
    VoteHourRow,
    VoteMinuteRow,
    VoteRow,
)
from service.store.upsert import add_statement

OUTCOME_COLUMNS = {"win": "wins", "loss": "losses", "tie": "ties", "both_bad": "both_bad"}
HOUR = 60  # minutes
# Minutes per row -> table, finest first; written in this order by every writer.
ANSWER_TABLES: dict[int, Any] = {1: AnswerMinuteRow, HOUR: AnswerHourRow}
SCORE_TABLES: dict[int, Any] = {1: ScoreMinuteRow, HOUR: ScoreHourRow}
VOTE_TABLES: dict[int, Any] = {1: VoteMinuteRow, HOUR: VoteHourRow}


def start_of(minute: int, span: int) -> int:
    """The first minute of the `span`-minute row that holds `minute`."""
    return minute - minute % span


def minute_of(at: datetime) -> int:
    """Whole minutes since 1970-01-01 UTC (a naive time is UTC, as SQLite returns it)."""
    return int((at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp() // 60)


def pane_results(
    outcome: str, ranking: Sequence[int] | None, panes: Iterable[int]
) -> dict[int, str]:
    """What a vote gives each pane: win, loss, tie or both_bad. A ranking gives the first a
    win, the last a loss and those between a tie; 'a'/'b' name panes 0 and 1."""
    present = set(panes)
    if outcome in ("a", "b"):
        winner = 0 if outcome == "a" else 1
        results = {p: ("win" if p == winner else "loss") for p in (0, 1)}
    elif outcome in ("tie", "both_bad"):
        results = {p: outcome for p in present}
    elif ranking:
        results = {p: "tie" for p in ranking}
        results[ranking[0]], results[ranking[-1]] = "win", "loss"
    else:
        results = {}
    return {p: r for p, r in results.items() if p in present}


def _upsert(
    s: Session, table: Any, keys: list[str], rows: list[dict[str, Any]], adds: list[str]
) -> None:
    """Insert each row, or add its `adds` columns to the stored row with the same keys."""
    if not rows:
        return
    # Sorted: two transactions touching the same rows lock them in the same order. One
    # executemany (psycopg pipelines it), not a round trip per row.
    s.execute(
        add_statement(s, table, tuple(keys), tuple(adds)),
        sorted(rows, key=lambda r: tuple(str(r[k]) for k in keys)),
    )


# Fields of the ok answers whose count, sum and sum of squares the answer rollups keep
# (`tables.AnswerMoments`: columns `<field>_n`, `<field>_sum`, `<field>_sq`).
MOMENT_FIELDS = ("latency_ms", "tokens_out", "cost_usd")
MOMENT_COLUMNS = [f"{f}_{part}" for f in MOMENT_FIELDS for part in ("n", "sum", "sq")]


@dataclass
class AnswerCell:
    answers: int = 0
    ok: int = 0
    cost_usd: float = 0.0
    latency: list[float] = field(default_factory=list)
    ttft: list[float] = field(default_factory=list)
    moments: dict[str, float] = field(default_factory=lambda: dict.fromkeys(MOMENT_COLUMNS, 0))

    def add(self, other: AnswerCell) -> None:
        self.answers += other.answers
        self.ok += other.ok
        self.cost_usd += other.cost_usd
        self.latency += other.latency
        self.ttft += other.ttft
        for column, value in other.moments.items():
            self.moments[column] += value


def answer_cells(rows: Iterable[dict[str, Any]]) -> dict[tuple[int, str, str], AnswerCell]:
    cells: dict[tuple[int, str, str], AnswerCell] = defaultdict(AnswerCell)
    for a in rows:
        cell = cells[(minute_of(a["created_at"]), a["variant_name"], a.get("use_case") or "")]
        cell.answers += 1
        cell.cost_usd += a.get("cost_usd") or 0.0
        if a["status"] == "ok":
            cell.ok += 1
            if a.get("latency_ms") is not None:
                cell.latency.append(a["latency_ms"])
            if a.get("ttft_ms") is not None:
                cell.ttft.append(a["ttft_ms"])
            for name in MOMENT_FIELDS:
                value = a.get(name)
                if value is not None and math.isfinite(value):
                    cell.moments[f"{name}_n"] += 1
                    cell.moments[f"{name}_sum"] += value
                    cell.moments[f"{name}_sq"] += value * value
    return cells


def coarser(
    cells: dict[tuple[int, str, str], AnswerCell], span: int
) -> dict[tuple[int, str, str], AnswerCell]:
    """Per-minute answer cells summed into `span`-minute ones."""
    if span == 1:
        return cells
    out: dict[tuple[int, str, str], AnswerCell] = defaultdict(AnswerCell)
    for (m, v, u), c in cells.items():
        out[(start_of(m, span), v, u)].add(c)
    return out


def add_answers(s: Session, answers: list[dict[str, Any]]) -> None:
    """Count these stored answers (dicts with created_at, variant_name, use_case, status,
    latency_ms, ttft_ms, cost_usd)."""
    cells = answer_cells(answers)
    for span, table in ANSWER_TABLES.items():
        _add_answer_cells(s, table, coarser(cells, span))


def _add_answer_cells(
    s: Session, table: Any, cells: dict[tuple[int, str, str], AnswerCell]
) -> None:
    keys = ["minute", "variant_name", "use_case"]
    _upsert(
        s,
        table,
        keys,
        [
            {
                "minute": m,
                "variant_name": v,
                "use_case": u,
                "answers": c.answers,
                "ok": c.ok,
                "cost_usd": c.cost_usd,
                "latency": b"",
                "ttft": b"",
                **c.moments,
            }
            for (m, v, u), c in cells.items()
        ],
        ["answers", "ok", "cost_usd", *MOMENT_COLUMNS],
    )
    # The histograms: read, merge, write back (the upsert above holds the row's lock).
    for (m, v, u), c in sorted(cells.items()):
        if not c.latency and not c.ttft:
            continue
        where = (table.minute == m) & (table.variant_name == v) & (table.use_case == u)
        latency, ttft = s.execute(select(table.latency, table.ttft).where(where)).one()
        s.execute(
            update(table)
            .where(where)
            .values(latency=sketch.add(latency, c.latency), ttft=sketch.add(ttft, c.ttft))
        )


def use_case_of_turn(s: Session, turn_id: str) -> str:
    return (
        s.scalar(
            select(ConversationRow.use_case)
            .join(TurnRow, TurnRow.conversation_id == ConversationRow.id)
            .where(TurnRow.id == turn_id)
        )
        or ""
    )


def add_scores(
    s: Session, turn_id: str, variant: str, at: datetime, scores: list[dict[str, Any]]
) -> None:
    """Count one answer's new scores: those with a value, and the failed ones (no value).
    Only answers that succeeded are scored (`service.evaluation.online`)."""
    totals: dict[tuple[str, str], list[float | None]] = defaultdict(list)
    for score in scores:
        value = score.get("value")
        totals[(score["metric"], score["version"])].append(None if value is None else float(value))
    if not totals:
        return
    use_case = use_case_of_turn(s, turn_id)
    for span, table in SCORE_TABLES.items():
        _upsert(
            s,
            table,
            ["minute", "metric", "version", "variant_name", "use_case"],
            [
                {
                    "minute": start_of(minute_of(at), span),
                    "metric": metric,
                    "version": version,
                    "variant_name": variant,
                    "use_case": use_case,
                    **score_sums(values),
                }
                for (metric, version), values in totals.items()
            ],
            SCORE_SUMS,
        )


SCORE_SUMS = ["n", "total", "total_sq", "failed"]  # what the score rollups add up


def no_scores() -> dict[str, Any]:
    return {"n": 0, "total": 0.0, "total_sq": 0.0, "failed": 0}


def add_score(sums: dict[str, Any], value: float | None) -> None:
    """Count one score into the score rollups' columns (None: a failed scoring)."""
    if value is None:
        sums["failed"] += 1
    else:
        sums["n"] += 1
        sums["total"] += value
        sums["total_sq"] += value * value


def score_sums(values: Iterable[float | None]) -> dict[str, Any]:
    sums = no_scores()
    for value in values:
        add_score(sums, value)
    return sums


def vote_answers() -> Any:
    """Votes with each of their turn's answers: (vote id, created_at, outcome, ranking, pane,
    variant, use case); the caller says which votes."""
    return (
        select(
            VoteRow.id,
            VoteRow.created_at,
            VoteRow.outcome,
            VoteRow.ranking,
            AnswerRow.pane,
            AnswerRow.variant_name,
            ConversationRow.use_case,
        )
        .join(AnswerRow, AnswerRow.turn_id == VoteRow.turn_id)
        .join(TurnRow, TurnRow.id == VoteRow.turn_id)
        .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
    )


def vote_cells(rows: Iterable[Any], sign: int) -> Counter[tuple[int, str, str, str]]:
    by_vote: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        by_vote[r.id].append(r)
    cells: Counter[tuple[int, str, str, str]] = Counter()
    for answers in by_vote.values():
        first = answers[0]
        variants = {a.pane: a.variant_name for a in answers}
        for pane, result in pane_results(first.outcome, first.ranking, variants).items():
            cells[(minute_of(first.created_at), variants[pane], first.use_case or "", result)] += (
                sign
            )
    return cells


def write_vote_cells(s: Session, cells: Counter[tuple[int, str, str, str]]) -> None:
    """Add per-minute vote results (minute, variant, use case, result) to each rollup."""
    for span, table in VOTE_TABLES.items():
        rows: dict[tuple[int, str, str], dict[str, Any]] = {}
        for (m, v, u, result), n in cells.items():
            row = rows.setdefault(
                (start_of(m, span), v, u),
                {
                    "minute": start_of(m, span),
                    "variant_name": v,
                    "use_case": u,
                    **dict.fromkeys(OUTCOME_COLUMNS.values(), 0),
                },
            )
            row[OUTCOME_COLUMNS[result]] += n
        _upsert(
            s,
            table,
            ["minute", "variant_name", "use_case"],
            [r for r in rows.values() if any(r[c] for c in OUTCOME_COLUMNS.values())],
            list(OUTCOME_COLUMNS.values()),
        )
