"""Leaderboard: Bradley-Terry on sufficient statistics against an independent
logistic-regression fit, bootstrap intervals, ranks, Elo, and the store's vote rules."""

from __future__ import annotations

import numpy as np
import pytest

from evals.leaderboard import (
    INIT,
    UNREGULARISED_C,
    PairCounts,
    battles_from_ranking,
    bootstrap_bt,
    build,
    fit_bt,
    online_elo,
)


def synthetic(
    n_models: int, n_battles: int, seed: int = 1
) -> tuple[list[str], list[tuple[str, str, str]]]:
    rng = np.random.default_rng(seed)
    models = [f"m{k}" for k in range(n_models)]
    strength = np.linspace(-1.0, 1.0, n_models)
    battles = []
    for _ in range(n_battles):
        i, j = rng.choice(n_models, size=2, replace=False)
        p = 1 / (1 + np.exp(-(strength[i] - strength[j])))
        u = rng.random()
        outcome = "tie" if u < 0.1 else ("a" if u < 0.1 + 0.9 * p else "b")
        battles.append((models[i], models[j], outcome))
    return models, battles


def test_bt_on_counts_matches_a_logistic_regression_over_one_row_per_vote() -> None:
    from sklearn.linear_model import LogisticRegression

    models, battles = synthetic(6, 3000)
    theta = fit_bt(PairCounts.from_battles(battles), c=UNREGULARISED_C)
    # The reference: one row per vote (a tie is half a win each way), +1/-1 features.
    index = {m: k for k, m in enumerate(sorted(models))}
    rows, labels, weights = [], [], []
    for a, b, outcome in battles:
        x = np.zeros(len(models))
        x[index[a]], x[index[b]] = 1.0, -1.0
        for y, w in (
            (1, {"a": 1.0, "b": 0.0, "tie": 0.5}[outcome]),
            (0, {"a": 0.0, "b": 1.0, "tie": 0.5}[outcome]),
        ):
            if w:
                rows.append(x)
                labels.append(y)
                weights.append(w)
    ref = LogisticRegression(C=1e6, fit_intercept=False, tol=1e-12, max_iter=10_000)
    ref.fit(np.array(rows), np.array(labels), sample_weight=np.array(weights))
    expected = ref.coef_[0]
    assert np.abs((theta - theta.mean()) - (expected - expected.mean())).max() < 1e-3
    assert list(np.argsort(theta)) == list(range(6))  # m0 weakest ... m5 strongest


def test_bootstrap_intervals_cover_the_estimate_and_shrink_with_more_votes() -> None:
    _, few = synthetic(4, 400, seed=2)
    _, many = synthetic(4, 8000, seed=2)
    widths = []
    for battles in (few, many):
        board = build(PairCounts.from_battles(battles), rounds=200)
        for row in board.rows:
            assert row.low <= row.rating <= row.high
        widths.append(np.mean([r.high - r.low for r in board.rows]))
        assert sum(r.battles for r in board.rows) == 2 * len(battles)
    assert widths[1] < widths[0] / 2
    boot = bootstrap_bt(PairCounts.from_battles(few), rounds=50, seed=3)
    assert boot.shape == (50, 4)
    assert np.allclose(boot.mean(axis=1), INIT)  # each refit is centred on 1000


def test_ranks_tie_where_intervals_overlap_and_the_win_matrix_adds_up() -> None:
    battles = [("x", "y", "a"), ("y", "x", "a")] * 50 + [("x", "z", "a"), ("y", "z", "a")] * 60
    board = build(PairCounts.from_battles(battles))
    ranks = {r.model: r.rank for r in board.rows}
    assert ranks["x"] == ranks["y"] == 1 and ranks["z"] == 3
    m = board.win_matrix
    order = board.models
    x, y = order.index("x"), order.index("y")
    assert m[x, y] == pytest.approx(0.5) and m[x, y] + m[y, x] == pytest.approx(1.0)
    assert np.isnan(m[x, x])
    assert board.battle_matrix[x, y] == 100 and board.battles == len(battles)
    z_row = next(r for r in board.rows if r.model == "z")
    assert z_row.win_rate == 0.0 and z_row.battles == 120


def test_online_elo_by_hand() -> None:
    ratings = online_elo([("a", "b", "a")])
    assert ratings == {"a": pytest.approx(1002.0), "b": pytest.approx(998.0)}
    after_tie = online_elo([("a", "b", "a"), ("a", "b", "tie")])
    expected_a = 1 / (1 + 10 ** ((998 - 1002) / 400))
    assert after_tie["a"] == pytest.approx(1002 + 4 * (0.5 - expected_a))


