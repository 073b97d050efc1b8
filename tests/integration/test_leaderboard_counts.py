"""The leaderboard's kept counts (cells) against SQLite and PostgreSQL: after random votes,
supersedes, reviews and rankings from concurrent writers, the cells equal a rebuild from the
votes and an independent count in Python; the leaderboard from the cells equals the one
from the GROUP BY fallback; a vote racing its own supersede, reviews of superseded votes,
and day-aligned date filters."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import sqlalchemy as sa
from alembic import command

from evals.leaderboard import PairCounts, build
from service.errors import ArbiterError
from service.ids import new_id
from service.schemas import BatchVoteIn, VoteIn
from service.store import Filters, Store, label_reviews, votes
from service.store.leaderboard import counts_cover, pair_counts, rebuild_counts
from service.store.migrate import alembic_config
from service.store.tables import LabelReviewRow, LeaderboardCellRow, VoteRow
from service.store.votes import live_votes
from tests.support.answered import answered_turn
from tests.support.cli import run as run_cli
from tests.support.fixtures import served_database
from tests.support.live_votes import live_votes_in_python, panes_in_python
from tests.support.processes import (
    ServerProcess,
    arbiter_server,
    fake_openai_process,
    openai_variants_toml,
)

VARIANTS = ["alpha", "beta", "gamma", "δέλτα", "模型"]


def make_turn(store: Store, variants: list[str], **options: Any) -> str:
    return answered_turn(store, variants, **options)


def cells(store: Store) -> dict[tuple[Any, ...], int]:
    """The kept cells that count something."""
    c = LeaderboardCellRow
    with store.session() as s:
        rows = s.execute(
            sa.select(
                c.day, c.mode, c.rag, c.use_case, c.variant_x, c.variant_y, c.outcome, c.n
            ).where(c.n != 0)
        ).all()
    return {tuple(r[:-1]): int(r[-1]) for r in rows}


def counted_in_python(store: Store) -> Counter[tuple[str, str, str]]:
    """Live votes counted without the store's queries: the oracle."""
    panes = panes_in_python(store)
    counts: Counter[tuple[str, str, str]] = Counter()
    for vote in live_votes_in_python(store):
        turn_id, outcome, ranking = vote.turn_id, vote.outcome, vote.ranking
        by_pane = panes.get(turn_id, {})
        if outcome == "ranking":
            ordered = [by_pane[p] for p in ranking]
            for i, x in enumerate(ordered):
                for y in ordered[i + 1 :]:
                    counts[(x, y, "a")] += 1
        elif 0 in by_pane and 1 in by_pane:
            counts[(by_pane[0], by_pane[1], "tie" if outcome == "both_bad" else outcome)] += 1
    return counts


def as_cells(counts: PairCounts) -> dict[tuple[str, str], tuple[float, float, float]]:
    return {
        (counts.models[i], counts.models[j]): (w, lo, t)
        for i, j, w, lo, t in zip(
            counts.i, counts.j, counts.wins, counts.losses, counts.ties, strict=True
        )
    }


def oracle_pairs(counts: Counter[tuple[str, str, str]]) -> dict[tuple[str, str], Any]:
    cells_: dict[tuple[str, str], tuple[float, float, float]] = {}
    for (x, y, outcome), n in counts.items():
        won, lost, tied = cells_.get((x, y), (0.0, 0.0, 0.0))
        cells_[(x, y)] = (
            won + n * (outcome == "a"),
            lost + n * (outcome == "b"),
            tied + n * (outcome == "tie"),
        )
    return as_cells(PairCounts.from_cells(cells_))


def same_board(store: Store, filters: Filters, *, fit: bool = True) -> None:
    """The leaderboard from the cells is the leaderboard from the GROUP BY over the votes."""
    assert counts_cover(filters)
    kept, recounted = pair_counts(store, filters), pair_counts(store, filters, recount=True)
    assert as_cells(kept) == as_cells(recounted), filters
    if not fit:
        return
    a, b = build(kept, rounds=20), build(recounted, rounds=20)
    assert a.rows == b.rows and a.models == b.models and a.battles == b.battles
    assert np.array_equal(a.battle_matrix, b.battle_matrix)
    assert np.array_equal(a.win_matrix, b.win_matrix, equal_nan=True)


