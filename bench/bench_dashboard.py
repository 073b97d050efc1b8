"""Read paths as labels pile up: the dashboard (24 h, 7 days), History's first page and a use
case's status, on a SQLite file and a PostgreSQL database filled with N synthetic named
turns spread over 7 days (two answers, a score each, one vote; bulk inserts through the
project's tables; rollups by `rollup_rebuild`, which the integration tests prove equal to the
maintained ones). Each is timed against the way it was read before, in the same process:
the dashboard from every raw row, History by OFFSET with one `get_turn` per listed turn,
use-case votes through one bound parameter per turn, the use-case status row by row (with
the large-sample CIs from 5,000 observations on; before them it bootstrapped every one).

BENCH_DASHBOARD_TURNS (default "100000") lists the sizes; BENCH_DASHBOARD_DBS
("sqlite,postgres") the databases. Goals at 1M votes: dashboard ≤ 0.5 s, History's first
page ≤ 50 ms, use-case status ≤ 1 s."""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from bench._report import header, line, scratch_postgres, verdict
from evals.selection import assess
from service.evaluation.dashboard import series, series_from_rows
from service.evaluation.usecases import Window, observations, spec_from_data, status
from service.ids import new_id, utcnow
from service.labels.votes import vote_records
from service.store import Store, rollup_rebuild, turns, usecases
from service.store.tables import (
    AnswerRow,
    ConversationRow,
    ScoreRow,
    TurnRow,
    UseCaseRow,
    VoteRow,
)
from service.store.votes import live_votes, vote_out

SIZES = [int(n) for n in os.environ.get("BENCH_DASHBOARD_TURNS", "100000").split(",")]
DATABASES = os.environ.get("BENCH_DASHBOARD_DBS", "sqlite,postgres").split(",")
CHUNK = 10_000
VARIANTS = ["alpha", "beta", "gamma", "delta"]
RATERS = [f"rater-{i}" for i in range(20)]
USE_CASE = "support"
SPEC = {
    "name": USE_CASE,
    "variants": VARIANTS,
    "targets": ["p90_latency_s <= 5", "win_rate >= 0.5", "error_rate <= 0.1", "rouge_l >= 0.3"],
}


def fill(store: Store, n: int, seed: int = 7) -> None:
    """n named turns over the last 7 days, 10% of them in the use case."""
    rng = random.Random(seed)
    now = utcnow()
    spec = spec_from_data(SPEC)
    with store.session() as s:
        s.execute(
            insert(UseCaseRow),
            {"id": new_id(), "name": USE_CASE, "spec": spec.model_dump(), "created_at": now},
        )
    for start in range(0, n, CHUNK):
        conversations, turn_rows, answers, scores, votes = [], [], [], [], []
        for _ in range(min(CHUNK, n - start)):
            at = now - timedelta(seconds=rng.uniform(0, 7 * 86400 - 120))
            pair = rng.sample(VARIANTS, 2)
            conv_id, turn_id = new_id(), new_id()
            conversations.append(
                {
                    "id": conv_id,
                    "variant_names": pair,
                    "mode": "named",
                    "rater": rng.choice(RATERS),
                    "use_case": USE_CASE if rng.random() < 0.1 else None,
                    "created_at": at,
                }
            )
            turn_rows.append(
                {
                    "id": turn_id,
                    "conversation_id": conv_id,
                    "position": 0,
                    "prompt": "问题 question",
                    "status": "done",
                    "retrieval": None,
                    "created_at": at,
                }
            )
            for pane, variant in enumerate(pair):
                answer_id = new_id()
                ok = rng.random() > 0.05
                answers.append(
                    {
                        "id": answer_id,
                        "turn_id": turn_id,
                        "pane": pane,
                        "variant_name": variant,
                        "variant_spec": {},
                        "request": {},
                        "text": "answer",
                        "status": "ok" if ok else "error",
                        "ttft_ms": rng.lognormvariate(5.5, 0.6) if ok else None,
                        "latency_ms": rng.lognormvariate(7.5, 0.7) if ok else None,
                        "cost_usd": rng.random() / 1000,
                        "tokens_out": rng.randint(10, 400),
                        "created_at": at + timedelta(seconds=2),
                    }
                )
                scores.append(
                    {
                        "id": new_id(),
                        "answer_id": answer_id,
                        "turn_id": turn_id,
                        "variant_name": variant,
                        "metric": "rouge_l",
                        "version": "1",
                        "value": rng.random(),
                        "error": None,
                        "detail": {},
                        "created_at": at + timedelta(seconds=5),
                    }
                )
            votes.append(
                {
                    "id": new_id(),
                    "turn_id": turn_id,
                    "outcome": rng.choice(["a", "b", "tie", "both_bad"]),
                    "ranking": None,
                    "rater": rng.choice(RATERS),
                    "supersedes_id": None,
                    "idempotency_key": None,
                    "created_at": at + timedelta(seconds=30),
                }
            )
        with store.session() as s:
            for table, rows in (
                (ConversationRow, conversations),
                (TurnRow, turn_rows),
                (AnswerRow, answers),
                (ScoreRow, scores),
                (VoteRow, votes),
            ):
                s.execute(insert(table), rows)


