"""Leaderboard pair counts at scale: a scratch SQLite file and a scratch PostgreSQL database
filled with 1,000,000 arena votes (100,000 two-answer turns with ten raters' votes each, 50
variants, over 90 days; 5% changed by a later vote, 1% rejected, a tag on 10% of turns),
then `pair_counts` timed from the kept cells against the GROUP BY over the live votes it
falls back to (ratio = the GROUP BY's time ÷ the cells'), for filters the cells cover (whole
days from the cells, the parts of days at a range's ends from the votes) and for those that
fall back (rater, tag); plus `arbiter db rebuild-counts`' recount and one more vote.
Goal: pair counts from the cells ≤ 50 ms at 1M votes on both databases."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from bench._report import header, line, median, scratch_postgres, verdict
from service.ids import new_id
from service.schemas import VoteIn
from service.store import Filters, Store, votes
from service.store.leaderboard import counts_cover, pair_counts, rebuild_counts
from service.store.tables import (
    AnswerRow,
    ConversationRow,
    LabelReviewRow,
    TurnRow,
    TurnTagRow,
    VoteRow,
)

VOTES = int(os.environ.get("BENCH_COUNTS_VOTES", "1000000"))
VARIANTS = 50
VOTES_PER_TURN = 10
DAYS = 90
CHUNK = 20_000
PG_DB = "arbiter_bench_counts"
START = datetime(2026, 9, 1, tzinfo=UTC)


def _fill(store: Store, rng: np.random.Generator) -> str:
    """Bulk inserts through the project's tables, VOTES_PER_TURN votes by different raters
    on each turn (fewer turns and answers to write; the votes are what the counts read);
    the id of one turn to vote on."""
    names = [f"variant-{k:02d}" for k in range(VARIANTS)]
    last_turn = ""
    turns_per_chunk = CHUNK // VOTES_PER_TURN
    for lo in range(0, VOTES // VOTES_PER_TURN, turns_per_chunk):
        n = min(turns_per_chunk, VOTES // VOTES_PER_TURN - lo)
        a = rng.integers(0, VARIANTS, n)
        b = (a + rng.integers(1, VARIANTS, n)) % VARIANTS
        seconds = rng.uniform(0, DAYS * 86400, (n, VOTES_PER_TURN))
        outcome = rng.choice(
            ["a", "b", "tie", "both_bad"], (n, VOTES_PER_TURN), p=[0.45, 0.45, 0.07, 0.03]
        )
        roll = rng.random((n, VOTES_PER_TURN))
        conversations, turns, answers, vote_rows, tags, reviews = [], [], [], [], [], []
        for k in range(n):
            conv, turn = new_id(), new_id()
            pair = [names[a[k]], names[b[k]]]
            when = START + timedelta(seconds=float(seconds[k].min()))
            conversations.append(
                {"id": conv, "variant_names": pair, "mode": "arena", "created_at": when}
            )
            turns.append(
                {
                    "id": turn,
                    "conversation_id": conv,
                    "position": 0,
                    "prompt": "q",
                    "status": "done",
                    "created_at": when,
                }
            )
            for pane in (0, 1):
                answers.append(
                    {
                        "id": new_id(),
                        "turn_id": turn,
                        "pane": pane,
                        "variant_name": pair[pane],
                        "variant_spec": {},
                        "request": {},
                        "text": "",
                        "status": "ok",
                        "created_at": when,
                    }
                )
            if roll[k, 0] > 0.9:
                tags.append({"turn_id": turn, "tag": "coding"})
            for v in range(VOTES_PER_TURN):
                vote_id = new_id()
                voted = START + timedelta(seconds=float(seconds[k, v]))
                vote_rows.append(
                    {
                        "id": vote_id,
                        "turn_id": turn,
                        "outcome": str(outcome[k, v]),
                        "ranking": None,
                        "rater": f"rater-{(lo + k + v) % 1000}",
                        "supersedes_id": None,
                        "idempotency_key": None,
                        "created_at": voted,
                    }
                )
                if roll[k, v] < 0.05:  # changed their mind (the same rater)
                    vote_rows.append(
                        {**vote_rows[-1], "id": new_id(), "outcome": "b", "supersedes_id": vote_id}
                    )
                elif roll[k, v] < 0.06:
                    reviews.append(
                        {
                            "id": new_id(),
                            "label_kind": "vote",
                            "label_id": vote_id,
                            "status": "rejected",
                            "reviewer": "reviewer",
                            "created_at": voted,
                        }
                    )
            last_turn = turn
        with store.session() as s:
            s.execute(sa.insert(ConversationRow), conversations)
            s.execute(sa.insert(TurnRow), turns)
            s.execute(sa.insert(AnswerRow), answers)
            s.execute(sa.insert(VoteRow), vote_rows)
            if tags:
                s.execute(sa.insert(TurnTagRow), tags)
            if reviews:
                s.execute(sa.insert(LabelReviewRow), reviews)
    return last_turn


def _time(fn: Callable[[], Any], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return median(times)


def _run(name: str, store: Store) -> bool:
    store.upgrade()
    started = time.perf_counter()
    turn_id = _fill(store, np.random.default_rng(18))
    line(f"{name}: fill", f"{time.perf_counter() - started:.0f} s for {VOTES:,} votes")
    started = time.perf_counter()
    stored, cells = rebuild_counts(store)
    line(
        f"{name}: rebuild-counts",
        f"{time.perf_counter() - started:.1f} s ({stored:,} votes into {cells:,} cells)",
    )
    day = START + timedelta(days=30)
    covered = {
        "all votes": Filters(),
        "arena, 30 whole days": Filters(mode="arena", since=day, until=day + timedelta(days=30)),
        "30 days from 12:00 (edges from the votes)": Filters(
            since=day + timedelta(hours=12), until=day + timedelta(days=30, hours=12)
        ),
    }
    fallback = {
        "one rater": Filters(rater="rater-7"),
        "tag": Filters(tag="coding"),
    }
    ok = True
    for label, filters in covered.items():
        assert counts_cover(filters)
        kept = _time(lambda f=filters: pair_counts(store, f))  # type: ignore[misc]
        grouped = _time(lambda f=filters: pair_counts(store, f, recount=True), repeat=1)  # type: ignore[misc]
        same = (
            pair_counts(store, filters).battles == pair_counts(store, filters, recount=True).battles
        )
        line(
            f"{name}: {label}",
            f"cells {kept * 1000:.1f} ms, GROUP BY {grouped:.2f} s, ratio {grouped / kept:,.0f}x"
            + ("" if same else " (COUNTS DIFFER)"),
        )
        ok = ok and same and kept <= 0.05
    for label, filters in fallback.items():
        assert not counts_cover(filters)
        grouped = _time(lambda f=filters: pair_counts(store, f), repeat=1)  # type: ignore[misc]
        line(f"{name}: fallback, {label}", f"GROUP BY {grouped:.2f} s")
    votes.cast_vote(store, turn_id, VoteIn(outcome="a"), rater="bench-extra")
    after = _time(lambda: pair_counts(store))
    line(f"{name}: all votes, after one more vote", f"cells {after * 1000:.1f} ms")
    return ok


def main() -> None:
    header(f"Pair counts from kept cells vs GROUP BY over {VOTES:,} votes")
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_store = Store(f"sqlite:///{Path(tmp, 'counts.db')}")
        try:
            ok = _run("SQLite", sqlite_store)
        finally:
            sqlite_store.dispose()
    with scratch_postgres(PG_DB) as pg_url:
        pg_store = Store(pg_url)
        try:
            ok = _run("PostgreSQL", pg_store) and ok
        finally:
            pg_store.dispose()
    verdict(ok, "pair counts from the cells ≤ 50 ms at 1M votes, equal to the GROUP BY")


if __name__ == "__main__":
    main()
