"""Leaderboard: Bradley-Terry with bootstrap 95% CIs over 1,000,000 synthetic votes among 50
variants, fitted on pair counts (evals.leaderboard), vs the same point fit over one row per
vote (scikit-learn's logistic regression, as public arenas do it). Goal: < 2 s in total."""

from __future__ import annotations

import os
import time

import numpy as np

from bench._report import header, line, verdict
from evals.leaderboard import PairCounts, build, fit_bt

VOTES = int(os.environ.get("BENCH_LEADERBOARD_VOTES", "1000000"))
MODELS = 50


def synthetic(rng: np.random.Generator) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    models = [f"model-{k:02d}" for k in range(MODELS)]
    strength = rng.normal(0, 0.8, MODELS)
    a = rng.integers(0, MODELS, VOTES)
    b = (a + rng.integers(1, MODELS, VOTES)) % MODELS  # never the same model twice
    p = 1 / (1 + np.exp(-(strength[a] - strength[b])))
    u = rng.random(VOTES)
    outcome = np.where(u < 0.1, 2, np.where(u < 0.1 + 0.9 * p, 0, 1))
    return models, a, b, outcome


def one_row_per_vote(a: np.ndarray, b: np.ndarray, outcome: np.ndarray) -> np.ndarray:
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    # A tie is two half-weight rows, one each way.
    ties = outcome == 2
    rows_a = np.concatenate([a, a[ties]])
    rows_b = np.concatenate([b, b[ties]])
    y = np.concatenate([(outcome == 0).astype(int), np.zeros(int(ties.sum()), dtype=int)])
    y[: len(a)][ties] = 1
    w = np.concatenate([np.where(ties, 0.5, 1.0), np.full(int(ties.sum()), 0.5)])
    n = len(rows_a)
    x = sparse.csr_matrix(
        (
            np.concatenate([np.ones(n), -np.ones(n)]),
            (np.concatenate([np.arange(n), np.arange(n)]), np.concatenate([rows_a, rows_b])),
        ),
        shape=(n, MODELS),
    )
    fit = LogisticRegression(C=1e6, fit_intercept=False, tol=1e-8, max_iter=1000)
    fit.fit(x, y, sample_weight=w)
    return np.asarray(fit.coef_[0])


def main() -> None:
    header(f"Leaderboard: Bradley-Terry + 95% CI over {VOTES:,} votes, {MODELS} variants")
    models, a, b, outcome = synthetic(np.random.default_rng(0))

    started = time.perf_counter()
    counts = PairCounts.from_codes(models, a, b, outcome)
    count_s = time.perf_counter() - started
    board = build(counts, rounds=200)
    ours = time.perf_counter() - started

    started = time.perf_counter()
    reference = one_row_per_vote(a, b, outcome)
    baseline = time.perf_counter() - started

    theta = fit_bt(counts)
    order = [models.index(m) for m in counts.models]
    diff = np.abs((theta - theta.mean()) - (reference[order] - reference[order].mean())).max()
    line("pairs of variants met", f"{len(counts.wins):,}")
    line("counting the votes into pair cells", f"{count_s:.3f} s")
    line("ours: count + BT + 200 bootstrap refits (CIs)", f"{ours:.3f} s")
    line("baseline: BT point fit over one row per vote (sklearn)", f"{baseline:.3f} s")
    line("baseline ÷ ours (speed-up, ours also gives CIs)", f"{baseline / ours:.1f}")
    line("largest rating difference vs the baseline (log-odds)", f"{diff:.2e}")
    line(
        "top variant",
        f"{board.rows[0].model} {board.rows[0].rating:.0f} "
        f"[{board.rows[0].low:.0f}, {board.rows[0].high:.0f}]",
    )
    verdict(ours < 2.0 and diff < 1e-3, "< 2 s in total, and the same ratings as the baseline")


if __name__ == "__main__":
    main()
