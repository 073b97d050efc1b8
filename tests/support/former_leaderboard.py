"""The leaderboard code as it was before the batched bootstrap and the list-based Elo, kept
verbatim as the reference the new code is checked against (tests) and timed against
(`bench leaderboard`): one Newton fit per bootstrap resample with np.add.at scatter-adds,
and online Elo over a dict of ratings by name."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from evals.leaderboard import BASE, INIT, SCALE, Battle, PairCounts


def former_fit_bt(
    counts: PairCounts, *, c: float = 1e6, tol: float = 1e-12, max_iter: int = 100
) -> NDArray[np.float64]:
    n = len(counts.models)
    theta = np.zeros(n)
    if n == 0:
        return theta
    won = counts.wins + 0.5 * counts.ties  # i over j
    total = counts.wins + counts.losses + counts.ties
    ridge = 1.0 / c
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-(theta[counts.i] - theta[counts.j])))
        resid = won - total * p  # d(log-lik)/d(θi) per pair
        grad = ridge * theta
        np.subtract.at(grad, counts.i, resid)
        np.add.at(grad, counts.j, resid)
        w = total * p * (1.0 - p)
        hess = ridge * np.eye(n)
        np.add.at(hess, (counts.i, counts.i), w)
        np.add.at(hess, (counts.j, counts.j), w)
        np.subtract.at(hess, (counts.i, counts.j), w)
        np.subtract.at(hess, (counts.j, counts.i), w)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if float(np.abs(step).max()) < tol:
            break
    return theta


def former_to_elo_scale(theta: NDArray[np.float64]) -> NDArray[np.float64]:
    return INIT + SCALE / math.log(BASE) * (theta - theta.mean())


def former_bootstrap_bt(
    counts: PairCounts, *, rounds: int = 200, seed: int = 0
) -> NDArray[np.float64]:
    cells = np.concatenate([counts.wins, counts.losses, counts.ties])
    total = round(float(cells.sum()))
    out = np.empty((rounds, len(counts.models)))
    if total == 0:
        out[:] = INIT
        return out
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(total, cells / cells.sum(), size=rounds).astype(float)
    k = len(counts.wins)
    for r in range(rounds):
        sample = PairCounts(
            counts.models, counts.i, counts.j, draws[r, :k], draws[r, k : 2 * k], draws[r, 2 * k :]
        )
        out[r] = former_to_elo_scale(former_fit_bt(sample))
    return out


def former_ratings_and_cis(
    counts: PairCounts, *, rounds: int = 200, seed: int = 0
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """What the former `build` showed per model (in `counts.models` order): rating, CI low,
    CI high."""
    ratings = former_to_elo_scale(former_fit_bt(counts))
    boot = former_bootstrap_bt(counts, rounds=rounds, seed=seed)
    low, high = np.quantile(boot, [0.025, 0.975], axis=0)
    return ratings, low, high


def former_online_elo(battles: Iterable[Battle], *, k: float = 4.0) -> dict[str, float]:
    rating: dict[str, float] = {}
    for a, b, outcome in battles:
        ra, rb = rating.get(a, INIT), rating.get(b, INIT)
        expected_a = 1.0 / (1.0 + BASE ** ((rb - ra) / SCALE))
        score_a = {"a": 1.0, "b": 0.0, "tie": 0.5}[outcome]
        rating[a] = ra + k * (score_a - expected_a)
        rating[b] = rb - k * (score_a - expected_a)
    return rating
