"""What the dashboard reads over a window, optionally of one use case's conversations: the
per-minute and per-hour rollups of answers, scores and live votes (`service.store.rollups`), and the
thumbs. The raw rows too (`answers_since`, ...), for checking the rollups against them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, true

from service.store import rollup_rebuild, rollups
from service.store.engine import Store
from service.store.tables import (
    AnswerRow,
    ConversationRow,
    FeedbackRow,
    ScoreRow,
    TurnRow,
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


Range = tuple[int, int]  # [first minute, end minute)


def _extend(ranges: list[Range], first: int, end: int) -> None:
    """Append [first, end) to ranges in order, joined to the last one when they touch."""
    if first >= end:
        return
    if ranges and ranges[-1][1] == first:
        ranges[-1] = (ranges[-1][0], end)
    else:
        ranges.append((first, end))


def tiles(
    since: int, until: int, size: int, *, origin: int | None = None, hours: bool = True
) -> dict[int, list[Range]]:
    """Minutes [since, until) in buckets of `size` minutes starting at `origin` + k·size
    (`origin` ≤ since, default since: the first bucket may begin before the window), read
    from the coarsest rollup whose rows each lie inside one bucket: per row span (1, 60),
    the ranges of minutes read from it — each bucket's whole hours from the hour rows, the
    minutes before its first whole hour and after its last from the minute rows (every
    minute from the minute rows when not `hours`)."""
    if not hours:
        return {1: [(since, until)] if since < until else [], rollups.HOUR: []}
    whole: list[Range] = []
    minutes: list[Range] = []
    for bucket_start in range(since if origin is None else origin, until, size):
        start = max(bucket_start, since)
        end = min(bucket_start + size, until)
        first = -(-start // rollups.HOUR) * rollups.HOUR
        last = end // rollups.HOUR * rollups.HOUR
        if first < last:
            _extend(minutes, start, first)
            _extend(whole, first, last)
            _extend(minutes, last, end)
        else:
            _extend(minutes, start, end)
    return {1: minutes, rollups.HOUR: whole}


def _buckets(
    table: Any, origin: int, ranges: list[Range], size: int, use_case: str | None
) -> tuple[Any, list[Any]]:
    """The bucket of each rollup row, (minute - origin) // size, and the rows' condition:
    minutes in one of the ranges, and the use case."""
    # The bounds around the ranges let SQLite walk the key's index instead of the table.
    conditions = [
        table.minute >= ranges[0][0],
        table.minute < ranges[-1][1],
        or_(*(and_(table.minute >= a, table.minute < b) for a, b in ranges)),
    ]
    if use_case is not None:
        conditions.append(table.use_case == use_case)
    # Integers on both sides: SQLite and PostgreSQL both divide them as integers (floor,
    # since minute >= origin).
    return ((table.minute - origin) // size).label("bucket"), conditions


def tiled(
    tables: dict[int, Any],
    since: int,
    until: int,
    size: int,
    use_case: str | None,
    hours: bool,
    origin: int | None = None,
) -> Iterator[tuple[Any, Any, list[Any]]]:
    """(rollup table, bucket, condition) for each span of the window's tiles that has
    ranges: whole hours from the hour table, the minutes at the ends from the minute one.
    Buckets are numbered from `origin` (default `since`)."""
    origin = since if origin is None else origin
    for span, ranges in tiles(since, until, size, origin=origin, hours=hours).items():
        if ranges:
            table = tables[span]
            yield (table, *_buckets(table, origin, ranges, size, use_case))


@dataclass(frozen=True)
class BucketWindow:
    """Minutes [since, until) in buckets of `size` minutes numbered from `origin` (default
    `since`), of one use case's conversations or all (None); `hours=False` reads every
    minute from the minute rollups (to check the hour ones)."""

    since: int
    until: int
    size: int
    use_case: str | None = None
    hours: bool = True
    origin: int | None = None

    def tiled(self, tables: dict[int, Any]) -> Iterator[tuple[Any, Any, list[Any]]]:
        return tiled(
            tables, self.since, self.until, self.size, self.use_case, self.hours, self.origin
        )


def _summed(rows: list[Any], keys: int) -> list[tuple[Any, ...]]:
    """Rows of (key columns..., sums...) from several rollups, summed per key."""
    totals: dict[tuple[Any, ...], list[Any]] = {}
    for row in rows:
        key = tuple(row[:keys])
        values = [v or 0 for v in row[keys:]]
        if key in totals:
            totals[key] = [a + b for a, b in zip(totals[key], values, strict=True)]
        else:
            totals[key] = values
    return [(*k, *v) for k, v in totals.items()]


def answer_buckets(store: Store, window: BucketWindow) -> tuple[Sequence[Any], Sequence[Any]]:
    """Per bucket (its index in the window) and variant: answers, ok and cost summed by the
    database; and the latency and TTFT sketches of every rollup row of
    the window with one (merged by the caller), each with its bucket. Whole hours come from
    the hour rollups (`tiles`)."""
    sums: list[Any] = []
    sketches: list[Any] = []
    with store.session() as s:
        for table, bucket, where in window.tiled(rollups.ANSWER_TABLES):
            sums += s.execute(
                select(
                    bucket,
                    table.variant_name,
                    func.sum(table.answers),
                    func.sum(table.ok),
                    func.sum(table.cost_usd),
                )
                .where(*where)
                .group_by(bucket, table.variant_name)
            ).all()
            sketches += s.execute(
                select(bucket, table.variant_name, table.latency, table.ttft).where(
                    *where, table.ok > 0
                )
            ).all()
    return _summed(sums, 2), sketches


def score_buckets(store: Store, window: BucketWindow) -> Sequence[Any]:
    """bucket, metric, version, variant_name, n, total."""
    rows: list[Any] = []
    with store.session() as s:
        for table, bucket, where in window.tiled(rollups.SCORE_TABLES):
            rows += s.execute(
                select(
                    bucket,
                    table.metric,
                    table.version,
                    table.variant_name,
                    func.sum(table.n),
                    func.sum(table.total),
                )
                .where(*where)
                .group_by(bucket, table.metric, table.version, table.variant_name)
            ).all()
    return _summed(rows, 4)


def vote_buckets(store: Store, window: BucketWindow) -> Sequence[Any]:
    """bucket, variant_name, wins, losses, ties (both-bad votes are left out)."""
    rows: list[Any] = []
    with store.session() as s:
        for table, bucket, where in window.tiled(rollups.VOTE_TABLES):
            rows += s.execute(
                select(
                    bucket,
                    table.variant_name,
                    func.sum(table.wins),
                    func.sum(table.losses),
                    func.sum(table.ties),
                )
                .where(*where)
                .group_by(bucket, table.variant_name)
            ).all()
    return _summed(rows, 2)


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
