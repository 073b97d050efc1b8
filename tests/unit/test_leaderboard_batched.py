"""The batched bootstrap and the list-based online Elo against the code they replaced
(tests/support/former_leaderboard.py): the same draws give the same ratings and intervals,
and the same battles the same Elo. The former code had no prior (a 1e-6 ridge only): the
comparisons fit with that (UNREGULARISED_C)."""

from __future__ import annotations

import numpy as np
import pytest

from evals.leaderboard import (
    UNREGULARISED_C,
    BattleLog,
    PairCounts,
    bootstrap_bt,
    build,
    fit_bt,
    fit_bt_batch,
    online_elo,
    to_elo_scale,
)
from tests.support.former_leaderboard import (
    former_bootstrap_bt,
    former_fit_bt,
    former_online_elo,
    former_ratings_and_cis,
)


def random_counts(n_models: int, n_votes: int, seed: int, spread: float = 0.8) -> PairCounts:
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, spread, n_models)
    a = rng.integers(0, n_models, n_votes)
    b = (a + rng.integers(1, n_models, n_votes)) % n_models
    p = 1 / (1 + np.exp(-(strength[a] - strength[b])))
    u = rng.random(n_votes)
    outcome = np.where(u < 0.1, 2, np.where(u < 0.1 + 0.9 * p, 0, 1))
    return PairCounts.from_codes([f"m{k:02d}" for k in range(n_models)], a, b, outcome)


@pytest.mark.parametrize(
    ("n_models", "n_votes", "seed", "spread"),
    [
        (8, 5_000, 1, 0.8),
        (20, 40_000, 2, 0.8),
        (5, 60, 3, 0.8),  # few votes: some resamples miss a pair, or a model, entirely
        (4, 200, 4, 4.0),  # lopsided: near-separation, many Newton iterations, unequal
    ],
)
def test_batched_bootstrap_gives_the_same_ratings_and_cis_as_fitting_each_resample_alone(
    n_models: int, n_votes: int, seed: int, spread: float
) -> None:
    counts = random_counts(n_models, n_votes, seed, spread)
    batched = bootstrap_bt(counts, rounds=60, seed=seed, c=UNREGULARISED_C)
    former = former_bootstrap_bt(counts, rounds=60, seed=seed)
    assert batched.shape == former.shape == (60, len(counts.models))
    assert np.abs(batched - former).max() < 1e-9
    assert former.std(axis=0).min() > 0.5  # the resamples differ: the check has teeth
    ratings, low, high = former_ratings_and_cis(counts, rounds=60, seed=seed)
    board = build(counts, rounds=60, seed=seed, c=UNREGULARISED_C)
    assert len(board.rows) == len(counts.models)
    for row in board.rows:
        k = counts.models.index(row.model)
        assert row.rating == pytest.approx(ratings[k], abs=1e-9)
        assert row.low == pytest.approx(low[k], abs=1e-9)
        assert row.high == pytest.approx(high[k], abs=1e-9)


def test_a_model_that_never_lost_stays_finite_and_matches_the_former_fit() -> None:
    counts = PairCounts.from_battles(
        [("x", "y", "a")] * 30 + [("y", "z", "a")] * 10 + [("z", "y", "a")] * 12
    )
    theta = fit_bt(counts, c=UNREGULARISED_C)
    assert np.isfinite(theta).all() and theta[0] > theta[1] + 5  # x far ahead, yet finite
    # x's strength is held by the 1e-6 ridge alone (curvature ~1e-5), so rounding noise of
    # 1e-15 in the gradient moves θ by ~1e-10: both fits are optimal to that precision.
    assert np.abs(to_elo_scale(theta) - to_elo_scale(former_fit_bt(counts))).max() < 1e-6
    won, total = counts.wins + 0.5 * counts.ties, counts.wins + counts.losses + counts.ties
    resid = won - total / (1.0 + np.exp(-(theta[counts.i] - theta[counts.j])))
    gradient = 1e-6 * theta - np.bincount(counts.i, resid, 3) + np.bincount(counts.j, resid, 3)
    assert np.abs(gradient).max() < 1e-12


def test_a_pair_listed_twice_counts_as_their_sum() -> None:
    i, j = np.array([0, 0, 1]), np.array([1, 1, 2])
    twice = fit_bt_batch(3, i, j, np.array([[30.0, 10.0, 25.0]]), np.array([[50.0, 20.0, 40.0]]))
    once = fit_bt_batch(3, i[1:], j[1:], np.array([[40.0, 25.0]]), np.array([[70.0, 40.0]]))
    assert np.abs(twice - once).max() < 1e-12
    assert twice[0, 0] > twice[0, 1]  # 40 of 70 over the pair


def test_many_variants_are_fitted_in_slices_with_the_same_result() -> None:
    counts = random_counts(12, 6_000, seed=5)
    met = counts.wins + counts.losses + counts.ties
    draws = np.random.default_rng(5).poisson(met, (30, len(met)))
    total = draws.astype(np.float64)  # 30 tables over the same pairs
    won = total * 0.6
    whole = fit_bt_batch(12, counts.i, counts.j, won, total)
    sliced = fit_bt_batch(12, counts.i, counts.j, won, total, max_cells=7 * 144)  # 7 a slice
    assert sliced.shape == (30, 12)
    assert np.abs(whole - sliced).max() < 1e-12


def test_no_models_no_tables_no_votes() -> None:
    none = np.zeros(0, dtype=np.int64)
    assert fit_bt_batch(0, none, none, np.zeros((3, 0)), np.zeros((3, 0))).shape == (3, 0)
    assert bootstrap_bt(PairCounts.from_battles([]), rounds=5).shape == (5, 0)


def test_online_elo_is_the_replay_it_replaced_bit_for_bit() -> None:
    rng = np.random.default_rng(7)
    names = ["alpha", "beta", "γάμμα", "模型-δ", "ε"]
    battles = [
        (names[x], names[(x + d) % 5], ("a", "b", "tie")[o])
        for x, d, o in zip(
            rng.integers(0, 5, 20_000).tolist(),
            rng.integers(1, 5, 20_000).tolist(),
            rng.integers(0, 3, 20_000).tolist(),
            strict=True,
        )
    ]
    expected = former_online_elo(battles)
    assert max(expected.values()) - min(expected.values()) > 1.0  # the replay moved them
    assert online_elo(battles) == expected  # the same arithmetic in the same order
    assert online_elo(iter(battles)) == expected  # any iterable
    log = BattleLog.from_battles(battles)
    assert log.models == sorted(names) and len(log.a) == len(battles)
    assert online_elo(log) == expected
    assert online_elo(list(reversed(battles))) != expected  # order matters to Elo
    assert online_elo([]) == {}