def test_kept_counts_equal_a_rebuild_after_random_concurrent_writes(store: Store) -> None:
    rng = random.Random(18)
    named = [
        make_turn(
            store,
            rng.sample(VARIANTS, 2),
            use_case=rng.choice([None, "support"]),
            retrieval=rng.choice([None, {"collection": "sample", "chunks": []}]),
            tags=rng.choice([[], ["coding"]]),
        )
        for _ in range(8)
    ]
    ranked = [make_turn(store, rng.sample(VARIANTS, k)) for k in (3, 3, 4)]
    arena = [make_turn(store, rng.sample(VARIANTS, 2), mode="arena") for _ in range(4)]
    lonely = make_turn(store, ["alpha"])  # one pane: a tie on it counts nowhere
    panes = {t: 2 for t in named + arena} | {t: 3 for t in ranked[:2]} | {ranked[2]: 4}
    panes[lonely] = 1
    raters = [f"r{k}" for k in range(4)] + ["评审员"]
    errors: list[BaseException] = []

    def a_vote(r: random.Random) -> tuple[str, VoteIn | BatchVoteIn]:
        turn_id = r.choice(list(panes))
        if panes[turn_id] > 2 and r.random() < 0.7:
            ranking = list(range(panes[turn_id]))
            r.shuffle(ranking)
            return turn_id, BatchVoteIn(turn_id=turn_id, outcome="ranking", ranking=ranking)
        if panes[turn_id] == 1:
            return turn_id, BatchVoteIn(turn_id=turn_id, outcome="tie")
        outcome = r.choice(["a", "b", "tie", "both_bad"])
        return turn_id, BatchVoteIn(turn_id=turn_id, outcome=outcome)

    def writer(seed: int) -> None:
        r = random.Random(seed)
        try:
            for _ in range(40):
                roll = r.random()
                try:
                    if roll < 0.5:
                        turn_id, vote = a_vote(r)
                        votes.cast_vote(store, turn_id, vote, rater=r.choice(raters))
                    elif roll < 0.7:
                        batch = [a_vote(r)[1] for _ in range(r.randint(1, 8))]
                        votes.cast_votes(store, batch, [r.choice(raters) for _ in batch])  # type: ignore[arg-type]
                    else:
                        with store.session() as s:
                            ids = list(s.scalars(sa.select(VoteRow.id)))
                        if ids:
                            label_reviews.add_review(
                                store,
                                "vote",
                                r.choice(ids),
                                r.choice(["rejected", "rejected", "accepted"]),
                                "reviewer",
                                None,
                            )
                except ArbiterError as exc:  # a second vote on a blind battle, refused
                    assert exc.code == "already_voted", exc
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors

    with store.session() as s:
        stored = s.scalar(sa.select(sa.func.count()).select_from(VoteRow))
        live = s.scalar(sa.select(sa.func.count()).select_from(VoteRow).where(live_votes()))
        reviewed = s.scalar(sa.select(sa.func.count()).select_from(LabelReviewRow))
    assert stored and live and reviewed and live < stored  # supersedes and reviews happened

    kept = cells(store)
    assert kept  # the writes counted something
    assert rebuild_counts(store)[0] == stored
    assert cells(store) == kept
    assert rebuild_counts(store)[0] == stored  # idempotent
    assert cells(store) == kept
    assert as_cells(pair_counts(store)) == oracle_pairs(counted_in_python(store))

    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    for filters in (
        Filters(),
        Filters(mode="arena"),
        Filters(mode="named", rag=True),
        Filters(rag=False),
        Filters(use_case="support"),
        Filters(since=today, until=today + timedelta(days=1)),
        Filters(until=today),
    ):
        same_board(store, filters)


def test_votes_racing_their_own_supersede_leave_one_counted(store: Store) -> None:
    turn_id = make_turn(store, ["alpha", "beta"])
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def cast(k: int) -> None:
        try:
            start.wait()
            vote = VoteIn(outcome=["a", "b", "tie", "both_bad"][k % 4])
            votes.cast_vote(store, turn_id, vote, rater="r1")
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=cast, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    history = votes.vote_history(store, turn_id)
    assert len(history) == 8
    assert sorted(h.supersedes_id or "" for h in history)[1:] == sorted(h.id for h in history)[:-1]
    assert pair_counts(store).battles == 1
    kept = cells(store)
    rebuild_counts(store)
    assert cells(store) == kept and sum(kept.values()) == 2  # its day's cell and the all-days one


