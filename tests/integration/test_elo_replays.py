"""Online Elo kept between requests (`service.labels.elo`) equals a full replay of the live
votes, oldest first, after any mix of new votes, batches, superseding votes and reviews
(of recent and of old votes), on SQLite and PostgreSQL; a vote that commits late, within
the settle time, still lands in its place; the API serves it."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from service.errors import ArbiterError
from service.ids import new_id, utcnow
from service.labels import EloReplays
from service.schemas import BatchVoteIn, VoteIn
from service.store import Filters, Store, label_reviews, votes
from service.store.tables import (
    VoteRow,
)
from tests.integration.test_leaderboard_counts import make_turn
from tests.support.fixtures import LiveServer
from tests.support.former_leaderboard import former_online_elo
from tests.support.live_votes import live_votes_in_python, panes_in_python

VARIANTS = ["alpha", "beta", "gamma", "模型"]
BATTLE = {"a": "a", "b": "b", "tie": "tie", "both_bad": "tie"}


def replayed_in_python(store: Store, filters: Filters = Filters()) -> dict[str, float]:
    """The oracle: the live votes decided in Python, Elo by the former dict-by-name loop."""
    panes = panes_in_python(store)
    battles = [
        (panes[v.turn_id][0], panes[v.turn_id][1], BATTLE[v.outcome])
        for v in live_votes_in_python(store)
        if v.outcome in BATTLE
        and {0, 1} <= panes[v.turn_id].keys()
        and (filters.mode, filters.use_case, filters.rater)
        == (filters.mode and v.mode, filters.use_case and v.use_case, filters.rater and v.rater)
    ]
    return former_online_elo(battles)


def test_kept_elo_equals_a_full_replay_after_random_votes_and_reviews(store: Store) -> None:
    rng = random.Random(32)
    turns = [
        make_turn(store, rng.sample(VARIANTS, 2), use_case=rng.choice([None, "support"]))
        for _ in range(10)
    ]
    turns += [make_turn(store, rng.sample(VARIANTS, 3)) for _ in range(2)]  # rankings too
    turns += [make_turn(store, rng.sample(VARIANTS, 2), mode="arena") for _ in range(3)]
    raters = ["r1", "r2", "评审员"]
    # settle=0: every vote here commits at once, so nothing is re-read but what changed;
    # a checkpoint every 5 battles, so reviews of old votes rewind over several.
    kept = EloReplays(store, settle=timedelta(0), checkpoint_every=5)
    filters = [Filters(), Filters(mode="named"), Filters(use_case="support"), Filters(rater="r1")]
    rewinds = 0
    for step in range(120):
        roll = rng.random()
        try:
            if roll < 0.55:
                turn_id = rng.choice(turns)
                outcome = rng.choice(["a", "b", "tie", "both_bad"])
                votes.cast_vote(store, turn_id, VoteIn(outcome=outcome), rater=rng.choice(raters))
            elif roll < 0.7:
                batch = [
                    BatchVoteIn(turn_id=rng.choice(turns), outcome=rng.choice(["a", "b", "tie"]))
                    for _ in range(rng.randint(1, 6))
                ]
                votes.cast_votes(store, batch, [rng.choice(raters) for _ in batch])
            else:
                with store.session() as s:
                    ids = list(s.scalars(sa.select(VoteRow.id).order_by(VoteRow.id)))
                if ids:  # often an old vote: the replay goes back before it
                    vote_id = ids[int(len(ids) * rng.random() ** 2)]
                    status = rng.choice(["rejected", "rejected", "accepted"])
                    label_reviews.add_review(store, "vote", vote_id, status, "reviewer", None)
                    rewinds += 1
        except ArbiterError as exc:  # a second vote on a blind battle, refused
            assert exc.code == "already_voted", exc
        if step % 3 == 0:
            for f in filters:
                assert kept.ratings(f) == replayed_in_python(store, f), (step, f)
    with store.session() as s:
        live = s.scalar(sa.select(sa.func.count()).select_from(VoteRow))
        superseding = s.scalar(
            sa.select(sa.func.count())
            .select_from(VoteRow)
            .where(VoteRow.supersedes_id.is_not(None))
        )
    assert live and live > 40 and superseding and rewinds > 10  # the mix happened
    for f in filters:
        assert kept.ratings(f) == replayed_in_python(store, f)
        assert kept.ratings(f) == EloReplays(store).ratings(f)  # a fresh replay agrees
    assert len(kept.ratings()) == len(VARIANTS)


def test_a_vote_committed_late_within_the_settle_time_lands_in_its_place(store: Store) -> None:
    first, second = make_turn(store, ["alpha", "beta"]), make_turn(store, ["beta", "gamma"])
    for k in range(6):
        votes.cast_vote(store, first, VoteIn(outcome="a"), rater=f"r{k}")
    settled, eager = EloReplays(store), EloReplays(store, settle=timedelta(0))
    assert settled.ratings() == eager.ratings() == replayed_in_python(store)
    # A vote whose transaction began 20 s ago commits now: stamped before the requests above.
    with store.session() as s:
        s.add(
            VoteRow(
                id=new_id(),
                turn_id=second,
                outcome="b",
                rater="slow",
                created_at=utcnow() - timedelta(seconds=20),
            )
        )
    votes.cast_vote(store, second, VoteIn(outcome="a"), rater="r9")
    assert settled.ratings() == replayed_in_python(store)
    # Without the settle time the late vote is counted after the newer one: not a replay.
    assert eager.ratings() != replayed_in_python(store)


def test_the_api_serves_kept_elo_that_follows_new_votes(live: LiveServer, store: Store) -> None:
    def board() -> dict[str, Any]:
        url = f"{live.url}/api/leaderboard"
        reply = httpx.get(url, params={"elo": "true"}, timeout=30)
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    turn_id = make_turn(store, ["alpha", "beta"])
    votes.cast_vote(store, turn_id, VoteIn(outcome="a"), rater="r1")
    first = board()
    assert {r["variant"]: r["elo"] for r in first["rows"]} == {
        k: round(v, 2) for k, v in replayed_in_python(store).items()
    }
    votes.cast_vote(store, turn_id, VoteIn(outcome="b"), rater="r2")
    votes.cast_vote(store, turn_id, VoteIn(outcome="b"), rater="r1")  # supersedes r1's
    elo = {r["variant"]: r["elo"] for r in board()["rows"]}
    assert elo == {k: round(v, 2) for k, v in replayed_in_python(store).items()}
    assert elo["beta"] > elo["alpha"]
