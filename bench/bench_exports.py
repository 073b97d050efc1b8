"""Exports at scale: a full trl-preference export of N pairs streamed to JSONL (records read
in batches, written line by line) vs the baseline that builds every record in memory first
(`prepare`, what exports did before), and the dry run from aggregates vs the dry run that
reads every record — on SQLite and PostgreSQL. The floor: the same live votes with their
turns and answers read by one plain query (SQLAlchemy Core, rows fetched and dropped); the
streamed export's time over the floor's says how much the records themselves cost. Each
measurement runs in a fresh process, so its peak RSS growth (the highest RSS sampled minus
the RSS before it started) is its own; two sizes show whether memory stays flat. Goals at
1M votes (BENCH_EXPORT_SIZES=100000,1000000): dry run ≤ 2 s, full export ≤ 60 s with RSS
growth ≤ 300 MB, i.e. ≥ ~15,000 records/s."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench._report import header, line, scratch_postgres, verdict
from service.labels.exports import (
    ExportOptions,
    ExportSummary,
    detailed_dry_run,
    dry_run,
    export,
    prepare,
)
from service.store import Filters, Store
from service.store.tables import AnswerRow, ConversationRow, TurnRow, VoteRow
from service.store.votes import live_votes
from tests.support.bulk import fill

SIZES = [int(s) for s in os.environ.get("BENCH_EXPORT_SIZES", "10000,100000").split(",")]
PG_DB = "arbiter_bench_exports"
KINDS = (
    "dry run (aggregates)",
    "dry run (every record)",
    "export (streamed)",
    "export (in memory)",
    "floor: the rows read, nothing built",
)


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _PeakRss:
    """The highest RSS while it runs, sampled every 5 ms (ru_maxrss would also count the
    imports' transient peak, before the measurement starts)."""

    def __init__(self) -> None:
        self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss())

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())


def _floor(store: Store, since: datetime) -> int:
    """Read what a trl-preference export reads (live votes, turns, answers; JSON columns as
    their text) and build nothing: how many votes."""
    query = (
        sa.select(
            VoteRow.id,
            VoteRow.outcome,
            sa.cast(VoteRow.ranking, sa.Text),
            VoteRow.rater,
            VoteRow.created_at,
            TurnRow.conversation_id,
            ConversationRow.mode,
            TurnRow.prompt,
            TurnRow.created_at,
            AnswerRow.id,
            AnswerRow.pane,
            AnswerRow.variant_name,
            AnswerRow.status,
            AnswerRow.text,
            sa.cast(AnswerRow.request, sa.Text),  # JSON as stored, not decoded
            sa.cast(AnswerRow.variant_spec, sa.Text),
            sa.cast(AnswerRow.context_refs, sa.Text),
        )
        .join(TurnRow, TurnRow.id == VoteRow.turn_id)
        .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
        .outerjoin(AnswerRow, AnswerRow.turn_id == TurnRow.id)
        .where(live_votes(), VoteRow.created_at >= since)
        .order_by(VoteRow.id, AnswerRow.pane)
    )
    seen: set[str] = set()
    with store.engine.connect() as conn:
        for batch in conn.execution_options(yield_per=1000).execute(query).partitions():
            seen.update(row[0] for row in batch)
    return len(seen)


def _measure(url: str, kind: str, votes: int, out: str) -> dict[str, Any]:
    """One measurement, in this (fresh) process: the newest `votes` votes (one a second)."""
    store = Store(url)
    with store.session() as s:
        newest = s.scalar(sa.select(sa.func.max(VoteRow.created_at)))
    assert isinstance(newest, datetime), "no votes"
    since = newest - timedelta(seconds=votes - 0.5)  # `fill` spaces votes one second apart
    options = ExportOptions("trl-preference", filters=Filters(since=since))
    dry_run(store, ExportOptions("trl-kto", filters=Filters(since=newest)))  # warm up
    before = _rss()
    with _PeakRss() as rss:
        started = time.perf_counter()
        if kind == KINDS[0]:
            summary = dry_run(store, options)
        elif kind == KINDS[1]:
            summary = detailed_dry_run(store, options)
        elif kind == KINDS[2]:
            summary = export(store, options, out)
        elif kind == KINDS[4]:
            summary = ExportSummary("trl-preference", records=_floor(store, since))
        else:
            splits, summary = prepare(store, options)
            with open(out, "w", encoding="utf-8") as f:
                for row in splits.get("all", []):
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
        elapsed = time.perf_counter() - started
    store.dispose()
    return {"s": elapsed, "records": summary.records, "rss_mb": (rss.peak - before) / 2**20}


