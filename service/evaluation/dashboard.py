"""Time series for the in-page dashboard, read from the store: latency percentiles, TTFT,
throughput, error rate, cost, automatic scores and preference win rates, per variant and
time bucket over a window."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from service.store import Store, dashboard, rollups, sketch

WINDOWS = {  # label -> (window, bucket)
    "last hour": (timedelta(hours=1), timedelta(minutes=5)),
    "last 24 hours": (timedelta(hours=24), timedelta(hours=1)),
    "last 7 days": (timedelta(days=7), timedelta(hours=6)),
    "last 30 days": (timedelta(days=30), timedelta(days=1)),
}


@dataclass(frozen=True)
class Point:
    series: str  # e.g. "latency p90 (s)"
    variant: str  # or "metric · variant" for scores
    time: datetime  # the bucket's start
    value: float


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def window_bounds(window: str, now: datetime | None = None) -> tuple[datetime, datetime, timedelta]:
    """(since, until, bucket size): the window ends at the minute after `now`, so it starts
    and ends on whole minutes, as the rollups do."""
    span, size = WINDOWS[window]
    now = _aware(now or datetime.now(UTC))
    until = now.replace(second=0, microsecond=0)
    if until < now:
        until += timedelta(minutes=1)
    return until - span, until, size


@dataclass(frozen=True)
class Buckets:
    """A window's buckets, on multiples of their size since 1970 UTC (6-hour buckets at 0,
    6, 12 and 18 h, days at midnight UTC), as Prometheus aligns a range query's steps: so a
    long window reads whole hours from the hour rollups in every bucket but its first and
    last, and a bucket holds the same traffic whenever the page is opened. The first and
    last buckets are cut by the window; a point is drawn at the start of the part inside."""

    since: datetime
    until: datetime
    size: timedelta

    @property
    def origin(self) -> datetime:
        """The start of the first bucket (at or before `since`)."""
        return EPOCH + self.size * ((self.since - EPOCH) // self.size)

    def index(self, t: datetime) -> int:
        return int((_aware(t) - self.origin) // self.size)

    def start(self, index: int) -> datetime:
        """Where the bucket's part inside the window starts."""
        return max(self.since, self.origin + self.size * index)

    def minutes(self, index: int) -> float:
        """How many minutes of the window the bucket holds."""
        end = min(self.until, self.origin + self.size * (index + 1))
        return (end - self.start(index)).total_seconds() / 60

    def of(self, t: datetime) -> datetime:
        return self.start(self.index(t))


