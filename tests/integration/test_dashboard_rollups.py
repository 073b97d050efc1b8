"""The dashboard's per-minute rollups, on SQLite and PostgreSQL: after a random mix of
answers (page and gateway), scores, votes, superseding votes, rankings and reviews, the
dashboard read from the rollups shows what the raw rows give (percentiles within the
sketch's 1%), and the maintained rollups equal a rebuild from the rows."""

import random
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from service.evaluation.dashboard import (
    WINDOWS,
    Buckets,
    Point,
    series,
    series_from_rows,
    window_bounds,
)
from service.ids import new_id, utcnow
from service.labels.reviews import review
from service.schemas import BatchVoteIn, VoteIn
from service.store import FinishedTurn, Store, rollup_rebuild, scores, sketch, turns, votes
from service.store.dashboard import tiles
from service.store.rollups import (
    ANSWER_TABLES,
    HOUR,
    MOMENT_COLUMNS,
    SCORE_TABLES,
    VOTE_TABLES,
    minute_of,
)

VARIANTS = ["v0", "v1", "v2", "v3"]


def _answer(rng: random.Random, pane: int, variant: str, ago: timedelta) -> dict[str, Any]:
    status = rng.choice(["ok", "ok", "ok", "error", "timeout"])
    return {
        "pane": pane,
        "variant_name": variant,
        "variant_spec": {},
        "request": {},
        "text": "答え",
        "status": status,
        "latency_ms": rng.lognormvariate(7, 1) if rng.random() > 0.1 else None,
        "ttft_ms": rng.lognormvariate(5, 1) if rng.random() > 0.2 else None,
        "cost_usd": rng.random() / 100 if rng.random() > 0.3 else None,
        "tokens_out": rng.randint(1, 500) if rng.random() > 0.1 else None,
        "created_at": utcnow() - ago,
    }