def history_by_offset(store: Store, rater: str) -> list[Any]:
    """History's first page as it was read before: ids by OFFSET, then each turn whole."""
    stmt = (
        select(TurnRow.id)
        .join(ConversationRow)
        .where(ConversationRow.rater == rater)
        .order_by(TurnRow.created_at.desc(), TurnRow.id.desc())
        .limit(100)
        .offset(0)
    )
    with store.session() as s:
        ids = list(s.scalars(stmt))
    return [turns.get_turn(store, i, with_request=False, voter=rater) for i in ids]


def use_case_votes_by_parameters(store: Store, window: Window) -> int:
    """The use case's vote results as they were read before: live votes, then their turns'
    panes with one bound parameter per turn (PostgreSQL refuses more than 65,535)."""
    query = (
        select(VoteRow)
        .join(TurnRow, TurnRow.id == VoteRow.turn_id)
        .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
        .where(
            live_votes(),
            ConversationRow.use_case == USE_CASE,
            VoteRow.created_at >= window.since,
            VoteRow.created_at < window.until,
        )
    )
    with store.session() as s:
        found = [vote_out(v) for v in s.scalars(query)]
    return len(vote_records(store, found))


def timed(fn: Callable[[], Any], runs: int = 3) -> float:
    """The median of `runs` timings, after one warm-up run."""
    fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def compare(label: str, fast: Callable[[], Any], slow: Callable[[], Any], goal_s: float) -> None:
    new = timed(fast)
    try:
        old = timed(slow, runs=1)
        ratio = f"{old / new:,.1f}x faster" if new else "-"
        before = f"{old * 1000:,.1f} ms"
    except Exception as exc:  # the old way fails outright on some databases
        ratio, before = "before: failed", str(exc).splitlines()[0][:90]
    line(label, f"{new * 1000:,.1f} ms (before {before}; {ratio})")
    verdict(new <= goal_s, f"{label} ≤ {goal_s * 1000:,.0f} ms")


def run(store: Store, n: int) -> None:
    started = time.perf_counter()
    fill(store, n)
    line("fill (bulk inserts)", f"{time.perf_counter() - started:,.1f} s")
    started = time.perf_counter()
    rollup_rebuild.rebuild_store(store)
    line("rollups rebuilt from the rows", f"{time.perf_counter() - started:,.1f} s")
    now = utcnow()
    for window in ("last 24 hours", "last 7 days"):
        compare(
            f"dashboard, {window}",
            lambda w=window: series(store, w, now=now),
            lambda w=window: series_from_rows(store, w, now=now),
            0.5,
        )
    compare(
        "dashboard, last 7 days, one use case",
        lambda: series(store, "last 7 days", now=now, use_case=USE_CASE),
        lambda: series_from_rows(store, "last 7 days", now=now, use_case=USE_CASE),
        0.5,
    )
    compare(
        "History first page (100 turns)",
        lambda: turns.turn_page(store, limit=100, rater=RATERS[3], voter=RATERS[3]),
        lambda: history_by_offset(store, RATERS[3]),
        0.05,
    )
    page = turns.turn_page(store, limit=100, rater=RATERS[3])
    for _ in range(20):  # 21 pages deep
        page = turns.turn_page(store, limit=100, rater=RATERS[3], after=page.next)
    deep = page.next
    line(
        "History page 22 (cursor)",
        f"{timed(lambda: turns.turn_page(store, limit=100, rater=RATERS[3], after=deep)) * 1000:,.1f} ms",
    )
    spec = spec_from_data(SPEC)
    window = Window.last(7, now=now)
    compare(
        "use-case observations (7 days)",
        lambda: observations(store, spec, window),
        lambda: (
            usecases.answers_in_window(store, USE_CASE, VARIANTS, window.since, window.until),
            use_case_votes_by_parameters(store, window),
        ),
        1.0,
    )
    # The whole status (targets, evidence, differences from the baseline): variants with
    # many answers from the rollups with large-sample CIs, against every row read one by one.
    compare(
        "use-case status (7 days, baseline alpha)",
        lambda: status(store, spec, window, baseline="alpha"),
        lambda: assess(
            spec.variants,
            observations(store, spec, window, from_rows=True),
            spec.parsed_targets(),
            min_samples=spec.min_samples,
            baseline="alpha",
        ),
        1.0,
    )


@contextmanager
def _database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'dashboard.db'}"
    else:
        with scratch_postgres("arbiter_bench_dashboard") as url:
            yield url


def main() -> None:
    header(
        "Dashboard, History and use-case status at scale (rollups and keyset vs raw rows "
        "and OFFSET, same process)"
    )
    for n in SIZES:
        for kind in DATABASES:
            print(f"\n  {kind}, {n:,} turns ({2 * n:,} answers, {n:,} votes)")
            with _database(kind) as url:
                store = Store(url)
                try:
                    store.upgrade()
                    run(store, n)
                finally:
                    store.dispose()


if __name__ == "__main__":
    main()
