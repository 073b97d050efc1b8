"""Rankings from pairwise human preferences: Bradley-Terry ratings fitted on sufficient
statistics (win and tie counts per pair, not one row per vote) with bootstrap 95%
confidence intervals, online Elo for comparison, win-rate matrix, and ranks that tie
where confidence intervals overlap.

A battle is (model_a, model_b, outcome) with outcome "a", "b" or "tie". Ties count half a
win for each side, as in Chatbot Arena. Ratings are on the Elo scale: 1000 + 400·θ/ln 10,
so 400 points are 10:1 odds."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

SCALE = 400.0
BASE = 10.0
INIT = 1000.0
# The same tiny L2 penalty as scikit-learn's LogisticRegression(C=1e6): it keeps a model
# that never lost (or never won) finite and pins the free constant to a centred solution.
C = 1e6
BOOTSTRAP_ROUNDS = 200
ELO_K = 4.0

Outcome = str  # "a" | "b" | "tie"
Battle = tuple[str, str, Outcome]


@dataclass(frozen=True)
class PairCounts:
    """Sufficient statistics: per ordered pair of models, how often the first won, lost or
    tied against the second (each pair stored once, with i < j)."""

    models: list[str]
    i: NDArray[np.int64]  # index of the first model of each pair
    j: NDArray[np.int64]
    wins: NDArray[np.float64]  # i beat j
    losses: NDArray[np.float64]  # j beat i
    ties: NDArray[np.float64]

    @property
    def battles(self) -> int:
        return round(float(self.wins.sum() + self.losses.sum() + self.ties.sum()))

    @classmethod
    def from_battles(cls, battles: Iterable[Battle]) -> PairCounts:
        counts: dict[tuple[str, str], list[float]] = {}
        for a, b, outcome in battles:
            if a == b:
                continue
            key, flip = ((a, b), False) if a < b else ((b, a), True)
            cell = counts.setdefault(key, [0.0, 0.0, 0.0])
            if outcome == "tie":
                cell[2] += 1
            elif (outcome == "a") != flip:
                cell[0] += 1
            else:
                cell[1] += 1
        return cls.from_cells({k: (c[0], c[1], c[2]) for k, c in counts.items()})

    @classmethod
    def from_codes(
        cls,
        models: Sequence[str],
        a: NDArray[np.int64],
        b: NDArray[np.int64],
        outcome: NDArray[np.int64],
    ) -> PairCounts:
        """From one row per vote as integer arrays (model indices; outcome 0 = a won,
        1 = b won, 2 = tie), counted with numpy rather than a Python loop."""
        n = len(models)
        first, second = np.minimum(a, b), np.maximum(a, b)
        flipped = a > b
        code = np.where(outcome == 2, 2, np.where(flipped, 1 - outcome, outcome))
        keep = first != second
        cell = (first * n + second) * 3 + code
        counts = np.bincount(cell[keep], minlength=n * n * 3).reshape(n * n, 3)
        pairs = [int(p) for p in np.flatnonzero(counts.sum(axis=1))]
        return cls.from_cells(
            {
                (models[p // n], models[p % n]): (
                    float(counts[p, 0]),
                    float(counts[p, 1]),
                    float(counts[p, 2]),
                )
                for p in pairs
            }
        )

    @classmethod
    def from_cells(cls, cells: dict[tuple[str, str], tuple[float, float, float]]) -> PairCounts:
        """From {(model_x, model_y): (x wins, y wins, ties)} as a GROUP BY query gives."""
        merged: dict[tuple[str, str], list[float]] = {}
        for (x, y), (won, lost, tied) in cells.items():
            if x == y:
                continue
            key, (won, lost) = ((x, y), (won, lost)) if x < y else ((y, x), (lost, won))
            cell = merged.setdefault(key, [0.0, 0.0, 0.0])
            cell[0] += won
            cell[1] += lost
            cell[2] += tied
        models = sorted({m for pair in merged for m in pair})
        index = {m: k for k, m in enumerate(models)}
        keys = sorted(merged)
        return cls(
            models=models,
            i=np.array([index[x] for x, _ in keys], dtype=np.int64),
            j=np.array([index[y] for _, y in keys], dtype=np.int64),
            wins=np.array([merged[k][0] for k in keys], dtype=float),
            losses=np.array([merged[k][1] for k in keys], dtype=float),
            ties=np.array([merged[k][2] for k in keys], dtype=float),
        )


def fit_bt(
    counts: PairCounts, *, c: float = C, tol: float = 1e-12, max_iter: int = 100
) -> NDArray[np.float64]:
    """Bradley-Terry strengths θ (natural log-odds units) by Newton's method on the
    penalised likelihood; ties count half a win for each side."""
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


def to_elo_scale(theta: NDArray[np.float64]) -> NDArray[np.float64]:
    return INIT + SCALE / math.log(BASE) * (theta - theta.mean())


def bootstrap_bt(
    counts: PairCounts, *, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0
) -> NDArray[np.float64]:
    """Ratings refitted on `rounds` resamples of the votes, shape (rounds, models). A
    resample of the votes is a multinomial draw over the (pair, outcome) cells, so it is
    done on the counts without ever expanding them into rows."""
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
        out[r] = to_elo_scale(fit_bt(sample))
    return out


def online_elo(battles: Iterable[Battle], *, k: float = ELO_K) -> dict[str, float]:
    """Elo updated battle by battle in the order given (order matters, unlike BT)."""
    rating: dict[str, float] = {}
    for a, b, outcome in battles:
        ra, rb = rating.get(a, INIT), rating.get(b, INIT)
        expected_a = 1.0 / (1.0 + BASE ** ((rb - ra) / SCALE))
        score_a = {"a": 1.0, "b": 0.0, "tie": 0.5}[outcome]
        rating[a] = ra + k * (score_a - expected_a)
        rating[b] = rb - k * (score_a - expected_a)
    return rating


@dataclass(frozen=True)
class Row:
    model: str
    rank: int  # 1 + how many models are better beyond doubt (CIs do not overlap)
    rating: float
    low: float
    high: float
    battles: int
    win_rate: float | None  # ties half; None without battles
    elo: float | None = None


@dataclass(frozen=True)
class Leaderboard:
    rows: list[Row]
    models: list[str]  # in rating order, as rows
    win_matrix: NDArray[np.float64]  # [x, y]: x's win rate against y (ties half); NaN: never met
    battle_matrix: NDArray[np.int64]
    battles: int


def build(
    counts: PairCounts,
    *,
    elo: dict[str, float] | None = None,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
) -> Leaderboard:
    ratings = to_elo_scale(fit_bt(counts)) if counts.models else np.zeros(0)
    boot = bootstrap_bt(counts, rounds=rounds, seed=seed)
    low, high = (np.quantile(boot, [0.025, 0.975], axis=0)) if counts.models else ([], [])
    n = len(counts.models)
    won = np.zeros((n, n))
    met = np.zeros((n, n))
    for i, j, w, lo, t in zip(
        counts.i, counts.j, counts.wins, counts.losses, counts.ties, strict=True
    ):
        won[i, j] += w + 0.5 * t
        won[j, i] += lo + 0.5 * t
        met[i, j] += w + lo + t
        met[j, i] += w + lo + t
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(met > 0, won / np.where(met > 0, met, 1), np.nan)
    order = sorted(range(n), key=lambda k: -ratings[k])
    rows = []
    for k in order:
        better = sum(1 for other in range(n) if other != k and low[other] > high[k])
        played = met[k].sum()
        rows.append(
            Row(
                model=counts.models[k],
                rank=1 + better,
                rating=float(ratings[k]),
                low=float(low[k]),
                high=float(high[k]),
                battles=round(float(played)),
                win_rate=float(won[k].sum() / played) if played else None,
                elo=(elo or {}).get(counts.models[k]),
            )
        )
    return Leaderboard(
        rows=rows,
        models=[counts.models[k] for k in order],
        win_matrix=rate[np.ix_(order, order)],
        battle_matrix=met[np.ix_(order, order)].round().astype(np.int64),
        battles=counts.battles,
    )


def battles_from_ranking(variant_of: Mapping[int, str], ranking: Sequence[int]) -> list[Battle]:
    """A ranking of N panes (best first) as N(N-1)/2 battles: each pane beats those after it."""
    ordered = [variant_of[p] for p in ranking]
    return [
        (ordered[x], ordered[y], "a")
        for x in range(len(ordered))
        for y in range(x + 1, len(ordered))
    ]