def series(
    store: Store,
    window: str,
    *,
    now: datetime | None = None,
    use_case: str | None = None,
    hours: bool = True,
) -> list[Point]:
    """From the rollups, summed per bucket by the database: each bucket's whole hours from
    the per-hour rollups, the minutes at its ends from the per-minute ones (a few hundred
    rows for a month, whatever the traffic; the latency sketches one row per hour or minute
    and variant; `hours=False`: every minute from the minute rollups, to check them).
    Percentiles are within 1% (relative) of the exact ones (`service.store.sketch`); the
    rest is exact. With `use_case`: only conversations of that use case."""
    buckets = Buckets(*window_bounds(window, now))
    first, last = rollups.minute_of(buckets.since), rollups.minute_of(buckets.until)
    minutes = int(buckets.size.total_seconds() // 60)
    origin = rollups.minute_of(buckets.origin)

    def start(bucket: int) -> datetime:
        return buckets.start(int(bucket))

    points: list[Point] = []
    reading = dashboard.BucketWindow(first, last, minutes, use_case, hours, origin)
    sums, sketches = dashboard.answer_buckets(store, reading)
    indexes, variants, latencies, ttfts = zip(*sketches, strict=True) if sketches else ((),) * 4
    group_of: dict[tuple[int, str], int] = {}
    groups = np.fromiter(
        (group_of.setdefault(key, len(group_of)) for key in zip(indexes, variants, strict=True)),
        dtype=np.int64,
        count=len(sketches),
    )
    latency = sketch.merge_groups(list(latencies), groups)
    ttft = sketch.merge_groups(list(ttfts), groups)
    for bucket, variant, answers, ok, cost in sorted(sums, key=lambda r: (int(r[0]), r[1])):
        if not answers:
            continue
        group = group_of.get((bucket, variant), -1)
        at = start(bucket)
        if group in latency:
            for q in (50, 90, 99):
                value = sketch.percentile(*latency[group], q) / 1000
                points.append(Point(f"latency p{q} (s)", variant, at, value))
        if group in ttft:
            value = sketch.percentile(*ttft[group], 50) / 1000
            points.append(Point("time to first token p50 (s)", variant, at, value))
        per_minute = int(answers) / buckets.minutes(int(bucket))
        points.append(Point("answers per minute", variant, at, per_minute))
        points.append(Point("error rate", variant, at, 1 - int(ok) / int(answers)))
        points.append(Point("cost (USD)", variant, at, float(cost or 0.0)))
    score_rows = dashboard.score_buckets(store, reading)
    versions: dict[str, set[str]] = defaultdict(set)
    for _, metric, version, *_ in score_rows:
        versions[metric].add(version)
    # Two versions of a metric in the window (a new judge, another definition): one line
    # each, never a mean over both.
    labelled = [
        (
            int(bucket),
            f"{metric} [{version}]" if len(versions[metric]) > 1 else metric,
            variant,
            n,
            total,
        )
        for bucket, metric, version, variant, n, total in score_rows
    ]
    for bucket, name, variant, n, total in sorted(
        labelled, key=lambda r: (r[0], f"{r[1]} · {r[2]}")
    ):
        if n:
            points.append(
                Point("score (mean)", f"{name} · {variant}", start(bucket), float(total) / int(n))
            )
    for bucket, variant, wins, losses, ties in sorted(
        dashboard.vote_buckets(store, reading),
        key=lambda r: (int(r[0]), r[1]),
    ):
        played = int(wins) + int(losses) + int(ties)
        if played:
            value = (int(wins) + 0.5 * int(ties)) / played
            points.append(Point("win rate (ties half)", variant, start(bucket), value))
    points += _thumbs(store, buckets, use_case)
    return points


def _thumbs(store: Store, buckets: Buckets, use_case: str | None) -> list[Point]:
    latest: dict[tuple[str, str], tuple[datetime, str, bool]] = {}
    for fb in dashboard.feedback_since(store, buckets.since, use_case):  # oldest first: latest wins
        latest[(fb.answer_id, fb.rater)] = (fb.created_at, fb.variant_name, fb.positive)
    thumbs: dict[tuple[datetime, str], list[float]] = defaultdict(list)
    for at_, variant, positive in latest.values():
        thumbs[(buckets.of(at_), variant)].append(1.0 if positive else 0.0)
    return [
        Point("satisfaction (thumbs up)", variant, bucket, float(np.mean(values)))
        for (bucket, variant), values in sorted(thumbs.items())
    ]


def series_from_rows(
    store: Store, window: str, *, now: datetime | None = None, use_case: str | None = None
) -> list[Point]:
    """The same series computed from every row in the window (exact percentiles): what
    `series` computed before the rollups, kept to check them and to measure the gain."""
    buckets = Buckets(*window_bounds(window, now))
    since = buckets.since
    points: list[Point] = []
    calls: dict[tuple[datetime, str], list[Any]] = defaultdict(list)
    for row in dashboard.answers_since(store, since, use_case):
        calls[(buckets.of(row.created_at), row.variant_name)].append(row)
    scores: dict[tuple[datetime, str], list[float]] = defaultdict(list)
    score_rows = dashboard.scores_since(store, since, use_case)
    versions: dict[str, set[str]] = defaultdict(set)
    for _, metric, version, _, _ in score_rows:
        versions[metric].add(version)
    for at, metric, version, variant, value in score_rows:
        # Two versions of a metric in the window (a new judge, another definition): one
        # line each, never a mean over both.
        name = f"{metric} [{version}]" if len(versions[metric]) > 1 else metric
        scores[(buckets.of(at), f"{name} · {variant}")].append(float(value))
    for (bucket, variant), rows in sorted(calls.items()):
        ok = [r for r in rows if r.status == "ok"]
        latencies = [r.latency_ms / 1000 for r in ok if r.latency_ms is not None]
        ttfts = [r.ttft_ms / 1000 for r in ok if r.ttft_ms is not None]
        for q in (50, 90, 99):
            if latencies:
                points.append(
                    Point(f"latency p{q} (s)", variant, bucket, float(np.percentile(latencies, q)))
                )
        if ttfts:
            points.append(
                Point(
                    "time to first token p50 (s)", variant, bucket, float(np.percentile(ttfts, 50))
                )
            )
        per_minute = len(rows) / buckets.minutes(buckets.index(bucket))
        points.append(Point("answers per minute", variant, bucket, per_minute))
        points.append(Point("error rate", variant, bucket, 1 - len(ok) / len(rows)))
        points.append(
            Point("cost (USD)", variant, bucket, float(sum(r.cost_usd or 0.0 for r in rows)))
        )
    for (bucket, label), values in sorted(scores.items()):
        points.append(Point("score (mean)", label, bucket, float(np.mean(values))))
    by_vote: dict[str, list[Any]] = defaultdict(list)
    for row in dashboard.live_vote_answers_since(store, since, use_case):
        by_vote[row.id].append(row)
    results: dict[tuple[datetime, str], list[float]] = defaultdict(list)
    for answers in by_vote.values():
        first = answers[0]
        variants = {a.pane: a.variant_name for a in answers}
        bucket = buckets.of(first.created_at)
        for pane, outcome in rollups.pane_results(first.outcome, first.ranking, variants).items():
            if outcome in ("win", "loss", "tie"):
                results[(bucket, variants[pane])].append(
                    {"win": 1.0, "loss": 0.0, "tie": 0.5}[outcome]
                )
    for (bucket, variant), values in sorted(results.items()):
        points.append(Point("win rate (ties half)", variant, bucket, float(np.mean(values))))
    points += _thumbs(store, buckets, use_case)
    return points