def test_counts_are_the_same_whichever_way_a_pair_is_written() -> None:
    one = PairCounts.from_battles([("a", "b", "a"), ("b", "a", "b"), ("a", "b", "tie")])
    assert one.models == ["a", "b"]
    assert (one.wins[0], one.losses[0], one.ties[0]) == (2, 0, 1)
    two = PairCounts.from_cells({("b", "a"): (0, 2, 1)})
    assert (two.wins[0], two.losses[0], two.ties[0]) == (2, 0, 1)
    assert battles_from_ranking({0: "p", 1: "q", 2: "r"}, [2, 0, 1]) == [
        ("r", "p", "a"),
        ("r", "q", "a"),
        ("p", "q", "a"),
    ]
    empty = build(PairCounts.from_battles([]))
    assert empty.rows == [] and empty.battles == 0


def test_counting_arrays_gives_the_same_cells_as_counting_battles() -> None:
    models, battles = synthetic(5, 2000, seed=4)
    index = {m: k for k, m in enumerate(models)}
    a = np.array([index[x] for x, _, _ in battles])
    b = np.array([index[y] for _, y, _ in battles])
    outcome = np.array([{"a": 0, "b": 1, "tie": 2}[o] for _, _, o in battles])
    fast = PairCounts.from_codes(models, a, b, outcome)
    slow = PairCounts.from_battles(battles)
    assert fast.models == slow.models
    for name in ("i", "j", "wins", "losses", "ties"):
        assert np.array_equal(getattr(fast, name), getattr(slow, name)), name


def million_votes(n_models: int, seed: int) -> PairCounts:
    """1,000,000 votes spread over every pair of `n_models`, as the pair cells they count to
    (drawn per cell: the cells are all a fit reads)."""
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, 1.0, n_models)
    i, j = np.triu_indices(n_models, 1)
    met = rng.multinomial(1_000_000, np.full(len(i), 1 / len(i)))
    p = 1 / (1 + np.exp(-(strength[i] - strength[j])))
    ties = rng.binomial(met, 0.1)
    wins = rng.binomial(met - ties, p)
    return PairCounts(
        [f"m{k:02d}" for k in range(n_models)],
        i.astype(np.int64),
        j.astype(np.int64),
        wins.astype(float),
        (met - ties - wins).astype(float),
        ties.astype(float),
    )


@pytest.mark.parametrize("n_models", [4, 20])
def test_the_prior_agrees_with_the_unregularised_fit_at_a_million_votes(n_models: int) -> None:
    counts = million_votes(n_models, seed=n_models)
    assert counts.battles == 1_000_000
    with_prior = build(counts, rounds=50)
    flat = build(counts, rounds=50, c=UNREGULARISED_C)
    ours = {r.model: (r.rating, r.low, r.high) for r in with_prior.rows}
    theirs = {r.model: (r.rating, r.low, r.high) for r in flat.rows}
    differences = np.array([np.subtract(ours[m], theirs[m]) for m in counts.models])
    assert np.abs(differences).max() < 0.1  # ratings and both CI ends, in Elo points
    assert np.abs(differences).max() > 1e-6  # the prior is there, only outweighed
    assert [r.model for r in with_prior.rows] == [r.model for r in flat.rows]


def test_few_votes_give_modest_ratings_and_bounded_intervals() -> None:
    # Five battles among three variants: unregularised, x and z ended up thousands of points
    # apart (3096 and -1034, with intervals such as -1132 to 1000).
    battles = [("x", "y", "a")] * 3 + [("y", "z", "a"), ("x", "z", "a")]
    flat = build(PairCounts.from_battles(battles), c=UNREGULARISED_C)
    assert max(abs(r.rating - INIT) for r in flat.rows) > 1000
    board = build(PairCounts.from_battles(battles))
    for row in board.rows:
        assert INIT - 200 < row.low <= row.rating <= row.high < INIT + 200
    assert [r.model for r in board.rows] == ["x", "y", "z"]  # the order the votes say
    # Five straight wins: about 280 points apart (10:1 odds are 400), not 2,350.
    pair = build(PairCounts.from_battles([("x", "y", "a")] * 5))
    gap = pair.rows[0].rating - pair.rows[1].rating
    assert pair.rows[0].model == "x" and 250 < gap < 310
