"""A use case's status read from aggregates (rollups and one GROUP BY) equals the status
read row by row on the same data, on SQLite and PostgreSQL: the same verdicts, counts,
means and proportions, and quantiles within the sketch's 1% relative error."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from evals.goals import Observations, estimate
from evals.selection import assess
from service.evaluation.usecases import UseCaseSpec, Window, observations, spec_from_data
from service.ids import new_id
from service.store import Store, rollup_rebuild
from service.store.tables import (
    AnswerRow,
    ConversationRow,
    FeedbackRow,
    ScoreRow,
    TurnRow,
    VoteRow,
)

# alpha is read from aggregates (and has over 5,000 ok answers and scores: the large-sample
# forms on both sides), beta and the votes (300) row by row
LARGE, SMALL = 6_000, 300
SPEC = {
    "name": "support",
    "variants": ["alpha", "beta"],
    "baseline": "beta",
    "targets": [
        "p90_latency_s <= 5",
        "ttft_p50_s <= 0.2",
        "win_rate >= 0.45",
        "error_rate <= 0.1",
        "rouge_l >= 0.3",
        "cost_per_1k_requests_usd <= 0.4",
        "tokens_out <= 300",
        "satisfaction >= 0.5",
    ],
}


def fill(store: Store, end: datetime, *, large: int = LARGE, small: int = SMALL) -> None:
    """Arena turns of alpha against beta (alpha also alone, to have many answers), in the
    use case and outside it, over the 3 hours before `end`, some answers failed, some
    scorings failed, a few thumbs; plus rows just outside the window."""
    rng = random.Random(11)
    conversations, turns, answers, scores, votes, thumbs = [], [], [], [], [], []
    counts = {"alpha": 0, "beta": 0}
    while counts["alpha"] < large:
        at = end - timedelta(seconds=rng.uniform(61, 3 * 3600))
        pair = ["alpha", "beta"] if counts["beta"] < small else ["alpha"]
        rng.shuffle(pair)
        conv, turn = new_id(), new_id()
        use_case = "support" if rng.random() < 0.9 else "other"
        conversations.append(
            {
                "id": conv,
                "variant_names": pair,
                "mode": "named",
                "use_case": use_case,
                "created_at": at,
            }
        )
        turns.append(
            {
                "id": turn,
                "conversation_id": conv,
                "position": 0,
                "prompt": "问题",
                "status": "done",
                "created_at": at,
            }
        )
        for pane, variant in enumerate(pair):
            if use_case == "support":
                counts[variant] += 1
            ok = rng.random() > 0.06
            answer = new_id()
            answers.append(
                {
                    "id": answer,
                    "turn_id": turn,
                    "pane": pane,
                    "variant_name": variant,
                    "variant_spec": {},
                    "request": {},
                    "text": "答",
                    "status": "ok" if ok else "error",
                    "latency_ms": rng.lognormvariate(7.5, 0.7) if ok else None,
                    "ttft_ms": rng.lognormvariate(5, 0.5) if ok else None,
                    "cost_usd": rng.random() / 2000,
                    "tokens_out": rng.randint(10, 400),
                    "created_at": at,
                }
            )
            failed = rng.random() < 0.03
            if ok:  # a failed answer is never scored (service.evaluation.online)
                scores.append(
                    {
                        "id": new_id(),
                        "answer_id": answer,
                        "turn_id": turn,
                        "variant_name": variant,
                        "metric": "rouge_l",
                        "version": "1",
                        "value": None if failed else rng.random(),
                        "error": "timeout" if failed else None,
                        "detail": {},
                        "created_at": at,
                    }
                )
            if rng.random() < 0.02:
                thumbs.append(
                    {
                        "id": new_id(),
                        "answer_id": answer,
                        "turn_id": turn,
                        "variant_name": variant,
                        "rater": "r1",
                        "positive": rng.random() < 0.7,
                        "created_at": at,
                    }
                )
        if len(pair) == 2:
            votes.append(
                {
                    "id": new_id(),
                    "turn_id": turn,
                    "outcome": rng.choice(["a", "b", "tie", "both_bad"]),
                    "ranking": None,
                    "rater": "r",
                    "supersedes_id": None,
                    "idempotency_key": None,
                    "created_at": at + timedelta(seconds=rng.uniform(0, 50)),
                }
            )
    with store.session() as s:
        for table, rows in (
            (ConversationRow, conversations),
            (TurnRow, turns),
            (AnswerRow, answers),
            (ScoreRow, scores),
            (VoteRow, votes),
            (FeedbackRow, thumbs),
        ):
            for start in range(0, len(rows), 2_000):
                s.execute(insert(table), rows[start : start + 2_000])
    rollup_rebuild.rebuild_store(store)


def test_status_from_aggregates_equals_status_from_rows(store: Store) -> None:
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    fill(store, end)
    spec = spec_from_data(SPEC)
    window = Window(end - timedelta(hours=4), end)  # whole minutes: nothing rounded away
    rows = observations(store, spec, window, from_rows=True)
    aggregated = observations(store, spec, window)
    assert aggregated["alpha"].answers == [] and aggregated["alpha"].summarised["answers"] >= LARGE
    assert len(aggregated["beta"].answers) == len(rows["beta"].answers) >= SMALL
    assert "win_rate" not in aggregated["alpha"].summaries  # 300 votes: listed, bootstrapped
    assert_same_status(spec, rows, aggregated)
    alpha = aggregated["alpha"]
    assert estimate("rouge_l", alpha).errors > 0  # failed scorings counted, not averaged
    assert alpha.count("votes") == SMALL  # beta's votes, seen from alpha


def test_many_votes_are_summarised_and_equal_the_rows(store: Store) -> None:
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    fill(store, end, large=6_000, small=5_900)
    spec = spec_from_data(SPEC)
    window = Window(end - timedelta(hours=4), end)
    rows = observations(store, spec, window, from_rows=True)
    aggregated = observations(store, spec, window)
    for variant in ("alpha", "beta"):
        assert aggregated[variant].answers == [] and aggregated[variant].results == []
        assert aggregated[variant].summarised["votes"] == len(rows[variant].results) >= 5_000
    assert_same_status(spec, rows, aggregated)


def assert_same_status(
    spec: UseCaseSpec, rows: dict[str, Observations], aggregated: dict[str, Observations]
) -> None:
    targets = spec.parsed_targets()
    want = assess(spec.variants, rows, targets, min_samples=20, baseline="beta")
    got = assess(spec.variants, aggregated, targets, min_samples=20, baseline="beta")
    assert [c.variant for c in got] == [c.variant for c in want]
    for a, b in zip(want, got, strict=True):
        assert a.counts == b.counts
        assert [(g.target, g.status) for g in a.goals] == [(g.target, g.status) for g in b.goals]
        assert a.evidence.keys() == b.evidence.keys() and "rouge_l" in b.evidence
        for metric, est in a.evidence.items():
            other = b.evidence[metric]
            assert (other.n, other.errors) == (est.n, est.errors), metric
            quantile = metric.startswith("p") or metric.startswith("ttft_")
            # The sketch: every value read back within 1% of the true one.
            rel = 0.0101 if quantile else 1e-9
            for x, y in ((est.mean, other.mean), (est.low, other.low), (est.high, other.high)):
                assert y == pytest.approx(x, rel=rel, abs=1e-12), metric
        for metric, diff in a.vs_baseline.items():
            other = b.vs_baseline[metric]
            scale = abs(a.evidence[metric].mean or 0.0)
            assert other.mean == pytest.approx(diff.mean, abs=0.0101 * scale + 1e-12), metric


def test_a_window_not_on_minutes_is_rounded_down_for_aggregates(store: Store) -> None:
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    fill(store, end)
    spec = spec_from_data(SPEC)
    ragged = Window(end - timedelta(hours=4, seconds=-20), end + timedelta(seconds=40))
    assert ragged.rounded() == Window(end - timedelta(hours=4), end)
    got = observations(store, spec, ragged)["alpha"]
    want = observations(store, spec, ragged.rounded(), from_rows=True)["alpha"]
    assert got.count("answers") == want.count("answers")
    assert got.count("votes") == want.count("votes")
