"""Measurable targets for a use case, and whether each variant meets them.

A target is `<metric> <op> <number>`, e.g. `rouge_l >= 0.35` or `p90_latency_s <= 2.5`.
Each target metric is a statistic over one kind of observation of a variant:

- a *mean* over answers (automatic scores, latency, tokens, cost per 1k requests),
- a *quantile* over answers (p90 latency, p50 time to first token),
- a *proportion* (error rate over answers, satisfaction over thumbs up/down),
- a mean of preference results over human votes (win rate, ties count half).

Every value comes with a 95% confidence interval: Wilson's score interval for proportions
(statsmodels); for quantiles, at every size, the distribution-free order-statistic interval
(the ranks from Binomial(n, q), exact below `LARGE_SAMPLE`, its normal approximation from
there on) — a percentile bootstrap of a quantile sorts 2000 resamples, seconds for a few
variants of a thousand answers, and is itself coarse in the tails; for means a percentile
bootstrap below `LARGE_SAMPLE` observations and from there on (where the bootstrap's 2000 x n
resamples cost seconds and hundreds of MB, and agree with it to well under 1% of the value)
the normal approximation, from n, sum and sum of squares. The large-sample forms also take pre-aggregated
`Summary` values (a store's rollups) instead of one value per observation. A target is *met* or
*missed* by its value; with fewer than the minimum number of observations it is
*insufficient* and says how many it needs. Nothing here touches a store."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Literal

import numpy as np

from evals.errors import TargetError
from evals.judges import CRITERIA
from evals.registry import METRIC_NAMES
from evals.report import CONFIDENCE, RESAMPLES, Estimate, bootstrap_mean, metric_values

DEFAULT_MIN_SAMPLES = 20
# From this many observations on, means and quantiles use large-sample intervals.
LARGE_SAMPLE = 5_000
_Z = NormalDist().inv_cdf(1 - (1 - CONFIDENCE) / 2)
Kind = Literal["mean", "quantile", "proportion", "preference"]
Status = Literal["met", "missed", "insufficient"]


@dataclass(frozen=True)
class TargetMetric:
    name: str
    kind: Kind
    description: str
    unit: str = ""  # shown after values: "s", "USD"
    low: float | None = None  # the metric's possible range, when it has one
    high: float | None = None
    higher_is_better: bool = True
    source: str = ""  # the per-answer field (metric_values) a mean or quantile is over
    q: float = 0.5  # for quantiles
    scale: float = 1.0  # applied to each value (cost per request -> per 1k requests)
    observations: str = "answers"  # what the minimum sample size counts


def _score(name: str, description: str, low: float = 0.0, high: float = 1.0) -> TargetMetric:
    return TargetMetric(name, "mean", description, low=low, high=high, source=name)


def _catalogue() -> dict[str, TargetMetric]:
    out: dict[str, TargetMetric] = {}
    for name in METRIC_NAMES:
        out[name] = _score(name, f"mean {name} score of the answers (0-1)")
    for criterion in CRITERIA:
        out[f"judge_{criterion}"] = _score(
            f"judge_{criterion}", f"mean LLM-judge {criterion} score (1-5)", 1.0, 5.0
        )
    lower: dict[str, Any] = {"higher_is_better": False, "low": 0.0}
    ops = [
        TargetMetric("latency_s", "mean", "mean answer time", "s", source="latency_s", **lower),
        TargetMetric(
            "tokens_out", "mean", "mean output tokens per answer", source="tokens_out", **lower
        ),
        TargetMetric(
            "cost_per_1k_requests_usd",
            "mean",
            "cost of 1,000 answers (mean cost per answer x 1000)",
            "USD",
            source="cost_usd",
            scale=1000.0,
            **lower,
        ),
        TargetMetric(
            "error_rate",
            "proportion",
            "share of answers that failed or timed out",
            high=1.0,
            **lower,
        ),
        TargetMetric(
            "satisfaction",
            "proportion",
            "share of positive human feedback (thumbs up)",
            low=0.0,
            high=1.0,
            observations="feedback",
        ),
        TargetMetric(
            "win_rate",
            "preference",
            "human preference win rate in votes (ties count half)",
            low=0.0,
            high=1.0,
            observations="votes",
        ),
    ]
    for m in ops:
        out[m.name] = m
    for q in (50, 90, 95, 99):
        out[f"p{q}_latency_s"] = TargetMetric(
            f"p{q}_latency_s",
            "quantile",
            f"{q}th percentile of answer time",
            "s",
            source="latency_s",
            q=q / 100,
            **lower,
        )
        out[f"ttft_p{q}_s"] = TargetMetric(
            f"ttft_p{q}_s",
            "quantile",
            f"{q}th percentile of time to first token",
            "s",
            source="ttft_s",
            q=q / 100,
            **lower,
        )
    return out


TARGET_METRICS: dict[str, TargetMetric] = _catalogue()
OPERATORS = (">=", "<=", ">", "<")
_TARGET = re.compile(r"^\s*(?P<metric>[A-Za-z_][\w]*)\s*(?P<op>[<>=!]+)\s*(?P<value>\S+)\s*$")


@dataclass(frozen=True)
class Target:
    metric: str
    op: str
    threshold: float

    @property
    def spec(self) -> TargetMetric:
        return TARGET_METRICS[self.metric]

    def holds(self, value: float) -> bool:
        return {
            ">=": value >= self.threshold,
            "<=": value <= self.threshold,
            ">": value > self.threshold,
            "<": value < self.threshold,
        }[self.op]

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.threshold:g}"


def parse_target(text: str) -> Target:
    """One target from `metric op number`. Raises `TargetError` saying what is wrong."""
    match = _TARGET.match(text)
    if not match:
        raise TargetError(
            f"target {text!r} is not `metric operator number`, e.g. `rouge_l >= 0.35`"
        )
    metric, op, raw = match["metric"], match["op"], match["value"]
    if metric not in TARGET_METRICS:
        close = difflib.get_close_matches(metric, TARGET_METRICS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else "."
        raise TargetError(
            f"target {text!r}: unknown metric {metric!r}{hint} Known metrics: "
            + ", ".join(sorted(TARGET_METRICS))
        )
    if op not in OPERATORS:
        raise TargetError(
            f"target {text!r}: unknown operator {op!r}; use one of {', '.join(OPERATORS)}"
        )
    try:
        threshold = float(raw)
    except ValueError:
        raise TargetError(f"target {text!r}: {raw!r} is not a number") from None
    if not math.isfinite(threshold):
        raise TargetError(f"target {text!r}: the threshold must be a finite number")
    target = Target(metric, op, threshold)
    _check_reachable(target, text)
    return target


def _check_reachable(target: Target, text: str) -> None:
    spec = target.spec
    low = -math.inf if spec.low is None else spec.low
    high = math.inf if spec.high is None else spec.high
    impossible = (
        (target.op == ">=" and target.threshold > high)
        or (target.op == ">" and target.threshold >= high)
        or (target.op == "<=" and target.threshold < low)
        or (target.op == "<" and target.threshold <= low)
    )
    if impossible:
        span = (
            f"between {spec.low:g} and {spec.high:g}"
            if spec.high is not None
            else (f"at least {spec.low:g}")
        )
        raise TargetError(f"target {text!r} can never be met: {spec.name} is {span}")


def parse_targets(texts: Sequence[str]) -> list[Target]:
    """Targets from their text, checked together: no duplicates, and no two that
    contradict each other (`x >= 0.8` and `x <= 0.5`)."""
    targets = [parse_target(t) for t in texts]
    by_metric: dict[str, list[Target]] = {}
    for t in targets:
        if t in by_metric.get(t.metric, []):
            raise TargetError(f"target {str(t)!r} is given twice")
        by_metric.setdefault(t.metric, []).append(t)
    for metric, ts in by_metric.items():
        floors = [t for t in ts if t.op in (">=", ">")]
        ceilings = [t for t in ts if t.op in ("<=", "<")]
        for f in floors:
            for c in ceilings:
                strict = f.op == ">" or c.op == "<"
                if f.threshold > c.threshold or (strict and f.threshold == c.threshold):
                    raise TargetError(
                        f"targets {str(f)!r} and {str(c)!r} contradict each other: no value of "
                        f"{metric} meets both"
                    )
    return targets


def is_score(metric: str) -> bool:
    """Whether the metric is a mean of an automatic score (not of an operational field)."""
    spec = TARGET_METRICS[metric]
    return spec.kind == "mean" and spec.source not in {"latency_s", "tokens_out", "cost_usd"}


# ---- observations and statistics ---------------------------------------------------------


@dataclass(frozen=True)
class Moments:
    """A mean's sufficient statistics: count, sum and sum of squares (and how many had no
    value because scoring failed)."""

    n: int
    total: float
    total_sq: float
    errors: int = 0

    def __add__(self, other: Moments) -> Moments:
        return Moments(
            self.n + other.n,
            self.total + other.total,
            self.total_sq + other.total_sq,
            self.errors + other.errors,
        )

    @classmethod
    def of(cls, values: np.ndarray, errors: int = 0) -> Moments:
        return cls(int(values.size), float(values.sum()), float(np.square(values).sum()), errors)


@dataclass(frozen=True)
class Histogram:
    """Distinct values (ascending) with how many observations have each: exact from raw
    values, or a quantile sketch's bins read back as values."""

    values: np.ndarray
    counts: np.ndarray

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    def __add__(self, other: Histogram) -> Histogram:
        values = np.concatenate([self.values, other.values])
        counts = np.concatenate([self.counts, other.counts])
        order = np.argsort(values, kind="stable")
        return Histogram(values[order], counts[order])

    @classmethod
    def of(cls, values: np.ndarray) -> Histogram:
        distinct, counts = np.unique(values, return_counts=True)
        return cls(distinct.astype(float), counts.astype(np.int64))


