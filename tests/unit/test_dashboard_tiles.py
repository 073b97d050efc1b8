"""How a dashboard window is cut between the hour and the minute rollups: every minute of
the window read exactly once, each hour range on whole hours and inside one bucket."""

import itertools

import pytest

from service.store.dashboard import tiles
from service.store.rollups import HOUR


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
