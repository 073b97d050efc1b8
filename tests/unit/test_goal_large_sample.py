"""The large-sample intervals the use-case goals switch to at `LARGE_SAMPLE` observations
agree with the percentile bootstrap used below it for means, and the order-statistic
interval quantiles use at every size agrees with a percentile bootstrap and covers the true
quantile as often as it says."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest

from evals.goals import (
    LARGE_SAMPLE,
    Histogram,
    Moments,
    Observations,
    estimate,
    histogram_quantile,
    mean_estimate,
    normal_mean,
    order_statistic_ranks,
)
from evals.report import CONFIDENCE, Estimate, bootstrap_mean


def bootstrap_quantile(values: np.ndarray, q: float, resamples: int = 2000) -> Estimate:
    """The reference: a percentile bootstrap of a quantile (numpy's linear quantile), what
    the goals used below `LARGE_SAMPLE` before the order-statistic interval."""
    n = int(values.size)
    stats = np.quantile(
        values[np.random.default_rng(0).integers(0, n, size=(resamples, n))], q, axis=1
    )
    alpha = (1 - CONFIDENCE) / 2
    low, high = np.quantile(stats, [alpha, 1 - alpha])
    return Estimate(float(np.quantile(values, q)), float(low), float(high), n)


def answers(latencies_s: np.ndarray) -> list[dict[str, object]]:
    return [{"status": "ok", "latency_ms": v * 1000, "scores": []} for v in latencies_s]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_at_the_threshold_the_normal_ci_of_a_mean_matches_the_bootstrap(seed: int) -> None:
    data = np.random.default_rng(seed).lognormal(0.5, 0.7, LARGE_SAMPLE)
    boot = bootstrap_mean(data.tolist())
    normal = normal_mean(Moments.of(data))
    assert normal.mean == pytest.approx(boot.mean, rel=1e-12)
    assert boot.low is not None and boot.high is not None
    width = boot.high - boot.low
    # Tolerance: each bound within 2% of the CI's width (measured: under 0.9%).
    assert normal.low == pytest.approx(boot.low, abs=0.02 * width)
    assert normal.high == pytest.approx(boot.high, abs=0.02 * width)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("q", "tolerance"), [(0.5, 0.01), (0.9, 0.01), (0.99, 0.02)])
def test_at_the_threshold_the_order_statistic_ci_matches_the_bootstrap(
    seed: int, q: float, tolerance: float
) -> None:
    data = np.random.default_rng(seed).lognormal(0.5, 0.7, LARGE_SAMPLE)
    boot = bootstrap_quantile(data, q)
    exact = histogram_quantile(Histogram.of(data), q)
    assert exact.mean == pytest.approx(boot.mean, rel=1e-12)  # same numpy-linear quantile
    assert boot.mean is not None
    # Tolerance: each bound within 1% of the value (2% for p99, where the bootstrap of a
    # tail quantile is itself coarse; measured: under 0.3% and 1.6%).
    assert exact.low == pytest.approx(boot.low, abs=tolerance * boot.mean)
    assert exact.high == pytest.approx(boot.high, abs=tolerance * boot.mean)


def test_below_the_threshold_means_are_the_bootstrap_and_quantiles_the_order_statistics() -> None:
    data = np.random.default_rng(3).lognormal(0.5, 0.7, LARGE_SAMPLE - 1)
    obs = Observations(answers=answers(data))
    seconds = obs.samples("latency_s")  # ms -> s as the report reads them
    assert seconds.size == LARGE_SAMPLE - 1
    assert obs.summary("p90_latency_s") is None
    assert estimate("p90_latency_s", obs) == histogram_quantile(Histogram.of(seconds), 0.9)
    assert estimate("latency_s", obs) == bootstrap_mean(seconds.tolist())


@pytest.mark.parametrize(("n", "q"), [(30, 0.5), (200, 0.9), (1000, 0.99)])
def test_small_sample_quantile_intervals_cover_the_true_quantile(n: int, q: float) -> None:
    """Exact binomial ranks: over 2,000 samples the 95% interval holds the true quantile
    of the lognormal at least 94% of the time (it is conservative: the ranks are whole)."""
    rng = np.random.default_rng(5)
    truth = float(np.exp(0.5 + 0.7 * NormalDist().inv_cdf(q)))
    inside = 0
    for _ in range(2000):
        est = histogram_quantile(Histogram.of(rng.lognormal(0.5, 0.7, n)), q)
        assert est.low is not None and est.high is not None
        inside += est.low <= truth <= est.high
    assert inside / 2000 >= 0.94


def test_small_sample_quantile_intervals_are_close_to_the_bootstrap() -> None:
    data = np.random.default_rng(6).lognormal(0.5, 0.7, 1000)
    for q in (0.5, 0.9):
        boot, exact = bootstrap_quantile(data, q), histogram_quantile(Histogram.of(data), q)
        assert exact.mean == pytest.approx(boot.mean, rel=1e-12)
        assert boot.mean is not None and boot.high is not None and boot.low is not None
        width = boot.high - boot.low
        assert exact.low == pytest.approx(boot.low, abs=0.25 * width)
        assert exact.high == pytest.approx(boot.high, abs=0.25 * width)


def test_from_the_threshold_on_listed_and_summarised_values_count_together() -> None:
    data = np.random.default_rng(4).lognormal(0.5, 0.7, 2 * LARGE_SAMPLE)
    half = LARGE_SAMPLE
    listed = Observations(answers=answers(data))
    mixed = Observations(
        answers=answers(data[:half]),
        summaries={
            "latency_s": Moments.of(data[half:]),
            "p90_latency_s": Histogram.of(data[half:]),
        },
        summarised={"answers": half},
    )
    assert mixed.count("answers") == listed.count("answers") == 2 * LARGE_SAMPLE
    for metric in ("latency_s", "p90_latency_s"):
        a, b = estimate(metric, listed), estimate(metric, mixed)
        assert (a.n, a.mean, a.low, a.high) == pytest.approx((b.n, b.mean, b.low, b.high))


def test_order_statistic_ranks_cover_the_quantile() -> None:
    low, high = order_statistic_ranks(10_000, 0.9)
    # Binomial(10000, 0.9): sd 30, so ±1.96 sd around rank 9000 (1-based), 0-based here.
    assert (low, high) == (8940, 9058)
    assert order_statistic_ranks(5, 0.99) == (3, 4)  # clamped to the sample


def test_constant_values_give_a_zero_width_interval() -> None:
    est = normal_mean(Moments.of(np.full(LARGE_SAMPLE, 0.3)))
    assert est.mean == pytest.approx(0.3)
    assert est.high - est.low == pytest.approx(0.0, abs=1e-12)  # type: ignore[operator]


def test_a_mean_of_many_values_takes_the_normal_interval_below_it_the_bootstrap() -> None:
    """`mean_estimate` (rubric quality on the leaderboard): the bootstrap below the
    threshold, the normal interval from it on, which agrees with it (tests above)."""
    data = np.random.default_rng(7).normal(3.5, 1.0, LARGE_SAMPLE)
    assert mean_estimate(data[:-1].tolist()) == bootstrap_mean(data[:-1].tolist())
    assert mean_estimate(data.tolist()) == normal_mean(Moments.of(data))
