"""The export dry run from the shapes kept as votes arrive (`export_shapes`), on SQLite and
PostgreSQL: after random votes, batches, rankings, supersedes and reviews on turns with
failed answers, the kept shapes equal a rebuild from the votes, and every format's dry run
from them equals the dry run by GROUP BY over the votes, for every filter the shapes answer
(dates at whole days and inside days too); on a synthetic arena with campaign repeats, the
dry run from the shapes equals the SQL one and the fill's own count plus the repeats."""

from __future__ import annotations

import random
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from evals.exports import FORMATS, Demonstration
from service.errors import ArbiterError
from service.labels.exports import ExportOptions, dry_run
from service.schemas import BatchVoteIn, VoteIn
from service.store import Filters, Store, label_reviews, votes
from service.store import exports as stored
from service.store.leaderboard import rebuild_counts
from service.store.tables import ExportShapeRow, VoteRow
from tests.support.answered import answered_turn
from tests.support.synthetic_arena import ArenaShape, fill_arena, rebuild_maintained_aggregates

VARIANTS = ["alpha", "beta", "gamma", "模型"]
VOTE_FORMATS = [name for name, f in FORMATS.items() if f.kind is not Demonstration]


def kept_shapes(store: Store) -> dict[tuple[Any, ...], int]:
    c = ExportShapeRow
    with store.session() as s:
        rows = s.execute(sa.select(c).where(c.n != 0)).scalars().all()
        return {
            (r.day, r.mode, r.rag, r.use_case, r.outcome, r.ranking, r.panes): r.n for r in rows
        }


def make_turn(store: Store, rng: random.Random, panes: int, **options: Any) -> str:
    statuses = ["ok", "ok", "ok", "error", "timeout"]
    return answered_turn(
        store,
        rng.sample(VARIANTS, panes),
        each=lambda *_: {"status": rng.choice(statuses)},
        **options,
    )


def random_votes(store: Store, seed: int) -> None:
    rng = random.Random(seed)
    panes: dict[str, int] = {}
    for _ in range(14):
        n = rng.choice([2, 2, 3, 4])
        mode = "arena" if n == 2 and rng.random() < 0.3 else "named"
        turn_id = make_turn(
            store,
            rng,
            n,
            mode=mode,
            use_case=rng.choice([None, "support"]),
            retrieval=rng.choice([None, {"collection": "sample", "chunks": []}]),
        )
        panes[turn_id] = n
    raters = ["r1", "r2", "r3", "评审员"]

    def a_vote(turn_id: str) -> BatchVoteIn:
        if panes[turn_id] > 2 and rng.random() < 0.6:
            ranking = list(range(panes[turn_id]))
            rng.shuffle(ranking)
            return BatchVoteIn(turn_id=turn_id, outcome="ranking", ranking=ranking)
        return BatchVoteIn(turn_id=turn_id, outcome=rng.choice(["a", "b", "tie", "both_bad"]))

    for _ in range(120):
        roll = rng.random()
        try:
            if roll < 0.55:
                turn_id = rng.choice(list(panes))
                vote = a_vote(turn_id)
                votes.cast_vote(
                    store,
                    turn_id,
                    VoteIn(outcome=vote.outcome, ranking=vote.ranking),
                    rater=rng.choice(raters),
                )
            elif roll < 0.75:
                batch = [a_vote(rng.choice(list(panes))) for _ in range(rng.randint(1, 6))]
                votes.cast_votes(store, batch, [rng.choice(raters) for _ in batch])
            else:
                with store.session() as s:
                    ids = list(s.scalars(sa.select(VoteRow.id)))
                if ids:
                    label_reviews.add_review(
                        store,
                        "vote",
                        rng.choice(ids),
                        rng.choice(["rejected", "rejected", "accepted"]),
                        "reviewer",
                        None,
                    )
        except ArbiterError as exc:  # a second vote on a blind battle, refused
            assert exc.code == "already_voted", exc


