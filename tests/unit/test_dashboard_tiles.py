"""How a dashboard window is cut between the hour and the minute rollups: every minute of
the window read exactly once, each hour range on whole hours and inside one bucket."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from service.evaluation.dashboard import WINDOWS, Buckets, window_bounds
from service.store.dashboard import tiles
from service.store.rollups import HOUR, minute_of


@pytest.mark.parametrize(
    ("since", "span", "size"),
    [
        (60 * 500, 7 * 24 * 60, 6 * 60),  # 7 days in 6 h buckets, on the hour
        (60 * 500 + 17, 7 * 24 * 60, 6 * 60),  # ... 17 minutes past
        (60 * 500 + 59, 30 * 24 * 60, 24 * 60),  # 30 days in 1-day buckets
        (60 * 500 + 1, 24 * 60, 60),  # 24 h in 1 h buckets: no whole hour in any
        (60 * 500, 24 * 60, 60),  # ... unless on the hour
        (60 * 500 + 3, 60, 5),  # the last hour in 5-minute buckets
    ],
)
def test_tiles_cover_the_window_once_and_hours_stay_inside_buckets(
    since: int, span: int, size: int
) -> None:
    until = since + span
    cut = tiles(since, until, size)
    read = [m for ranges in cut.values() for a, b in ranges for m in range(a, b)]
    assert sorted(read) == list(range(since, until))  # each minute once
    for a, b in cut[HOUR]:
        assert a % HOUR == 0 and b % HOUR == 0
        for hour in range(a, b, HOUR):  # the whole hour in one bucket
            assert (hour - since) // size == (hour + HOUR - 1 - since) // size
    for ranges in cut.values():  # touching ranges are joined
        assert all(x[1] < y[0] for x, y in itertools.pairwise(ranges))
    if size < HOUR or (since % HOUR and size == HOUR):
        assert not cut[HOUR]
    if size >= 6 * HOUR:
        read_hours = sum(b - a for a, b in cut[HOUR])
        assert read_hours >= span * (size - HOUR) / size  # most of a long window


def test_without_hours_every_minute_comes_from_the_minute_rollups() -> None:
    assert tiles(120, 1000, 360, hours=False) == {1: [(120, 1000)], HOUR: []}


@pytest.mark.parametrize("offset", [0, 1, 17, 59, 61, 6 * 60 + 5])
def test_aligned_buckets_read_minutes_only_at_the_window_ends(offset: int) -> None:
    """Buckets on multiples of their size: 7 days in 6 h buckets read whole hours from the
    hour rollups everywhere but at the window's two ends (under 2 h of minute rows), and
    every minute of the window once, each from inside its own bucket."""
    now = datetime(2026, 12, 7, 0, 0, tzinfo=UTC) + timedelta(minutes=offset)
    for window in WINDOWS:
        buckets = Buckets(*window_bounds(window, now))
        since, until = minute_of(buckets.since), minute_of(buckets.until)
        size, origin = int(buckets.size.total_seconds() // 60), minute_of(buckets.origin)
        assert origin <= since and origin % size == 0 and since - origin < size
        cut = tiles(since, until, size, origin=origin)
        read = [m for ranges in cut.values() for a, b in ranges for m in range(a, b)]
        assert sorted(read) == list(range(since, until))
        for a, b in cut[HOUR]:
            for hour in range(a, b, HOUR):  # an hour row never straddles two buckets
                assert (hour - origin) // size == (hour + HOUR - 1 - origin) // size
        if size >= HOUR:
            assert sum(b - a for a, b in cut[1]) < 2 * HOUR


def test_bucket_starts_and_lengths_cover_the_window() -> None:
    """The first bucket starts on a multiple of its size before the window and is cut by it;
    the lengths add up to the window, so answers per minute divide by what each holds."""
    since = datetime(2026, 12, 1, 7, 30, tzinfo=UTC)
    buckets = Buckets(since, since + timedelta(days=7), timedelta(hours=6))
    assert buckets.origin == datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    assert buckets.start(0) == since and buckets.minutes(0) == 4 * 60 + 30
    assert buckets.start(1) == datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert buckets.of(datetime(2026, 12, 1, 13, 59, tzinfo=UTC)) == buckets.start(1)
    last = buckets.index(buckets.until - timedelta(minutes=1))
    assert buckets.minutes(last) == 90  # 06:00 to 07:30 on the last day
    assert sum(buckets.minutes(k) for k in range(last + 1)) == 7 * 24 * 60
