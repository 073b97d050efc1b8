"""The leaderboard's sufficient statistics: win/loss/tie per pair of variants over live
votes (and the pairwise battles rankings imply), and the battles in arrival order for online
Elo.

Pair counts are read from the cells kept as votes arrive (`service.store.vote_cells`) when
the filters are ones the cells are keyed by: mode, RAG on/off, use case, and dates (whole
UTC days from the cells; the part of a day at either end of a range from the votes). A
rater, campaign or tag filter recounts with a GROUP BY over the live votes (rankings joined
to their answers). `rebuild_counts`
recounts every cell from the votes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session, aliased

from evals.leaderboard import SCORE_OF_A, PairCounts
from service.ids import as_utc, id_floor
from service.store.cell_days import ALL_DAYS, cell_dims, counts_cover, split_by_day
from service.store.engine import Store, plan_to_read_every_row
from service.store.exports import rebuild_shapes
from service.store.filters import Filters
from service.store.label_reviews import rejected
from service.store.tables import (
    AnswerRow,
    ConversationRow,
    LabelReviewRow,
    LeaderboardCellRow,
    RatingRow,
    TurnRow,
    VoteRow,
)
from service.store.vote_cells import (
    PAIR_OUTCOMES,
    add,
    battles_of,
    in_name_order,
)
from service.store.votes import live_votes

REBUILD_CHUNK = 50_000  # votes recounted per statement by `rebuild_counts`
ELO_CHUNK = 20_000  # battles per list from `battles_from`
_OUTCOME_INDEX = {"a": 0, "b": 1, "tie": 2}
# Online Elo: A's score for each pairwise vote's outcome (both bad is a tie).
ELO_SCORES = {vote: SCORE_OF_A[battle] for vote, battle in PAIR_OUTCOMES.items()}


def pair_counts(store: Store, filters: Filters = Filters(), *, recount: bool = False) -> PairCounts:
    """Win/loss/tie counts per pair of variants: from the kept cells when they cover the
    filters (and `recount` is not asked), else counted by the database from the votes. A
    date bound inside a day reads that day's part from the votes, the whole days between
    from the cells."""
    counts: Counter[tuple[Any, ...]] = Counter()
    with store.session() as s:
        if recount or not counts_cover(filters):
            counts.update(_recount(s, filters, by_cell=False))
        else:
            days, edges = split_by_day(filters.since, filters.until)
            if days is not None:
                counts.update(_from_cells(s, filters, *days))
            for since, until in edges:
                part = replace(filters, since=since, until=until)
                counts.update(_recount(s, part, by_cell=False))
    cells: dict[tuple[str, str], list[float]] = {}
    for key, n in counts.items():
        x, y, outcome = key[-3:]
        cells.setdefault((x, y), [0.0, 0.0, 0.0])[_OUTCOME_INDEX[outcome]] += n
    return PairCounts.from_cells({k: (v[0], v[1], v[2]) for k, v in cells.items()})


def _from_cells(
    s: Session, filters: Filters, first: str | None, end: str | None
) -> Counter[tuple[Any, ...]]:
    """The cells' sums for days first <= day < end (both None: the all-days cells)."""
    c = LeaderboardCellRow
    query = select(c.variant_x, c.variant_y, c.outcome, func.sum(c.n))
    if filters.mode is not None:
        query = query.where(c.mode == filters.mode)
    if filters.rag is not None:
        query = query.where(c.rag == filters.rag)
    if filters.use_case is not None:
        query = query.where(c.use_case == filters.use_case)
    if first is None and end is None:
        query = query.where(c.day == ALL_DAYS)
    else:
        query = query.where(c.day != ALL_DAYS)
    if first is not None:
        query = query.where(c.day >= first)
    if end is not None:
        query = query.where(c.day < end)
    query = query.group_by(c.variant_x, c.variant_y, c.outcome).having(func.sum(c.n) != 0)
    return Counter({(x, y, o): int(n) for x, y, o, n in s.execute(query)})


