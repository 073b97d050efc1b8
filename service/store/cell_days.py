"""The UTC days of kept counts (the leaderboard's cells, the export dry run's shapes): a
vote's day as SQL, and a date range split into the whole days the kept counts answer and
the parts of days at its edges, which are counted from the votes; and which filters the
kept counts answer at all."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import String, func

from service.ids import as_utc
from service.store.filters import Filters
from service.store.tables import ConversationRow, TurnRow, VoteRow

NO_USE_CASE = ""  # the kept counts' use case of a conversation without one (not NULL: a key)
# Each vote counts twice: in its day's row and in this all-time one, so a read without dates
# sums one row per key rather than one per day.
ALL_DAYS = "all"


def counts_cover(filters: Filters) -> bool:
    """Whether the kept cells can answer these filters (dates always: see `pair_counts`)."""
    return (
        filters.rater is None
        and filters.campaign is None
        and filters.tag is None
        and filters.use_case != NO_USE_CASE
    )


Window = tuple[datetime | None, datetime | None]


def split_by_day(
    since: datetime | None, until: datetime | None
) -> tuple[tuple[str | None, str | None] | None, list[Window]]:
    """[since, until) as the whole UTC days it spans (first day, day after the last; None:
    unbounded; None for no whole day) and the parts of days at its edges (a naive time is
    UTC)."""
    since, until = utc(since), utc(until)
    first = ceil_day(since) if since is not None else None
    end = floor_day(until) if until is not None else None
    if (
        since is not None
        and until is not None
        and first is not None
        and end is not None
        and first >= end
    ):
        # No whole day in between: at most two days' votes, all from the votes.
        return None, [(since, until)] if since < until else []
    edges: list[Window] = []
    if since is not None and first is not None and since < first:
        edges.append((since, first))
    if until is not None and end is not None and end < until:
        edges.append((end, until))
    return (day_key(first), day_key(end)), edges


def utc(when: datetime | None) -> datetime | None:
    return None if when is None else as_utc(when)


def floor_day(when: datetime) -> datetime:
    return datetime.combine(when.date(), time(0), tzinfo=UTC)


def ceil_day(when: datetime) -> datetime:
    floor = floor_day(when)
    return floor if floor == when else floor + timedelta(days=1)


def day_key(when: datetime | None) -> str | None:
    return when.strftime("%Y-%m-%d") if when is not None else None


def cell_dims(dialect: str) -> list[Any]:
    """The cells' dimensions of a vote, as SQL over votes, turns and conversations."""
    if dialect == "postgresql":
        day = func.to_char(func.timezone("UTC", VoteRow.created_at), "YYYY-MM-DD")
    else:  # SQLite stores the UTC time as text: "YYYY-MM-DD HH:MM:SS.ffffff"
        day = func.substr(VoteRow.created_at, 1, 10, type_=String)
    return [
        day.label("day"),
        ConversationRow.mode,
        TurnRow.retrieval.is_not(None).label("rag"),
        func.coalesce(ConversationRow.use_case, NO_USE_CASE).label("use_case"),
    ]
