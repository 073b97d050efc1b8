"""Kept aggregates against the reads they replace, in the same process, on a SQLite file and
a PostgreSQL database filled with N synthetic arena turns over 30 days (the `bench scale`
fill: tests/support/synthetic_arena.py; kept counts and rollups rebuilt after it):

- the export dry run from the shapes kept as votes arrive vs one GROUP BY over the votes
  (what it read before; both give the same summary, checked here);
- the dashboard's 7- and 30-day windows from the hour rollups (whole hours) vs every minute
  from the minute rollups (before), same points checked;
- History's first page (everyone, one rater) with the keyset indexes of migration 0018 vs
  the single-column ones they replaced (put back for the baseline, then replaced again).

    python -m bench aggregates                       # 100k turns, both databases
    BENCH_AGGREGATES_TURNS=10000 BENCH_AGGREGATES_DBS=sqlite python -m bench aggregates

Goals (issue 18, at 1M votes): dry run <= 2 s, dashboard <= 0.5 s, History first page <=
50 ms."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench._report import header, line, scratch_postgres, verdict
from service.evaluation.dashboard import series
from service.labels.exports import ExportOptions, dry_run
from service.store import Store, turns
from tests.support.synthetic_arena import ArenaShape, fill_arena, rebuild_maintained_aggregates

SIZES = [int(n) for n in os.environ.get("BENCH_AGGREGATES_TURNS", "100000").split(",")]
DATABASES = os.environ.get("BENCH_AGGREGATES_DBS", "sqlite,postgres").split(",")
# (table, index before, its columns, index after, its columns): migration 0021's (a copy:
# the bench puts the old indexes back to time before and after, and migrations are not a package).
REPLACED = [
    (
        "turns",
        "ix_turns_created_at",
        ["created_at"],
        "ix_turns_created_at_id",
        ["created_at", "id"],
    ),
    (
        "turns",
        "ix_turns_conversation_id",
        ["conversation_id"],
        "ix_turns_conversation_id_created_at",
        ["conversation_id", "created_at", "id"],
    ),
    (
        "conversations",
        "ix_conversations_rater",
        ["rater"],
        "ix_conversations_rater_id",
        ["rater", "id"],
    ),
]


def timed(fn: Callable[[], Any], runs: int = 3) -> float:
    """The median of `runs` timings, after one warm-up run."""
    fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def compare(label: str, new: float, old: float, goal_s: float) -> None:
    line(label, f"{new * 1000:,.1f} ms (before {old * 1000:,.1f} ms; x{old / new:,.1f} faster)")
    verdict(new <= goal_s, f"{label} ≤ {goal_s * 1000:,.0f} ms (goal at 1M)")


def _points(store: Store, window: str, now: datetime, *, hours: bool) -> dict[Any, float]:
    return {
        (p.series, p.variant, p.time): p.value for p in series(store, window, now=now, hours=hours)
    }


def _same(a: dict[Any, float], b: dict[Any, float]) -> bool:
    return a.keys() == b.keys() and all(abs(a[k] - b[k]) <= 1e-9 * max(1.0, abs(b[k])) for k in b)


def _indexes(store: Store, *, new: bool) -> None:
    """History's indexes as migration 0018 leaves them (`new`) or as they were before it."""
    with store.engine.begin() as conn:
        for table, old_name, old_columns, new_name, new_columns in REPLACED:
            drop, (name, columns) = (
                (old_name, (new_name, new_columns)) if new else (new_name, (old_name, old_columns))
            )
            conn.execute(sa.text(f"DROP INDEX IF EXISTS {drop}"))
            conn.execute(
                sa.text(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({', '.join(columns)})")
            )
        conn.execute(sa.text("ANALYZE"))


def _with_old_indexes(store: Store, run: Callable[[], float]) -> float:
    """`run()` with History's indexes as before migration 0018, then put back."""
    _indexes(store, new=False)
    try:
        return run()
    finally:
        _indexes(store, new=True)


def run(store: Store, n: int) -> None:
    started = time.perf_counter()
    fill = fill_arena(store, ArenaShape(turns=n, campaign_items=min(10_000, n // 10)))
    line("fill", f"{fill.votes:,} votes in {time.perf_counter() - started:,.1f} s")
    started = time.perf_counter()
    rebuild_maintained_aggregates(store)
    line("kept counts and rollups rebuilt", f"{time.perf_counter() - started:,.1f} s")

    options = ExportOptions("trl-preference")
    kept, counted = dry_run(store, options), dry_run(store, options, recount=True)
    line("dry run: kept == GROUP BY", "yes" if asdict(kept) == asdict(counted) else "NO")
    compare(
        "export dry run (trl-preference)",
        timed(lambda: dry_run(store, options)),
        timed(lambda: dry_run(store, options, recount=True), runs=1),
        2.0,
    )

    now = datetime.now(UTC)
    for window in ("last 7 days", "last 30 days"):
        same = _same(
            _points(store, window, now, hours=True), _points(store, window, now, hours=False)
        )
        line(f"dashboard {window}: hours == minutes", "yes" if same else "NO")
        compare(
            f"dashboard, {window}",
            timed(lambda w=window: series(store, w, now=now)),  # type: ignore[misc]
            timed(lambda w=window: series(store, w, now=now, hours=False)),  # type: ignore[misc]
            0.5,
        )

    def history(rater: str | None) -> Callable[[], Any]:
        return lambda: turns.turn_page(store, limit=50, rater=rater, voter=rater)

    for label, rater in (("everyone", None), ("one rater", "rater-1")):
        with_index = timed(history(rater))
        without = _with_old_indexes(store, lambda r=rater: timed(history(r)))  # type: ignore[misc]
        compare(f"History first page ({label})", with_index, without, 0.05)


@contextmanager
def _database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'aggregates.db'}"
    else:
        with scratch_postgres(f"arbiter_bench_aggregates_{os.getpid()}") as url:
            yield url


def main() -> None:
    header("Kept aggregates vs the reads they replace (same process)")
    for n in SIZES:
        for kind in DATABASES:
            print(f"\n  {kind}, {n:,} arena turns")
            with _database(kind) as url:
                store = Store(url)
                try:
                    store.upgrade()
                    run(store, n)
                finally:
                    store.dispose()


if __name__ == "__main__":
    main()