def _recount(
    s: Session,
    filters: Filters,
    *,
    by_cell: bool,
    after: str | None = None,
    upto: str | None = None,
) -> Counter[tuple[Any, ...]]:
    """Live votes counted from the votes table: per (variant x, variant y, outcome), and
    first per cell dimension when `by_cell`; only ids in (after, upto] when given."""
    dims = cell_dims(s.get_bind().dialect.name) if by_cell else []

    def scoped(query: Any) -> Any:
        query = (
            query.join(TurnRow, TurnRow.id == VoteRow.turn_id)
            .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
            .where(live_votes())
        )
        if after is not None:
            query = query.where(VoteRow.id > after)
        if upto is not None:
            query = query.where(VoteRow.id <= upto)
        return filters.apply(query)

    def cell_keys(row: Any, x: str, y: str, outcome: str) -> list[tuple[Any, ...]]:
        if not by_cell:
            return [(x, y, outcome)]
        pair = in_name_order(x, y, outcome)
        dims = (row[1], bool(row[2]), row[3])
        return [(row[0], *dims, *pair), (ALL_DAYS, *dims, *pair)]

    first, second = aliased(AnswerRow), aliased(AnswerRow)
    pairwise = scoped(
        select(*dims, first.variant_name, second.variant_name, VoteRow.outcome, func.count())
        .select_from(VoteRow)
        .join(first, (first.turn_id == VoteRow.turn_id) & (first.pane == 0))
        .join(second, (second.turn_id == VoteRow.turn_id) & (second.pane == 1))
        .where(VoteRow.outcome.in_(list(PAIR_OUTCOMES)))
    ).group_by(*dims, first.variant_name, second.variant_name, VoteRow.outcome)
    counts: Counter[tuple[Any, ...]] = Counter()
    for row in s.execute(pairwise):
        x, y, outcome, n = row[-4:]
        for key in cell_keys(row, x, y, PAIR_OUTCOMES[outcome]):
            counts[key] += n
    # Rankings: each vote's answers by a join (never one bound parameter per vote), grouped
    # here into the pairwise wins the ranking implies.
    rankings = scoped(
        select(*dims, VoteRow.id, VoteRow.ranking, AnswerRow.pane, AnswerRow.variant_name)
        .select_from(VoteRow)
        .join(AnswerRow, AnswerRow.turn_id == VoteRow.turn_id)
        .where(VoteRow.outcome == "ranking")
    ).order_by(VoteRow.id)
    current: Any = None  # the ranking vote's row being read
    panes: dict[int, str] = {}

    def flush() -> None:
        if current is not None:
            for x, y, outcome in battles_of(panes, "ranking", current[len(dims) + 1]):
                for key in cell_keys(current, x, y, outcome):
                    counts[key] += 1

    for row in s.execute(rankings):
        if current is None or row[len(dims)] != current[len(dims)]:
            flush()
            current, panes = row, {}
        panes[row[len(dims) + 2]] = row[len(dims) + 3]
    flush()
    return counts


def rebuild_counts(
    store: Store,
    on_progress: Callable[[int, int], None] | None = None,
    *,
    chunk: int = REBUILD_CHUNK,
) -> tuple[int, int]:
    """Recount every cell (and the export dry run's shapes) from the votes, in one transaction (`chunk` votes per statement,
    `on_progress(votes done, votes)` after each); (votes, cells). Idempotent. Writers
    wait meanwhile: on SQLite for the write lock; on PostgreSQL for the cells table, which a
    vote that changes any cell updates before it commits, so none is counted twice or lost."""
    with store.session() as s:
        if s.get_bind().dialect.name == "postgresql":
            # In the order every vote writes them: the cells, then the export shapes.
            s.execute(text("LOCK TABLE leaderboard_cells IN EXCLUSIVE MODE"))
            s.execute(text("LOCK TABLE export_shapes IN EXCLUSIVE MODE"))
        s.execute(delete(LeaderboardCellRow))
        total = int(s.scalar(select(func.count()).select_from(VoteRow)) or 0)
        done, after = 0, None
        while True:
            bound = select(VoteRow.id).order_by(VoteRow.id).offset(chunk - 1).limit(1)
            upto = s.scalar(bound if after is None else bound.where(VoteRow.id > after))
            add(s, _recount(s, Filters(), by_cell=True, after=after, upto=upto))
            done = total if upto is None else min(done + chunk, total)
            if on_progress is not None:
                on_progress(done, total)
            if upto is None:
                break
            after = upto
        rebuild_shapes(s)
        return total, int(s.scalar(select(func.count()).select_from(LeaderboardCellRow)) or 0)