def test_a_review_of_a_vote_that_no_longer_counts_changes_nothing(store: Store) -> None:
    turn_id = make_turn(store, ["alpha", "beta"])

    def tally() -> tuple[float, float, float]:
        counts = pair_counts(store)
        assert as_cells(counts) == as_cells(pair_counts(store, recount=True))
        return (
            (float(counts.wins.sum()), float(counts.losses.sum()), float(counts.ties.sum()))
            if counts.models
            else (0.0, 0.0, 0.0)
        )

    def review(vote_id: str, status: str) -> None:
        label_reviews.add_review(store, "vote", vote_id, status, "reviewer", None)

    first = votes.cast_vote(store, turn_id, VoteIn(outcome="a"), rater="r1")
    assert tally() == (1, 0, 0)
    second = votes.cast_vote(store, turn_id, VoteIn(outcome="b"), rater="r1")
    assert tally() == (0, 1, 0)  # the first one's cell taken away
    review(first.id, "rejected")  # superseded already: no second decrement
    assert tally() == (0, 1, 0)
    review(first.id, "accepted")  # nor an increment when restored
    assert tally() == (0, 1, 0)
    review(second.id, "rejected")
    assert tally() == (0, 0, 0)
    review(second.id, "rejected")  # rejected again: already not counted
    assert tally() == (0, 0, 0)
    third = votes.cast_vote(store, turn_id, VoteIn(outcome="tie"), rater="r1")
    assert third.supersedes_id == second.id
    assert tally() == (0, 0, 1)  # the rejected vote it supersedes was not counted
    review(second.id, "accepted")  # restoring a superseded vote: still not counted
    assert tally() == (0, 0, 1)
    batch = votes.cast_votes(
        store,
        [BatchVoteIn(turn_id=turn_id, outcome="a"), BatchVoteIn(turn_id=turn_id, outcome="b")],
        ["r1", "r1"],
    )
    assert batch[1].supersedes_id == batch[0].id
    assert tally() == (0, 1, 0)  # only the batch's last vote counts
    kept = cells(store)
    rebuild_counts(store)
    assert cells(store) == kept


def test_day_cells_answer_whole_day_filters_as_the_votes_do(store: Store) -> None:
    """Votes stamped around midnight UTC, counted by a rebuild: every window, its whole days
    read from the cells and the parts of days at its ends from the votes, equals the GROUP
    BY over the votes."""
    turn_id = make_turn(store, ["alpha", "beta"])
    midnight = datetime(2026, 11, 30, tzinfo=UTC)
    stamps = [
        midnight - timedelta(microseconds=1),
        midnight,
        midnight + timedelta(hours=23, minutes=59, seconds=59),
        midnight + timedelta(days=1, hours=1),
        midnight + timedelta(days=3, hours=12),
    ]
    with store.session() as s:
        s.execute(
            sa.insert(VoteRow),
            [
                {
                    "id": new_id(),
                    "turn_id": turn_id,
                    "outcome": ["a", "b", "tie", "a", "both_bad"][k],
                    "ranking": None,
                    "rater": f"r{k}",
                    "supersedes_id": None,
                    "idempotency_key": None,
                    "created_at": when,
                }
                for k, when in enumerate(stamps)
            ],
        )
    assert rebuild_counts(store) == (5, 5 + 3)  # a cell per day and outcome, and all days'
    days = {key[0] for key in cells(store)}
    assert days == {"2026-11-29", "2026-11-30", "2026-12-01", "2026-12-03", "all"}
    for start in range(-2, 5):
        for length in (1, 2, 4):
            since = midnight + timedelta(days=start)
            same_board(store, Filters(since=since, until=since + timedelta(days=length)))
    rng = random.Random(30)
    bounds = [*stamps, midnight + timedelta(hours=1), None]
    bounds += [midnight + timedelta(hours=rng.uniform(-60, 110)) for _ in range(8)]
    for since in bounds:
        for until in bounds:
            same_board(store, Filters(since=since, until=until), fit=False)
    naive = Filters(since=datetime(2026, 11, 30, 12), until=datetime(2026, 12, 3, 13))
    same_board(store, naive)  # a naive time is UTC
    assert pair_counts(store, naive).battles == 3
    assert pair_counts(store, Filters(since=midnight + timedelta(hours=1))).battles == 3
    assert not counts_cover(Filters(rater="r1"))
    assert pair_counts(store, Filters(rater="r1")).battles == 1


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_counts_equal_a_rebuild_after_kill_9_under_vote_load(database: str, tmp_path: Path) -> None:
    """A vote and its count share one transaction: `arbiter serve` killed with SIGKILL
    while clients vote leaves no vote without its count, nor a count without its vote."""
    home = tmp_path / "home"
    home.mkdir()
    with served_database(database, home) as (url, open_store):
        with fake_openai_process(tokens=2) as base_url:
            (home / "arbiter.toml").write_text(openai_variants_toml(base_url, ("a", "b", "c")))
            env = {
                "ARBITER_DATABASE_URL": url,
                "ARBITER_RAG_SAMPLE_CORPUS": "false",
                "ARBITER_ONLINE_METRICS": "",
            }
            # A busy machine (parallel CI, shared runners) starts the server slowly.
            with arbiter_server(home, env=env, timeout_s=300) as server:
                stored = _vote_until_killed(server)
        store = open_store()
        try:
            kept = cells(store)
            with store.session() as s:
                in_store = s.scalar(sa.select(sa.func.count()).select_from(VoteRow))
            # Every acknowledged vote is stored; a batch cut off by the kill may be too.
            assert stored > 0 and kept and in_store is not None and in_store >= stored
            rebuild_counts(store)
            assert cells(store) == kept
            assert as_cells(pair_counts(store)) == oracle_pairs(counted_in_python(store))
        finally:
            store.dispose()


