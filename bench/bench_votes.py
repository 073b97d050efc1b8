"""Vote ingestion: votes/s through the HTTP API (`POST /api/votes`, batches of 500, four
client threads, `arbiter serve` in its own process) on SQLite and on PostgreSQL, vs a raw
SQL insert loop (SQLAlchemy executemany, batches of 500) on the same database. Several
rounds of each (one round lasts a few seconds, too short to be steady on a shared machine);
the median round is the figure, the slowest and fastest its spread. Every vote is counted
afterwards, and the leaderboard's kept counts (updated in each vote's transaction) checked
against a rebuild from the votes. Goal (issue 18): ≥ 10,000 votes/s on both."""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import sqlalchemy as sa

from bench._report import header, line, scratch_postgres, verdict
from service.ids import new_id, utcnow
from service.store import Store
from service.store.leaderboard import pair_counts, rebuild_counts
from service.store.tables import VoteRow
from tests.support.processes import arbiter_process, fake_openai_process, openai_variants_toml

VOTES = int(os.environ.get("BENCH_VOTES", "20000"))  # per round
ROUNDS = int(os.environ.get("BENCH_VOTES_ROUNDS", "5"))
BATCH = 500
THREADS = 4
PG_DB = f"arbiter_bench_votes_{os.getpid()}"  # the machine may be shared


def _turns(url: str) -> list[str]:
    with httpx.Client(timeout=60) as client:
        return [
            client.post(f"{url}/api/compare", json={"prompt": "q", "variants": ["a", "b"]}).json()[
                "id"
            ]
            for _ in range(20)
        ]


def _through_api(url: str, turn_ids: list[str], round_: int) -> float:
    """One round: VOTES new votes (new raters, new keys) on the same turns."""
    votes = [
        {
            "turn_id": turn_ids[k % len(turn_ids)],
            "outcome": ("a", "b", "tie")[k % 3],
            "on_behalf_of": f"rater-{round_}-{k}",
            "idempotency_key": f"bench-{round_}-{k}",
        }
        for k in range(VOTES)
    ]
    batches = [votes[i : i + BATCH] for i in range(0, VOTES, BATCH)]
    failures: list[int] = []

    def send(part: list[list[dict[str, str]]]) -> None:
        with httpx.Client(timeout=120) as client:
            for batch in part:
                r = client.post(f"{url}/api/votes", json={"votes": batch})
                if r.status_code != 201:
                    failures.append(r.status_code)

    threads = [threading.Thread(target=send, args=(batches[t::THREADS],)) for t in range(THREADS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} batches failed: {failures[:5]}")
    return elapsed


def _raw(database_url: str, round_: int) -> float:
    """The baseline: the same number of vote rows inserted straight into the table."""
    store = Store(database_url)
    with store.session() as s:
        turn_id = s.execute(sa.text("SELECT id FROM turns LIMIT 1")).scalar_one()
    rows = [
        {
            "id": new_id(),
            "turn_id": turn_id,
            "outcome": "a",
            "ranking": None,
            "rater": f"raw-{round_}-{k}",
            "supersedes_id": None,
            "idempotency_key": f"raw-{round_}-{k}",
            "created_at": utcnow(),
        }
        for k in range(VOTES)
    ]
    started = time.perf_counter()
    for i in range(0, VOTES, BATCH):
        with store.session() as s:
            s.execute(sa.insert(VoteRow), rows[i : i + BATCH])
    elapsed = time.perf_counter() - started
    store.dispose()
    return elapsed


def _count(database_url: str) -> int:
    store = Store(database_url)
    with store.session() as s:
        n = int(
            s.execute(sa.text("SELECT count(*) FROM votes WHERE rater LIKE 'rater-%'")).scalar_one()
        )
    store.dispose()
    return n


def _kept_counts_match_a_rebuild(database_url: str) -> bool:
    store = Store(database_url)
    try:
        kept = pair_counts(store)
        rebuild_counts(store)
        again = pair_counts(store)
    finally:
        store.dispose()
    return kept.battles == again.battles == VOTES * ROUNDS and all(
        np.array_equal(getattr(kept, f), getattr(again, f)) for f in ("wins", "losses", "ties")
    )


def _run(name: str, database_url: str, base_url: str, home: Path, goal: float) -> None:
    (home / "arbiter.toml").write_text(openai_variants_toml(base_url))
    env = {
        "ARBITER_DATABASE_URL": database_url,
        "ARBITER_RAG_SAMPLE_CORPUS": "false",
        "ARBITER_ONLINE_METRICS": "",
    }
    with arbiter_process(home, env=env, timeout_s=300) as url:  # a busy machine starts slowly
        turn_ids = _turns(url)
        rates = [VOTES / _through_api(url, turn_ids, r) for r in range(ROUNDS)]
    stored = _count(database_url)
    counted = _kept_counts_match_a_rebuild(database_url)  # before the raw rows, not counted
    raw_rates = [VOTES / _raw(database_url, r) for r in range(ROUNDS)]
    rate, raw_rate = statistics.median(rates), statistics.median(raw_rates)
    line(
        f"{name}: through the API",
        f"{rate:,.0f} votes/s (median of {ROUNDS}; {min(rates):,.0f} to {max(rates):,.0f})",
    )
    line(
        f"{name}: raw insert loop",
        f"{raw_rate:,.0f} votes/s ({min(raw_rates):,.0f} to {max(raw_rates):,.0f})",
    )
    line(f"{name}: API ÷ raw", f"{rate / raw_rate:.3f}")
    line(f"{name}: votes stored", f"{stored:,} of {VOTES * ROUNDS:,}")
    line(f"{name}: kept counts == rebuild", "yes" if counted else "NO")
    verdict(
        rate >= goal and stored == VOTES * ROUNDS and counted,
        f"≥ {goal:,.0f} votes/s on {name}, nothing lost, every vote counted",
    )


def main() -> None:
    header(
        f"Vote ingestion: {ROUNDS} rounds of {VOTES:,} votes in batches of {BATCH}, "
        f"{THREADS} client threads"
    )
    with fake_openai_process(tokens=2) as base_url, tempfile.TemporaryDirectory() as tmp:
        sqlite_home = Path(tmp, "sqlite")
        sqlite_home.mkdir()
        _run("SQLite", f"sqlite:///{sqlite_home / 'arbiter.db'}", base_url, sqlite_home, 10_000)
        pg_home = Path(tmp, "pg")
        pg_home.mkdir()
        with scratch_postgres(PG_DB) as pg_url:
            _run("PostgreSQL", pg_url, base_url, pg_home, 10_000)


if __name__ == "__main__":
    main()