def battles_from(
    store: Store,
    filters: Filters = Filters(),
    since: datetime | None = None,
    *,
    chunk: int = ELO_CHUNK,
) -> Iterator[Sequence[Any]]:
    """Every live pairwise vote created at or after `since` (all without it), oldest first,
    as rows (variant A, variant B, outcome, created_at, vote id), in lists of at most
    `chunk`: an Elo replay reads a million of them without holding them all (a
    server-side cursor on PostgreSQL)."""
    first, second = aliased(AnswerRow), aliased(AnswerRow)
    query = (
        select(
            first.variant_name,
            second.variant_name,
            VoteRow.outcome,
            VoteRow.created_at,
            VoteRow.id,
        )
        .select_from(VoteRow)
        .join(TurnRow, TurnRow.id == VoteRow.turn_id)
        .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
        .join(first, (first.turn_id == VoteRow.turn_id) & (first.pane == 0))
        .join(second, (second.turn_id == VoteRow.turn_id) & (second.pane == 1))
        .where(VoteRow.outcome.in_(list(PAIR_OUTCOMES)), live_votes())
        .order_by(VoteRow.created_at, VoteRow.id)
    )
    if since is not None:
        query = query.where(VoteRow.created_at >= since)
    with store.session() as s:
        conn = s.connection()  # Core rows: the ORM's per-row work costs 10% here
        plan_to_read_every_row(conn)  # at 1M, JIT took 3 of the query's 10 s
        result = conn.execute(filters.apply(query).execution_options(yield_per=chunk))
        yield from result.partitions()


def vote_rewrites(store: Store, since: datetime) -> list[tuple[str, datetime, str]]:
    """What took a vote out of the live votes, or put one back, at or after `since`: a vote
    superseding an earlier one, a review of a vote. Each as (the change's id, the affected
    vote's created_at, its id); the created_at is UTC."""
    earlier = aliased(VoteRow)
    superseding = (
        select(VoteRow.id, earlier.created_at, earlier.id)
        .join(earlier, earlier.id == VoteRow.supersedes_id)
        .where(VoteRow.created_at >= since)
    )
    # label_reviews has no index on created_at; its ids are UUIDv7, so time-ordered.
    reviews = (
        select(LabelReviewRow.id, VoteRow.created_at, VoteRow.id)
        .join(VoteRow, VoteRow.id == LabelReviewRow.label_id)
        .where(LabelReviewRow.label_kind == "vote", LabelReviewRow.id >= id_floor(since))
    )
    with store.session() as s:
        rows = [*s.execute(superseding), *s.execute(reviews)]
    return [(change, as_utc(at), vote) for change, at, vote in rows]


def ratings(store: Store, filters: Filters = Filters()) -> list[tuple[Any, ...]]:
    """(variant, answer id, rater, helpfulness, honesty, harmlessness) of every rating a
    reviewer did not reject, oldest first. Dates and rater filter votes, not ratings, so
    only the mode, RAG and use-case filters apply."""
    query = (
        select(
            AnswerRow.variant_name,
            RatingRow.answer_id,
            RatingRow.rater,
            RatingRow.helpfulness,
            RatingRow.honesty,
            RatingRow.harmlessness,
        )
        .select_from(RatingRow)
        .join(AnswerRow, AnswerRow.id == RatingRow.answer_id)
        .join(TurnRow, TurnRow.id == RatingRow.turn_id)
        .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
        .where(RatingRow.id.not_in(rejected("rating")))
        .order_by(RatingRow.created_at, RatingRow.id)
    )
    filters = Filters(mode=filters.mode, rag=filters.rag, use_case=filters.use_case)
    with store.session() as s:
        return [tuple(row) for row in s.execute(filters.apply(query))]
