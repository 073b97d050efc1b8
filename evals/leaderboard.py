"""Rankings from pairwise human preferences: Bradley-Terry ratings fitted on sufficient
statistics (win and tie counts per pair, not one row per vote), with a weak Gaussian prior
on the strengths (C below), and bootstrap 95% confidence intervals; online Elo for
comparison, win-rate matrix, and ranks that tie where confidence intervals overlap.

A battle is (model_a, model_b, outcome) with outcome "a", "b" or "tie". Ties count half a
win for each side, as in Chatbot Arena. Ratings are on the Elo scale: 1000 + 400·θ/ln 10,
so 400 points are 10:1 odds."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter

import numpy as np
from numpy.typing import NDArray

SCALE = 400.0
BASE = 10.0
INIT = 1000.0
# A weak Gaussian prior on each strength, θ ~ N(0, C) in natural log-odds units (C is the
# prior's variance, as in scikit-learn's LogisticRegression(C=...): the inverse of the ridge
# penalty θ²/2C on the log-likelihood). A standard deviation of 1 (174 Elo points) says a
# variant is, before any vote, within about ±350 points of the average with 95% odds; its
# pull weighs about as much as four ties against an average variant. On a handful of votes
# it keeps ratings and bootstrap intervals finite and modest (5 straight wins: 284 points
# apart, not 2,348); by 100 battles a variant's own votes outweigh it 25 to 1, and at a
# million votes it moves no rating or CI end by 0.1 point (tests/unit/test_leaderboard.py).
# It also pins the free constant (the likelihood sees only differences) to a centred fit.
C = 1.0
# The former, practically unregularised fit (a tiny ridge, only to keep a variant that never
# lost finite): for checks against an unregularised reference.
UNREGULARISED_C = 1e6
BOOTSTRAP_ROUNDS = 200
ELO_K = 4.0
# The batched fit holds a few (tables, n, n) float64 arrays: 4M cells, 32 MB each at most.
MAX_BATCH_CELLS = 4_000_000
SCORE_OF_A = {"a": 1.0, "b": 0.0, "tie": 0.5}  # online Elo: A's score for each outcome

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
        # Count ordered (a, b, outcome) cells in one pass, then fold b-a onto a-b.
        ordered = np.bincount((a * n + b) * 3 + outcome, minlength=n * n * 3).reshape(n, n, 3)
        swapped = ordered.transpose(1, 0, 2)
        wins = ordered[..., 0] + swapped[..., 1]  # [x, y]: x beat y, whichever side x sat
        losses = ordered[..., 1] + swapped[..., 0]
        ties = ordered[..., 2] + swapped[..., 2]
        first, second = np.nonzero(np.triu(wins + losses + ties, k=1))
        return cls.from_cells(
            {
                (models[x], models[y]): (
                    float(wins[x, y]),
                    float(losses[x, y]),
                    float(ties[x, y]),
                )
                for x, y in zip(first.tolist(), second.tolist(), strict=True)
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
    won = counts.wins + 0.5 * counts.ties  # i over j
    total = counts.wins + counts.losses + counts.ties
    return fit_bt_batch(
        len(counts.models),
        counts.i,
        counts.j,
        won[None],
        total[None],
        c=c,
        tol=tol,
        max_iter=max_iter,
    )[0]


def fit_bt_batch(
    n: int,
    i: NDArray[np.int64],
    j: NDArray[np.int64],
    won: NDArray[np.float64],
    total: NDArray[np.float64],
    *,
    c: float = C,
    tol: float = 1e-12,
    max_iter: int = 100,
    start: NDArray[np.float64] | None = None,
    max_cells: int = MAX_BATCH_CELLS,
) -> NDArray[np.float64]:
    """Bradley-Terry strengths for R count tables over the same pairs at once, shape
    (R, n): `won[r, k]` is how often i[k] beat j[k] in table r (ties half), `total[r, k]`
    how often they met. Each Newton iteration solves all R systems together on dense
    (R, n, n) matrices (n is the number of variants: small), with no scatter-adds; a table
    stops once its step is below `tol`, as if it had been fitted alone. `start` (n,) is
    where every table starts (zero by default): bootstrap tables start from the full data's
    fit, a few steps from their own. With many variants the tables go in slices of at most
    `max_cells` matrix cells, which bounds the memory.

    Convergence is judged on the centred step: the likelihood sees only differences of θ,
    and the common shift, pinned by the 1/C ridge alone (with UNREGULARISED_C, curvature
    1e-6 against ~1e4), only moves by rounding noise that would keep a table iterating for
    nothing."""
    rounds = won.shape[0]
    per_slice = max(1, max_cells // max(1, n * n))
    if rounds > per_slice:
        return np.concatenate(
            [
                fit_bt_batch(
                    n,
                    i,
                    j,
                    won[s : s + per_slice],
                    total[s : s + per_slice],
                    c=c,
                    tol=tol,
                    max_iter=max_iter,
                    start=start,
                    max_cells=max_cells,
                )
                for s in range(0, rounds, per_slice)
            ]
        )
    theta = np.zeros((rounds, n)) if start is None else np.tile(start, (rounds, 1))
    if n == 0 or rounds == 0:
        return theta
    # met[r, x, y]: how often x and y met; wins_of[r, x]: x's wins (ties half), all pairs.
    # Counted by bincount over flat indices, which also sums a pair listed twice.
    row = np.arange(rounds)[:, None]
    met = np.bincount(
        np.concatenate([(row * n + i) * n + j, (row * n + j) * n + i], axis=1).ravel(),
        np.concatenate([total, total], axis=1).ravel(),
        minlength=rounds * n * n,
    ).reshape(rounds, n, n)
    wins_of = np.bincount(
        np.concatenate([row * n + i, row * n + j], axis=1).ravel(),
        np.concatenate([won, total - won], axis=1).ravel(),
        minlength=rounds * n,
    ).reshape(rounds, n)
    ridge = 1.0 / c
    eye = ridge * np.eye(n)
    active = np.arange(rounds)
    for _ in range(max_iter):
        everyone = active.size == rounds  # skip the copies while no table has stopped
        th = theta if everyone else theta[active]
        met_a = met if everyone else met[active]
        p = 1.0 / (1.0 + np.exp(th[:, None, :] - th[:, :, None]))  # [x, y]: P(x beats y)
        expected = met_a * p
        grad = ridge * th - (wins_of[active] - expected.sum(axis=2))
        w = expected - expected * p  # met · p(1 - p)
        hess = eye - w
        np.einsum("rii->ri", hess)[...] += w.sum(axis=2)  # a writable view of the diagonals
        step = np.linalg.solve(hess, grad[:, :, None])[:, :, 0]
        theta[active] = th - step
        moved = np.abs(step - step.mean(axis=1, keepdims=True)).max(axis=1)
        active = active[moved >= tol]
        if active.size == 0:
            break
    return theta


def to_elo_scale(theta: NDArray[np.float64]) -> NDArray[np.float64]:
    """Ratings on the Elo scale; for a batch (R, n), each row centred on its own mean."""
    return INIT + SCALE / math.log(BASE) * (theta - theta.mean(axis=-1, keepdims=True))


def bootstrap_draws(
    counts: PairCounts, *, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0
) -> NDArray[np.float64] | None:
    """`rounds` resamples of the votes, shape (rounds, 3 * pairs): wins, then losses, then
    ties. A resample of the votes is a multinomial draw over the (pair, outcome) cells, so
    it is done on the counts without ever expanding them into rows. None without votes."""
    cells = np.concatenate([counts.wins, counts.losses, counts.ties])
    total = round(float(cells.sum()))
    if total == 0:
        return None
    rng = np.random.default_rng(seed)
    return rng.multinomial(total, cells / cells.sum(), size=rounds).astype(float)


def bootstrap_bt(
    counts: PairCounts,
    *,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
    theta: NDArray[np.float64] | None = None,
    c: float = C,
) -> NDArray[np.float64]:
    """Ratings refitted on `rounds` resamples of the votes, shape (rounds, models), all
    replicates fitted together by one batched Newton solve with the same prior (`c`) as the
    point fit, each starting from `theta`, the fit on all the votes (fitted here when not
    given)."""
    draws = bootstrap_draws(counts, rounds=rounds, seed=seed)
    if draws is None:
        return np.full((rounds, len(counts.models)), INIT)
    k = len(counts.wins)
    wins, losses, ties = draws[:, :k], draws[:, k : 2 * k], draws[:, 2 * k :]
    theta = fit_bt_batch(
        len(counts.models),
        counts.i,
        counts.j,
        wins + 0.5 * ties,
        wins + losses + ties,
        c=c,
        start=fit_bt(counts, c=c) if theta is None else theta,
    )
    return to_elo_scale(theta)


@dataclass(frozen=True)
class BattleLog:
    """Battles oldest first, as model indices and A's score (1 won, 0 lost, ½ tie): the
    input of online Elo, kept as plain lists because the replay reads them one at a time."""

    models: list[str]
    a: list[int]
    b: list[int]
    score_a: list[float]

    @classmethod
    def from_battles(
        cls, battles: Iterable[Battle], scores: Mapping[str, float] = SCORE_OF_A
    ) -> BattleLog:
        """From (a, b, outcome) rows; `scores` gives A's score for each outcome word. Names
        become indices through C-level `map` over whole columns, not a Python loop per row:
        a replay reads a million rows."""
        rows = battles if isinstance(battles, Sequence) else list(battles)
        # itemgetter over the rows: zip(*rows) would build a million iterators first.
        xs, ys, outcomes = (list(map(itemgetter(k), rows)) for k in range(3))
        models = sorted(set(xs) | set(ys))
        index = {m: k for k, m in enumerate(models)}
        return cls(
            models,
            list(map(index.__getitem__, xs)),
            list(map(index.__getitem__, ys)),
            list(map(scores.__getitem__, outcomes)),
        )


def online_elo(
    battles: Iterable[Battle] | BattleLog,
    *,
    k: float = ELO_K,
    start: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Elo updated battle by battle in the order given (order matters, unlike BT), from
    `start` (the ratings after the battles before these; everyone at 1000 by default).

    Each update depends on the one before, so this stays a loop; over plain lists of
    indices (numpy scalars are slower one at a time) it takes about 0.3 s of CPU per
    million battles, and gives the same floats as updating a dict of ratings by name."""
    log = battles if isinstance(battles, BattleLog) else BattleLog.from_battles(battles)
    start = start or {}
    rating = [start.get(m, INIT) for m in log.models]
    base, scale = BASE, SCALE  # locals: the loop body runs a million times
    for x, y, s in zip(log.a, log.b, log.score_a, strict=True):
        ra, rb = rating[x], rating[y]
        delta = k * (s - 1.0 / (1.0 + base ** ((rb - ra) / scale)))
        rating[x] = ra + delta
        rating[y] = rb - delta
    return {**start, **dict(zip(log.models, rating, strict=True))}


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
    c: float = C,
) -> Leaderboard:
    """The ranking: Bradley-Terry with the prior of variance `c` (C by default), bootstrap
    95% intervals fitted with the same prior, win rates and ranks."""
    theta = fit_bt(counts, c=c)
    ratings = to_elo_scale(theta) if counts.models else np.zeros(0)
    boot = bootstrap_bt(counts, rounds=rounds, seed=seed, theta=theta, c=c)
    low, high = (np.quantile(boot, [0.025, 0.975], axis=0)) if counts.models else ([], [])
    n = len(counts.models)
    played_pair = counts.wins + counts.losses + counts.ties
    ij, ji = counts.i * n + counts.j, counts.j * n + counts.i
    won = (
        np.bincount(ij, counts.wins + 0.5 * counts.ties, minlength=n * n)
        + np.bincount(ji, counts.losses + 0.5 * counts.ties, minlength=n * n)
    ).reshape(n, n)
    met = (
        np.bincount(ij, played_pair, minlength=n * n)
        + np.bincount(ji, played_pair, minlength=n * n)
    ).reshape(n, n)
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