def filter_sets() -> list[Filters]:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    inside = datetime.now(UTC) - timedelta(minutes=30)
    return [
        Filters(),
        Filters(mode="arena"),
        Filters(mode="named", rag=True),
        Filters(rag=False),
        Filters(use_case="support"),
        Filters(since=today, until=today + timedelta(days=1)),
        Filters(since=today - timedelta(days=3)),
        Filters(until=today),
        Filters(since=inside),  # part of a day: from the votes
        Filters(since=today - timedelta(days=2), until=inside, mode="named"),
    ]


def same_dry_runs(store: Store, filters: Filters, formats: list[str] = VOTE_FORMATS) -> None:
    assert stored.shapes_kept_cover(filters, agreement=False)
    for name in formats:
        for exclude_ties in (False, True):
            options = ExportOptions(name, filters=filters, exclude_ties=exclude_ties)
            kept, counted = dry_run(store, options), dry_run(store, options, recount=True)
            assert asdict(kept) == asdict(counted), (name, filters)
    narrow = ExportOptions("trl-preference", filters=filters, variants=("alpha", "模型"))
    assert asdict(dry_run(store, narrow)) == asdict(dry_run(store, narrow, recount=True))


def test_kept_shapes_equal_a_rebuild_and_give_the_sql_dry_run(store: Store) -> None:
    random_votes(store, 18)
    kept = kept_shapes(store)
    assert kept
    assert {k[4] for k in kept} >= {"a", "b", "ranking"}  # every kind of vote was counted
    assert any('"failed"' in k[6] for k in kept)  # and failed answers
    rebuild_counts(store)
    assert kept_shapes(store) == kept
    for filters in filter_sets():
        same_dry_runs(store, filters)
    summary = dry_run(store, ExportOptions("trl-preference"))
    assert summary.records and summary.skipped.get("an answer failed")


def test_agreement_and_rater_filters_count_from_the_votes(store: Store) -> None:
    random_votes(store, 5)
    assert not stored.shapes_kept_cover(Filters(rater="r1"), agreement=False)
    assert not stored.shapes_kept_cover(Filters(), agreement=True)
    options = ExportOptions("trl-kto", min_agreement=0.6)
    assert asdict(dry_run(store, options)) == asdict(dry_run(store, options, recount=True))


def test_dry_run_from_kept_shapes_on_a_synthetic_arena_with_campaign_repeats(
    store: Store,
) -> None:
    fill = fill_arena(store, ArenaShape(turns=2_000, campaign_items=300, seed=3))
    rebuild_maintained_aggregates(store)
    assert fill.repeats > 0
    summary = dry_run(store, ExportOptions("trl-preference"))
    assert "duplicates" in summary.not_counted
    # The SQL count keeps the campaign's repeats, which only a written export drops.
    assert summary.records == fill.preference_pairs() + fill.repeats
    assert asdict(summary) == asdict(dry_run(store, ExportOptions("trl-preference"), recount=True))
    start = (fill.first_at or datetime.now(UTC)) + timedelta(days=3, hours=5)
    for filters in (
        Filters(mode="named"),
        Filters(rag=True),
        Filters(use_case=fill.shape.use_case),
        Filters(since=start, until=start + timedelta(days=9, hours=7)),
    ):
        same_dry_runs(store, filters, ["trl-preference", "trl-kto"])


@pytest.mark.parametrize("restore", [False, True])
def test_a_review_moves_the_vote_out_of_the_shapes_and_back(store: Store, restore: bool) -> None:
    rng = random.Random(1)
    turn_id = make_turn(store, rng, 2)
    vote = votes.cast_vote(store, turn_id, VoteIn(outcome="a"), rater="r1")
    before = dry_run(store, ExportOptions("trl-kto"))
    label_reviews.add_review(store, "vote", vote.id, "rejected", "boss", None)
    assert sum(kept_shapes(store).values()) == 0
    if restore:
        label_reviews.add_review(store, "vote", vote.id, "accepted", "boss", None)
        assert asdict(dry_run(store, ExportOptions("trl-kto"))) == asdict(before)
    else:
        assert dry_run(store, ExportOptions("trl-kto")).records == 0
