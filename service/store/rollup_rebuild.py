"""Rebuild the dashboard's rollups (per minute and per hour) from the rows: after an import made with raw
SQL, after the migration that adds them, or to check that the maintained ones are right."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from service.store import sketch
from service.store.engine import Store
from service.store.rollups import (
    ANSWER_TABLES,
    SCORE_SUMS,
    SCORE_TABLES,
    VOTE_TABLES,
    AnswerCell,
    add_score,
    answer_cells,
    coarser,
    minute_of,
    no_scores,
    start_of,
    vote_answers,
    vote_cells,
    write_vote_cells,
)
from service.store.tables import (
    AnswerRow,
    ConversationRow,
    ScoreRow,
    TurnRow,
    VoteRow,
)
from service.store.votes import live_votes


def rebuild_store(store: Store) -> None:
    with store.session() as s:
        rebuild(s)


def rebuild(s: Session, *, batch: int = 20_000) -> None:
    """Recompute every rollup from the rows (streamed: memory grows with the number of
    minutes, not of rows)."""
    for tables in (ANSWER_TABLES, SCORE_TABLES, VOTE_TABLES):
        for table in tables.values():
            s.execute(delete(table))
    cells_by_key: dict[tuple[int, str, str], AnswerCell] = defaultdict(AnswerCell)
    answers = (
        select(
            AnswerRow.created_at,
            AnswerRow.variant_name,
            AnswerRow.status,
            AnswerRow.latency_ms,
            AnswerRow.ttft_ms,
            AnswerRow.cost_usd,
            AnswerRow.tokens_out,
            ConversationRow.use_case,
        )
        .join(TurnRow, TurnRow.id == AnswerRow.turn_id)
        .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
        .execution_options(yield_per=batch)
    )
    for part in s.execute(answers).mappings().partitions():
        for key, cell in answer_cells(dict(r) for r in part).items():
            cells_by_key[key].add(cell)
    for span, table in ANSWER_TABLES.items():
        rows = [
            {
                "minute": m,
                "variant_name": v,
                "use_case": u,
                "answers": c.answers,
                "ok": c.ok,
                "cost_usd": c.cost_usd,
                "latency": sketch.add(b"", c.latency),
                "ttft": sketch.add(b"", c.ttft),
                **c.moments,
            }
            for (m, v, u), c in coarser(cells_by_key, span).items()
        ]
        for start in range(0, len(rows), batch):
            s.execute(insert(table), rows[start : start + batch])
    score_cells: dict[tuple[int, str, str, str, str], dict[str, Any]] = defaultdict(no_scores)
    scores = (
        select(
            ScoreRow.created_at,
            ScoreRow.metric,
            ScoreRow.version,
            ScoreRow.variant_name,
            ScoreRow.value,
            ConversationRow.use_case,
        )
        .join(TurnRow, TurnRow.id == ScoreRow.turn_id)
        .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
        .execution_options(yield_per=batch)
    )
    for at, metric, version, variant, value, use_case in s.execute(scores):
        sums = score_cells[(minute_of(at), metric, version, variant, use_case or "")]
        add_score(sums, None if value is None else float(value))
    for span, table in SCORE_TABLES.items():
        spanned: dict[tuple[int, str, str, str, str], dict[str, Any]] = defaultdict(no_scores)
        for (m, k, ver, v, u), minute_sums in score_cells.items():
            into = spanned[(start_of(m, span), k, ver, v, u)]
            for column in SCORE_SUMS:
                into[column] += minute_sums[column]
        score_rows = [
            {
                "minute": m,
                "metric": k,
                "version": ver,
                "variant_name": v,
                "use_case": u,
                **span_sums,
            }
            for (m, k, ver, v, u), span_sums in spanned.items()
        ]
        for start in range(0, len(score_rows), batch):
            s.execute(insert(table), score_rows[start : start + batch])
    live = live_vote_answers()
    cells: Counter[tuple[int, str, str, str]] = Counter()
    pending: list[Any] = []
    for row in s.execute(live.execution_options(yield_per=batch)):
        # Rows come ordered by vote: a vote's answers are never split between two batches.
        if pending and len(pending) >= batch and pending[-1].id != row.id:
            cells.update(vote_cells(pending, 1))
            pending = []
        pending.append(row)
    cells.update(vote_cells(pending, 1))
    write_vote_cells(s, cells)


def live_vote_answers() -> Any:
    """Every live vote with each of its turn's answers, ordered by vote."""
    return vote_answers().where(live_votes()).order_by(VoteRow.id)
