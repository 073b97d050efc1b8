"""Time series for the in-page dashboard, read from the store: latency percentiles, TTFT,
throughput, error rate, cost, automatic scores and preference win rates, per variant and
time bucket over a window."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from service.labels import vote_records
from service.store import Store, dashboard

WINDOWS = {  # label -> (window, bucket)
    "last hour": (timedelta(hours=1), timedelta(minutes=5)),
    "last 24 hours": (timedelta(hours=24), timedelta(hours=1)),
    "last 7 days": (timedelta(days=7), timedelta(hours=6)),
}


@dataclass(frozen=True)
class Point:
    series: str  # e.g. "latency p90 (s)"
    variant: str  # or "metric · variant" for scores
    time: datetime  # the bucket's start
    value: float


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _bucket(t: datetime, since: datetime, size: timedelta) -> datetime:
    return since + size * int((_aware(t) - since) / size)


def series(
    store: Store, window: str, *, now: datetime | None = None, use_case: str | None = None
) -> list[Point]:
    """With `use_case`: only conversations of that use case."""
    span, size = WINDOWS[window]
    now = now or datetime.now(UTC)
    since = now - span
    points: list[Point] = []
    calls: dict[tuple[datetime, str], list[Any]] = defaultdict(list)
    for row in dashboard.answers_since(store, since, use_case):
        calls[(_bucket(row.created_at, since, size), row.variant_name)].append(row)
    scores: dict[tuple[datetime, str], list[float]] = defaultdict(list)
    score_rows = dashboard.scores_since(store, since, use_case)
    versions: dict[str, set[str]] = defaultdict(set)
    for _, metric, version, _, _ in score_rows:
        versions[metric].add(version)
    for at, metric, version, variant, value in score_rows:
        # Two versions of a metric in the window (a new judge, another definition): one
        # line each, never a mean over both.
        name = f"{metric} [{version}]" if len(versions[metric]) > 1 else metric
        scores[(_bucket(at, since, size), f"{name} · {variant}")].append(float(value))
    votes = dashboard.live_votes_since(store, since, use_case)
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
        points.append(
            Point("answers per minute", variant, bucket, len(rows) / (size.total_seconds() / 60))
        )
        points.append(Point("error rate", variant, bucket, 1 - len(ok) / len(rows)))
        points.append(
            Point("cost (USD)", variant, bucket, float(sum(r.cost_usd or 0.0 for r in rows)))
        )
    for (bucket, label), values in sorted(scores.items()):
        points.append(Point("score (mean)", label, bucket, float(np.mean(values))))
    results: dict[tuple[datetime, str], list[float]] = defaultdict(list)
    for record in vote_records(store, votes):
        if record.outcome in ("win", "loss", "tie"):
            bucket = _bucket(datetime.fromtimestamp(record.at, UTC), since, size)
            results[(bucket, record.variant)].append(
                {"win": 1.0, "loss": 0.0, "tie": 0.5}[record.outcome]
            )
    for (bucket, variant), values in sorted(results.items()):
        points.append(Point("win rate (ties half)", variant, bucket, float(np.mean(values))))
    latest: dict[tuple[str, str], tuple[datetime, str, bool]] = {}
    for fb in dashboard.feedback_since(store, since, use_case):  # oldest first: latest wins
        latest[(fb.answer_id, fb.rater)] = (fb.created_at, fb.variant_name, fb.positive)
    thumbs: dict[tuple[datetime, str], list[float]] = defaultdict(list)
    for at_, variant, positive in latest.values():
        thumbs[(_bucket(at_, since, size), variant)].append(1.0 if positive else 0.0)
    for (bucket, variant), values in sorted(thumbs.items()):
        points.append(Point("satisfaction (thumbs up)", variant, bucket, float(np.mean(values))))
    return points