def _vote_until_killed(server: ServerProcess) -> int:
    """Votes from three clients (batches with supersedes, rankings, single votes) until the
    server is killed mid-load; how many batches it acknowledged."""
    url = server.url
    with httpx.Client(timeout=30) as client:
        turn_panes = {}
        for variants in (["a", "b"], ["b", "c"], ["c", "a"], ["a", "b", "c"]) * 3:
            r = client.post(f"{url}/api/compare", json={"prompt": "q", "variants": variants})
            assert r.status_code == 200, r.text
            turn_panes[r.json()["id"]] = len(variants)
    acknowledged: list[int] = []
    stop = threading.Event()

    def client_loop(seed: int) -> None:
        r = random.Random(seed)
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                batch = []
                for _ in range(r.randint(1, 30)):
                    turn_id = r.choice(list(turn_panes))
                    vote: dict[str, Any] = {
                        "turn_id": turn_id,
                        "on_behalf_of": f"r{r.randint(0, 20)}",
                    }
                    if turn_panes[turn_id] == 3:
                        ranking = [0, 1, 2]
                        r.shuffle(ranking)
                        vote |= {"outcome": "ranking", "ranking": ranking}
                    else:
                        vote["outcome"] = r.choice(["a", "b", "tie", "both_bad"])
                    batch.append(vote)
                try:
                    response = client.post(f"{url}/api/votes", json={"votes": batch})
                except httpx.TransportError:
                    return  # the server is gone
                assert response.status_code == 201, response.text
                acknowledged.append(len(batch))

    threads = [threading.Thread(target=client_loop, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(timeout=30)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    return sum(acknowledged)


def test_rebuild_command_restores_the_counts_and_is_idempotent(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'arbiter.db'}"
    store = Store(database)
    store.upgrade()
    turn_id = make_turn(store, ["alpha", "模型"])
    for k, outcome in enumerate(["a", "b", "tie", "a"]):
        votes.cast_vote(store, turn_id, VoteIn(outcome=outcome), rater=f"r{k}")
    kept = cells(store)
    with store.session() as s:  # as a bulk import that bypassed the counts would leave them
        s.execute(sa.delete(LeaderboardCellRow))
    store.dispose()
    for _ in range(2):
        done = run_cli(["db", "rebuild-counts"], tmp_path, env={"ARBITER_DATABASE_URL": database})
        assert done.returncode == 0, done.stderr
        assert "leaderboard counts rebuilt: 4 votes in 6 cells" in done.stdout
        check = Store(database)
        assert (
            cells(check) == kept and sum(kept.values()) == 4 * 2
        )  # their day's cells and the all-days ones
        check.dispose()


def test_migration_counts_the_votes_already_stored(store: Store) -> None:
    """Upgrading a store that has votes (at revision 0012, before the cells) fills the
    cells as a rebuild would."""
    named = make_turn(store, ["alpha", "beta"], use_case="support")
    ranked = make_turn(store, ["alpha", "beta", "gamma"])
    arena = make_turn(store, ["gamma", "alpha"], mode="arena")
    first = votes.cast_vote(store, named, VoteIn(outcome="a"), rater="r1")
    votes.cast_vote(store, named, VoteIn(outcome="both_bad"), rater="r1")
    votes.cast_vote(store, ranked, VoteIn(outcome="ranking", ranking=[2, 0, 1]), rater="r1")
    rejected = votes.cast_vote(store, arena, VoteIn(outcome="b"), rater="r1")
    votes.cast_vote(store, arena, VoteIn(outcome="a"), rater="r2")
    label_reviews.add_review(store, "vote", rejected.id, "rejected", "reviewer", None)
    label_reviews.add_review(store, "vote", first.id, "rejected", "reviewer", None)
    kept = cells(store)
    assert sum(n for key, n in kept.items() if key[0] != "all") == 1 + 3 + 1
    config = alembic_config(store.engine.url.render_as_string(hide_password=False))
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0012")
    assert "leaderboard_cells" not in sa.inspect(store.engine).get_table_names()
    store.upgrade()
    assert cells(store) == kept