@dataclass(frozen=True)
class Proportion:
    successes: int
    n: int

    def __add__(self, other: Proportion) -> Proportion:
        return Proportion(self.successes + other.successes, self.n + other.n)


Summary = Moments | Histogram | Proportion


@dataclass
class Observations:
    """What is known about one variant over a window. `answers` are items in the report
    format (status, latency_ms, ttft_ms, tokens_out, cost_usd, scores); `feedback` is one
    bool per (answer, person), their latest; `results` is one value per vote the variant
    took part in: 1 win, 0 loss, 0.5 tie. `summaries` (per target metric) and `summarised`
    (per kind: answers, feedback, votes) hold observations read as aggregates instead of one
    by one; a metric's statistic is over both."""

    answers: list[Mapping[str, Any]] = field(default_factory=list)
    feedback: list[bool] = field(default_factory=list)
    results: list[float] = field(default_factory=list)
    summaries: dict[str, Summary] = field(default_factory=dict)
    summarised: dict[str, int] = field(default_factory=dict)
    _cached_values: list[dict[str, float | None]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def count(self, kind: str) -> int:
        """How many answers, feedback ratings or votes, listed and summarised."""
        listed: dict[str, Sequence[Any]] = {
            "answers": self.answers,
            "feedback": self.feedback,
            "votes": self.results,
        }
        return len(listed[kind]) + self.summarised.get(kind, 0)

    def _values(self) -> list[dict[str, float | None]]:
        """Every listed answer's metric values, computed once (a status reads them for
        every metric; recomputed if answers were added since)."""
        if self._cached_values is None or len(self._cached_values) != len(self.answers):
            self._cached_values = [metric_values(a) for a in self.answers]
        return self._cached_values

    def samples(self, metric: str) -> np.ndarray:
        """The per-observation values the metric's statistic is computed over (the listed
        observations only, not the summaries)."""
        spec = TARGET_METRICS[metric]
        if spec.kind == "proportion":
            if metric == "satisfaction":
                return np.asarray([1.0 if f else 0.0 for f in self.feedback])
            return np.asarray([v["error_rate"] for v in self._values()], dtype=float)
        if spec.kind == "preference":
            return np.asarray(self.results, dtype=float)
        values = [v.get(spec.source) for v in self._values()]
        return np.asarray([v * spec.scale for v in values if v is not None], dtype=float)

    def scoring_errors(self, metric: str) -> int:
        if not is_score(metric):
            return 0
        spec = TARGET_METRICS[metric]
        return sum(
            1 for vals in self._values() if spec.source in vals and vals[spec.source] is None
        )

    def summary(self, metric: str) -> Summary | None:
        """The metric's observations as one large-sample summary (listed ones folded in),
        or None when there are fewer than `LARGE_SAMPLE` and none summarised: then the
        bootstrap over `samples` applies, as it always did."""
        spec = TARGET_METRICS[metric]
        held = self.summaries.get(metric)
        by_metric: dict[str, Sequence[Any]] = {
            "satisfaction": self.feedback,
            "win_rate": self.results,
        }
        listed = by_metric.get(metric, self.answers)
        if held is None and len(listed) < LARGE_SAMPLE:
            return None  # at most that many samples: decided without reading them
        data = self.samples(metric)
        if held is None and data.size < LARGE_SAMPLE:
            return None
        mine: Summary
        if spec.kind == "proportion":
            mine = Proportion(int(data.sum()), int(data.size))
        elif spec.kind == "quantile":
            mine = Histogram.of(data)
        else:
            mine = Moments.of(data, self.scoring_errors(metric))
        if held is None:
            return mine
        return held + mine  # type: ignore[operator]  # the same kind by construction


def wilson(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    # lazy: statsmodels (with scipy) takes seconds to import; only Wilson intervals need it
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
    return float(low), float(high)


def normal_mean(moments: Moments, confidence: float = CONFIDENCE) -> Estimate:
    """The mean with the normal-approximation CI, mean ± z·s/√n (sample s.d.)."""
    n = moments.n
    if n == 0:
        return Estimate(None, None, None, 0, moments.errors)
    mean = moments.total / n
    # Clamped: with (near) constant values rounding can make the difference slightly negative.
    var = max(0.0, (moments.total_sq - moments.total * mean) / (n - 1)) if n > 1 else 0.0
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2) if confidence != CONFIDENCE else _Z
    half = z * math.sqrt(var / n)
    return Estimate(mean, mean - half, mean + half, n, moments.errors)


def mean_estimate(values: Sequence[float]) -> Estimate:
    """A mean with its 95% CI: the percentile bootstrap below `LARGE_SAMPLE` values, the
    normal approximation from there on (the same value; bounds within 1% of the CI's width,
    without 2000 resamples of every value)."""
    if len(values) < LARGE_SAMPLE:
        return bootstrap_mean(values)
    return normal_mean(Moments.of(np.asarray(values, dtype=float)))


def order_statistic_ranks(n: int, q: float, confidence: float = CONFIDENCE) -> tuple[int, int]:
    """0-based ranks of the order statistics bounding the q-quantile's CI: the number of
    observations below the true quantile is Binomial(n, q), so the CI holds whatever the
    distribution. Below `LARGE_SAMPLE` the binomial's own quantiles; from there on its
    normal approximation."""
    alpha = 1 - confidence
    if n < LARGE_SAMPLE:
        # lazy: scipy takes a second to import; only small-sample quantile CIs need it
        from scipy.stats import binom

        low = int(binom.ppf(alpha / 2, n, q))
        high = int(binom.ppf(1 - alpha / 2, n, q)) + 1
    else:
        z = NormalDist().inv_cdf(1 - alpha / 2) if confidence != CONFIDENCE else _Z
        spread = z * math.sqrt(n * q * (1 - q))
        low, high = math.floor(n * q - spread), math.ceil(n * q + spread)
    return min(n, max(1, low)) - 1, min(n, max(1, high)) - 1


def histogram_quantile(hist: Histogram, q: float, confidence: float = CONFIDENCE) -> Estimate:
    """The q-quantile (numpy's default, linear interpolation between order statistics) with
    the order-statistic CI."""
    n = hist.n
    if n == 0:
        return Estimate(None, None, None, 0)
    ends = np.cumsum(hist.counts)  # order statistic k lies in the first value whose end > k

    def at(ranks: list[int]) -> np.ndarray:
        out: np.ndarray = hist.values[np.searchsorted(ends, ranks, side="right")]
        return out

    rank = (n - 1) * q
    below = math.floor(rank)
    x_low, x_high = at([below, min(below + 1, n - 1)])
    point = float(x_low + (rank - below) * (x_high - x_low))
    low, high = at(list(order_statistic_ranks(n, q, confidence)))
    return Estimate(point, float(min(low, point)), float(max(high, point)), n)


def estimate(metric: str, obs: Observations) -> Estimate:
    """The metric's value for these observations, with its 95% CI."""
    spec = TARGET_METRICS[metric]
    summary = obs.summary(metric)
    if isinstance(summary, Proportion):
        if summary.n == 0:
            return Estimate(None, None, None, 0)
        low, high = wilson(summary.successes, summary.n)
        return Estimate(summary.successes / summary.n, low, high, summary.n)
    if isinstance(summary, Histogram):
        return histogram_quantile(summary, spec.q)
    if isinstance(summary, Moments):
        return normal_mean(summary)
    data = obs.samples(metric)
    if spec.kind == "quantile":
        return histogram_quantile(Histogram.of(data), spec.q)
    if spec.kind == "proportion":
        n = int(data.size)
        if n == 0:
            return Estimate(None, None, None, 0)
        k = int(data.sum())
        low, high = wilson(k, n)
        return Estimate(k / n, low, high, n)
    return bootstrap_mean(data.tolist(), errors=obs.scoring_errors(metric))


@dataclass(frozen=True)
class GoalStatus:
    target: Target
    status: Status
    value: Estimate
    needed: int  # the minimum number of observations for a verdict
    clear: bool = False  # the whole CI is on the side of the verdict

    @property
    def met(self) -> bool | None:
        return None if self.status == "insufficient" else self.status == "met"

    def describe(self) -> str:
        spec = self.target.spec
        unit = f" {spec.unit}" if spec.unit else ""
        if self.status == "insufficient" and self.value.n == 0 and self.value.errors:
            return (
                f"not measured: none of its {self.value.errors} answers could be scored "
                f"for {spec.name}"
            )
        if self.status == "insufficient":
            return (
                f"not enough data: {self.value.n} {spec.observations}, needs at least {self.needed}"
            )
        margin = "" if self.clear else " (within the 95% CI: not yet certain)"
        return f"{self.value.fmt()}{unit} — {self.status}{margin}"


def goal_status(
    target: Target, obs: Observations, min_samples: int, value: Estimate | None = None
) -> GoalStatus:
    """`value`: the target metric's estimate for `obs`, when the caller has it already."""
    value = estimate(target.metric, obs) if value is None else value
    if value.mean is None or value.n < min_samples:
        return GoalStatus(target, "insufficient", value, min_samples)
    met = target.holds(value.mean)
    bounds = [b for b in (value.low, value.high) if b is not None]
    clear = all(target.holds(b) == met for b in bounds)
    return GoalStatus(target, "met" if met else "missed", value, min_samples, clear)


def difference(
    metric: str,
    candidate: Observations,
    baseline: Observations,
    *,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Estimate:
    """candidate - baseline for the metric, with a 95% CI from resampling each side on its
    own (unpaired: live traffic gives different prompts to each variant); for quantiles
    and large samples, from each side's interval (`_difference_of_estimates`)."""
    spec = TARGET_METRICS[metric]
    if (
        spec.kind == "quantile"
        or candidate.summary(metric) is not None
        or baseline.summary(metric) is not None
    ):
        return _difference_of_estimates(estimate(metric, candidate), estimate(metric, baseline))
    a, b = candidate.samples(metric), baseline.samples(metric)
    if a.size == 0 or b.size == 0:
        return Estimate(None, None, None, min(a.size, b.size))

    def stat(x: np.ndarray) -> Any:
        return np.quantile(x, spec.q, axis=-1) if spec.kind == "quantile" else x.mean(axis=-1)

    point = float(stat(a) - stat(b))
    rng = np.random.default_rng(seed)
    diffs = stat(a[rng.integers(0, a.size, size=(resamples, a.size))]) - stat(
        b[rng.integers(0, b.size, size=(resamples, b.size))]
    )
    alpha = (1 - confidence) / 2
    low, high = np.quantile(diffs, [alpha, 1 - alpha])
    return Estimate(point, float(low), float(high), min(a.size, b.size))


def _difference_of_estimates(a: Estimate, b: Estimate) -> Estimate:
    """candidate - baseline when either side is large: each side's CI half-width taken as
    z standard errors, the two combined in quadrature (independent sides)."""
    if None in (a.mean, b.mean, a.low, a.high, b.low, b.high):
        return Estimate(None, None, None, min(a.n, b.n))
    assert a.mean is not None and b.mean is not None  # for mypy: checked just above
    assert a.low is not None and a.high is not None and b.low is not None and b.high is not None
    point = a.mean - b.mean
    half = math.hypot((a.high - a.low) / 2, (b.high - b.low) / 2)
    return Estimate(point, point - half, point + half, min(a.n, b.n))


def significant(diff: Estimate) -> bool:
    return diff.low is not None and diff.high is not None and (diff.low > 0 or diff.high < 0)
