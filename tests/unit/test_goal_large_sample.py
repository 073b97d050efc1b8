"""The large-sample intervals the use-case goals switch to at `LARGE_SAMPLE` observations
agree with the percentile bootstrap used below it, and below it nothing changed."""

from __future__ import annotations

import numpy as np
import pytest

from evals.goals import (
    LARGE_SAMPLE,
    Histogram,
    Moments,
    Observations,
    bootstrap_quantile,
    estimate,
    histogram_quantile,
    normal_mean,
    order_statistic_ranks,
)
from evals.report import bootstrap_mean


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


def test_below_the_threshold_estimates_are_the_bootstrap_unchanged() -> None:
    data = np.random.default_rng(3).lognormal(0.5, 0.7, LARGE_SAMPLE - 1)
    obs = Observations(answers=answers(data))
    seconds = obs.samples("latency_s")  # ms -> s as the report reads them
    assert seconds.size == LARGE_SAMPLE - 1
    assert obs.summary("p90_latency_s") is None
    assert estimate("p90_latency_s", obs) == bootstrap_quantile(seconds, 0.9)
    assert estimate("latency_s", obs) == bootstrap_mean(seconds.tolist())


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