def _fill(store: Store, seed: int) -> None:
    rng = random.Random(seed)
    turn_ids: list[tuple[str, int]] = []
    for i in range(40):
        panes = rng.choice([2, 2, 3])
        names = rng.sample(VARIANTS, panes)
        use_case = rng.choice([None, "chat", "客服"])
        start = turns.start_turn(
            store, None, names, f"q{i}", mode="named", rater="r1", use_case=use_case
        )
        ago = timedelta(minutes=rng.uniform(0, 7 * 24 * 60 - 5))
        for pane, name in enumerate(names):
            answer_id = turns.save_answer(store, start.turn_id, **_answer(rng, pane, name, ago))
            if rng.random() < 0.5:
                results = [
                    {
                        "metric": "rouge_l",
                        "version": "1",
                        "value": rng.random(),
                        "error": None,
                        "detail": {},
                    },
                    {
                        "metric": "faithfulness",
                        "version": "1",
                        "value": None,
                        "error": "judge",
                        "detail": {},
                    },
                ]
                scores.save_scores(store, start.turn_id, answer_id, name, results)
        turns.finish_turn(store, start.turn_id)
        turn_ids.append((start.turn_id, panes))
    gateway = []
    for i in range(10):
        conv, turn = new_id(), new_id()
        ago = timedelta(hours=rng.uniform(0, 30))
        answer = {**_answer(rng, 0, rng.choice(VARIANTS), ago), "id": new_id(), "turn_id": turn}
        gateway.append(
            FinishedTurn(
                conversation={
                    "id": conv,
                    "variant_names": [answer["variant_name"]],
                    "mode": "named",
                    "rater": None,
                    "use_case": rng.choice([None, "chat"]),
                    "created_at": answer["created_at"],
                },
                turn={
                    "id": turn,
                    "conversation_id": conv,
                    "position": 0,
                    "prompt": f"g{i}",
                    "status": "done",
                    "retrieval": None,
                    "created_at": answer["created_at"],
                },
                answers=[answer],
            )
        )
    turns.save_finished_turns(store, gateway)
    cast: list[str] = []
    for turn_id, panes in turn_ids:
        for rater in rng.sample(["r1", "r2", "r3"], rng.randint(0, 3)):
            for _ in range(rng.choice([1, 1, 2])):  # a second vote supersedes the first
                if panes == 3 and rng.random() < 0.5:
                    vote = VoteIn(outcome="ranking", ranking=rng.sample(range(3), 3))
                else:
                    vote = VoteIn(outcome=rng.choice(["a", "b", "tie", "both_bad"]))
                cast.append(votes.cast_vote(store, turn_id, vote, rater=rater).id)
    batch = [
        BatchVoteIn(turn_id=t, outcome=rng.choice(["a", "b", "tie"]))
        for t, panes in rng.sample(turn_ids, 8) * 2  # each turn twice: supersedes in-batch
        if panes == 2
    ]
    cast += [v.id for v in votes.cast_votes(store, batch, ["r4"] * len(batch))]
    for vote_id in rng.sample(cast, len(cast) // 3):  # live or superseded, some restored
        review(store, "vote", vote_id, "rejected", "boss", check_role=False)
        if rng.random() < 0.4:
            review(store, "vote", vote_id, "accepted", "boss", check_role=False)
        if rng.random() < 0.2:
            review(store, "vote", vote_id, "rejected", "boss", check_role=False)


def _by_key(points: list[Point]) -> dict[tuple[str, str, Any], float]:
    out = {(p.series, p.variant, p.time): p.value for p in points}
    assert len(out) == len(points)
    return out


def _rollups(store: Store, span: int = 1) -> dict[str, Any]:
    """The rollup rows of one span (1: per minute, 60: per hour) that count something."""
    with store.session() as s:
        answers = {
            (r.minute, r.variant_name, r.use_case): (
                r.answers,
                r.ok,
                pytest.approx(r.cost_usd, rel=1e-9, abs=1e-12),
                sketch.decode(r.latency),
                sketch.decode(r.ttft),
                tuple(pytest.approx(getattr(r, c), rel=1e-9) for c in MOMENT_COLUMNS),
            )
            for r in s.scalars(sa.select(ANSWER_TABLES[span]))
        }
        scored = {
            (r.minute, r.metric, r.variant_name, r.use_case): (
                r.n,
                pytest.approx(r.total),
                pytest.approx(r.total_sq),
                r.failed,
            )
            for r in s.scalars(sa.select(SCORE_TABLES[span]))
        }
        voted = {
            (r.minute, r.variant_name, r.use_case): (r.wins, r.losses, r.ties, r.both_bad)
            for r in s.scalars(sa.select(VOTE_TABLES[span]))
            if (r.wins, r.losses, r.ties, r.both_bad) != (0, 0, 0, 0)
        }
    return {"answers": answers, "scores": scored, "votes": voted}


def _per_hour(store: Store) -> dict[str, Any]:
    """The minute rollups summed per hour, in Python."""
    answers: dict[tuple[Any, ...], list[Any]] = {}
    scored: dict[tuple[Any, ...], list[float]] = {}
    voted: Counter[tuple[Any, ...]] = Counter()
    with store.session() as s:
        for r in s.scalars(sa.select(ANSWER_TABLES[1])):
            key = (r.minute - r.minute % HOUR, r.variant_name, r.use_case)
            into = answers.setdefault(
                key, [0, 0, 0.0, Counter(), Counter(), [0.0] * len(MOMENT_COLUMNS)]
            )
            into[0] += r.answers
            into[1] += r.ok
            into[2] += r.cost_usd
            into[3].update(sketch.decode(r.latency))
            into[4].update(sketch.decode(r.ttft))
            into[5] = [a + getattr(r, c) for a, c in zip(into[5], MOMENT_COLUMNS, strict=True)]
        for r in s.scalars(sa.select(SCORE_TABLES[1])):
            key = (r.minute - r.minute % HOUR, r.metric, r.variant_name, r.use_case)
            into_score = scored.setdefault(key, [0, 0.0, 0.0, 0])
            for k, value in enumerate((r.n, r.total, r.total_sq, r.failed)):
                into_score[k] += value
        for r in s.scalars(sa.select(VOTE_TABLES[1])):
            key = (r.minute - r.minute % HOUR, r.variant_name, r.use_case)
            for k, n in enumerate((r.wins, r.losses, r.ties, r.both_bad)):
                voted[(*key, k)] += n
    votes_by_key: dict[tuple[Any, ...], list[int]] = {}
    for (*key, k), n in voted.items():
        votes_by_key.setdefault(tuple(key), [0, 0, 0, 0])[k] += n
    return {
        "answers": {
            k: (
                a,
                ok,
                pytest.approx(c, rel=1e-9, abs=1e-12),
                +lat,
                +tt,
                tuple(pytest.approx(m, rel=1e-9) for m in moments),
            )
            for k, (a, ok, c, lat, tt, moments) in answers.items()
        },
        "scores": {
            k: (int(n), pytest.approx(t), pytest.approx(sq), int(failed))
            for k, (n, t, sq, failed) in scored.items()
        },
        "votes": {k: tuple(v) for k, v in votes_by_key.items() if any(v)},
    }


@pytest.mark.parametrize("seed", [1, 2])
def test_dashboard_from_rollups_shows_what_the_rows_give(store: Store, seed: int) -> None:
    _fill(store, seed)
    now = utcnow()
    compared = Counter[str]()
    for window in WINDOWS:
        for use_case in (None, "chat", "客服"):
            fast = _by_key(series(store, window, now=now, use_case=use_case))
            slow = _by_key(series_from_rows(store, window, now=now, use_case=use_case))
            assert fast.keys() == slow.keys(), (window, use_case)
            for key, exact in slow.items():
                name = key[0]
                compared[name] += 1
                if name.startswith(("latency p", "time to first token")):
                    assert fast[key] == pytest.approx(exact, rel=sketch.ALPHA), key
                else:
                    assert fast[key] == pytest.approx(exact, rel=1e-9, abs=1e-12), key
    # Every kind of series was compared, not only some.
    for name in (
        "latency p90 (s)",
        "time to first token p50 (s)",
        "answers per minute",
        "error rate",
        "cost (USD)",
        "score (mean)",
        "win rate (ties half)",
    ):
        assert compared[name] > 0, name


def test_maintained_rollups_equal_a_rebuild(store: Store) -> None:
    _fill(store, 3)
    maintained = _rollups(store)
    hours = _rollups(store, HOUR)
    assert maintained["answers"] and maintained["scores"] and maintained["votes"]
    with store.session() as s:  # the moments are kept, failed scorings counted
        for column in MOMENT_COLUMNS:
            assert s.scalar(sa.select(sa.func.sum(getattr(ANSWER_TABLES[1], column)))), column
        assert s.scalar(sa.select(sa.func.sum(SCORE_TABLES[1].failed)))
    assert hours == _per_hour(store)  # each hour row holds its minutes
    rollup_rebuild.rebuild_store(store)
    assert _rollups(store) == maintained
    assert _rollups(store, HOUR) == hours


@pytest.mark.parametrize("offset", [0, 17])
def test_windows_read_from_hours_equal_the_minute_rollups(store: Store, offset: int) -> None:
    """A window ending on the hour, or `offset` minutes after it: every bucket the same
    whether its whole hours come from the hour rollups or every minute from the minute
    rollups (percentiles too: the hour's sketch holds its minutes' bins)."""
    _fill(store, 4)
    now = utcnow().replace(minute=0, second=0, microsecond=0) + timedelta(minutes=offset)
    read_hours = 0
    for window in WINDOWS:
        for use_case in (None, "chat"):
            mixed = _by_key(series(store, window, now=now, use_case=use_case))
            minutes = _by_key(series(store, window, now=now, use_case=use_case, hours=False))
            assert mixed.keys() == minutes.keys(), (window, use_case)
            for key, value in minutes.items():
                assert mixed[key] == pytest.approx(value, rel=1e-12, abs=1e-15), key
            buckets = Buckets(*window_bounds(window, now))
            spans = tiles(
                minute_of(buckets.since),
                minute_of(buckets.until),
                int(buckets.size.total_seconds() // 60),
                origin=minute_of(buckets.origin),
            )
            read_hours += len(spans[HOUR])
    assert read_hours  # some windows did read whole hours