def _in_fresh_process(url: str, kind: str, votes: int, out: str) -> dict[str, Any]:
    # This file by its path, the code it measures from PYTHONPATH (default: here), so the
    # same measurement runs against another checkout: PYTHONPATH=/other python <this file>.
    path = os.environ.get("PYTHONPATH") or os.getcwd()
    done = subprocess.run(
        [sys.executable, __file__, "--measure", url, kind, str(votes), out],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": path},
    )
    if done.returncode:
        raise RuntimeError(f"{kind} at {votes:,} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _run(name: str, url: str, folder: Path) -> None:
    store = Store(url)
    store.upgrade()
    started = time.perf_counter()
    fill(store, max(SIZES))
    line(f"{name}: filled", f"{max(SIZES):,} voted turns in {time.perf_counter() - started:.0f} s")
    store.dispose()
    results: dict[tuple[str, int], dict[str, Any]] = {}
    for votes in SIZES:
        for kind in KINDS:
            r = _in_fresh_process(url, kind, votes, str(folder / f"{name}-{votes}.jsonl"))
            results[(kind, votes)] = r
            rate = r["records"] / r["s"] if r["s"] else 0.0
            unit = "votes" if kind == KINDS[4] else "records"
            line(
                f"{name} {votes:,}: {kind}",
                f"{r['s']:.2f} s, {r['records']:,} {unit} ({rate:,.0f}/s), "
                f"RSS +{r['rss_mb']:.0f} MB",
            )
    big, small = max(SIZES), min(SIZES)
    stream, memory = results[(KINDS[2], big)], results[(KINDS[3], big)]
    floor = results[(KINDS[4], big)]
    line(f"{name} {big:,}: streamed ÷ floor time", f"{stream['s'] / floor['s']:.2f}")
    quick, full = results[(KINDS[0], big)], results[(KINDS[1], big)]
    line(f"{name} {big:,}: streamed ÷ in-memory time", f"{stream['s'] / memory['s']:.2f}")
    line(
        f"{name} {big:,}: streamed ÷ in-memory RSS growth",
        f"{stream['rss_mb'] / max(memory['rss_mb'], 1):.2f}",
    )
    line(f"{name} {big:,}: dry run aggregates ÷ records", f"{quick['s'] / full['s']:.3f}")
    growth = stream["rss_mb"] - results[(KINDS[2], small)]["rss_mb"]
    verdict(
        growth <= 50,
        f"streamed export's RSS flat from {small:,} to {big:,} votes (+{growth:.0f} MB ≤ 50 MB)",
    )
    scale = f"at {big:,} votes" + ("" if big >= 1_000_000 else " (the goals are for 1M)")
    verdict(quick["s"] <= 2, f"dry run ≤ 2 s {scale}: {quick['s']:.2f} s")
    verdict(
        stream["s"] <= 60 and stream["rss_mb"] <= 300,
        f"full export ≤ 60 s, RSS growth ≤ 300 MB {scale}: "
        f"{stream['s']:.1f} s, +{stream['rss_mb']:.0f} MB",
    )


def main() -> None:
    header(f"Exports: trl-preference of {', '.join(f'{n:,}' for n in SIZES)} voted turns")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _run("SQLite", f"sqlite:///{folder / 'arbiter.db'}", folder)
        with scratch_postgres(PG_DB) as pg_url:
            _run("PostgreSQL", pg_url, folder)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--measure"]:
        url, kind, votes, out = sys.argv[2:6]
        print(json.dumps(_measure(url, kind, int(votes), out)))
    else:
        main()
