"""Reports over scored answers: per-side means with bootstrap 95% confidence intervals,
paired comparisons (B - A per example), judge win rates, and a regression gate.

A *side* is a labelled list of items (one variant of one run). An item is a plain dict:
`example_id`, `prompt`, `answer`, `status`, `latency_ms`, `ttft_ms`, `tokens_out`,
`cost_usd` and `scores` ([{metric, version, value, error}]). Nothing here touches a store or
a model: the service gathers the items and the judge verdicts and passes them in.

Scores of one metric computed by two versions (another definition, judge or embedding
model) are never pooled, compared or gated against each other: `MixedVersions` names both."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evals.errors import MixedVersions

CONFIDENCE = 0.95
RESAMPLES = 2000

# Operational metrics, computed from the items themselves; lower is better for all but
# tokens_out, which is neither (shown, never gated).
OPERATIONAL = ("error_rate", "latency_s", "ttft_s", "tokens_out", "cost_usd")
LOWER_IS_BETTER = frozenset({"error_rate", "latency_s", "ttft_s", "cost_usd"})


def higher_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


@dataclass(frozen=True)
class Estimate:
    """A mean with its bootstrap confidence interval; `mean` is None when there are no
    values (never NaN). `errors` counts rows that had no value because scoring failed."""

    mean: float | None
    low: float | None
    high: float | None
    n: int
    errors: int = 0

    def fmt(self, digits: int = 3) -> str:
        if self.mean is None:
            return "—"
        if self.low is None or self.high is None or self.n < 2:
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def bootstrap_mean(
    values: Sequence[float],
    *,
    errors: int = 0,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Estimate:
    """Percentile bootstrap of the mean. Written with numpy rather than scipy.stats.bootstrap
    to keep scipy out of the install; resampling is done in blocks to bound memory."""
    data = np.asarray(values, dtype=float)
    n = int(data.size)
    if n == 0:
        return Estimate(None, None, None, 0, errors)
    mean = float(data.mean())
    if n == 1 or float(data.min()) == float(data.max()):
        return Estimate(mean, mean, mean, n, errors)
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    block = max(1, 2_000_000 // n)
    for start in range(0, resamples, block):
        stop = min(resamples, start + block)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = data[idx].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return Estimate(mean, float(low), float(high), n, errors)


def metric_values(item: Mapping[str, Any]) -> dict[str, float | None]:
    """Every metric of one item: scored metrics (None: scoring failed) and operational
    ones (None: not measured)."""
    out: dict[str, float | None] = {}
    ok = item.get("status") == "ok"
    out["error_rate"] = 0.0 if ok else 1.0
    if ok:
        for key, src, scale in (
            ("latency_s", "latency_ms", 1e-3),
            ("ttft_s", "ttft_ms", 1e-3),
            ("tokens_out", "tokens_out", 1.0),
            ("cost_usd", "cost_usd", 1.0),
        ):
            raw = item.get(src)
            if raw is not None and math.isfinite(float(raw)):
                out[key] = float(raw) * scale
        for score in item.get("scores") or []:
            value = score.get("value")
            out[score["metric"]] = None if value is None else float(value)
    return out


def metric_versions(label: str, items: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """The version of each scored metric on one side. Raises `MixedVersions` when a metric
    has scores of two versions there."""
    seen: dict[str, str] = {}
    for item in items:
        for score in item.get("scores") or []:
            version = score.get("version")
            if not version:
                continue  # stored before versions were kept: nothing to check against
            metric = str(score["metric"])
            first = seen.setdefault(metric, str(version))
            if first != version:
                raise MixedVersions(
                    f"{label} has {metric} scores of two versions, {first} and {version}; "
                    "they measure different things and are not averaged together",
                    hint="Score the side again with one metric setup, or report each run "
                    "separately.",
                )
    return seen


def check_same_versions(
    a: SideSummary, b: SideSummary, metrics: Iterable[str] | None = None
) -> None:
    """Raises `MixedVersions` when a metric both sides have (or one of `metrics`) was
    computed by different versions on each."""
    for metric in metrics if metrics is not None else a.versions:
        va, vb = a.versions.get(metric), b.versions.get(metric)
        if va and vb and va != vb:
            raise MixedVersions(
                f"{metric} is version {va} in {a.label} but version {vb} in {b.label}; "
                "scores of different versions of a metric are not compared",
                hint="Score both sides with the same metric setup (same judge, same "
                "embedding model), or leave this metric out.",
            )


@dataclass(frozen=True)
class SideSummary:
    label: str
    answers: int
    metrics: dict[str, Estimate]  # scored metrics, then operational ones
    p50_latency_s: float | None = None
    p90_latency_s: float | None = None
    versions: dict[str, str] = field(default_factory=dict)  # scored metric -> its version

    def scored(self) -> list[str]:
        return [m for m in self.metrics if m not in OPERATIONAL]


def summarize(label: str, items: Sequence[Mapping[str, Any]]) -> SideSummary:
    versions = metric_versions(label, items)
    values: dict[str, list[float]] = {}
    errors: Counter[str] = Counter()
    for item in items:
        for metric, value in metric_values(item).items():
            bucket = values.setdefault(metric, [])
            if value is None:
                errors[metric] += 1
            else:
                bucket.append(value)
    scored = sorted(m for m in values if m not in OPERATIONAL)
    metrics = {
        m: bootstrap_mean(values[m], errors=errors[m])
        for m in [*scored, *(o for o in OPERATIONAL if o in values)]
    }
    latencies = values.get("latency_s") or []
    p50, p90 = (
        (float(np.quantile(latencies, 0.5)), float(np.quantile(latencies, 0.9)))
        if latencies
        else (None, None)
    )
    return SideSummary(label, len(items), metrics, p50, p90, versions)


@dataclass(frozen=True)
class ExampleDiff:
    example_id: str
    prompt: str
    answer_a: str
    answer_b: str
    a: dict[str, float | None]
    b: dict[str, float | None]
    verdict: str | None = None  # "a" | "b" | "tie" from the judge, when asked

    def delta(self, metric: str) -> float | None:
        va, vb = self.a.get(metric), self.b.get(metric)
        return None if va is None or vb is None else vb - va


@dataclass(frozen=True)
class MetricDiff:
    metric: str
    a: Estimate
    b: Estimate
    diff: Estimate  # paired, B - A, over examples scored on both sides

    @property
    def significant(self) -> bool:
        d = self.diff
        return d.low is not None and d.high is not None and d.n > 1 and (d.low > 0 or d.high < 0)

    @property
    def better(self) -> str | None:
        """Which side is significantly better on this metric, if either."""
        if not self.significant or self.diff.mean is None:
            return None
        b_up = self.diff.mean > 0
        return "b" if b_up == higher_is_better(self.metric) else "a"


@dataclass(frozen=True)
class Comparison:
    a: SideSummary
    b: SideSummary
    diffs: list[MetricDiff]
    examples: list[ExampleDiff]
    verdicts: Counter[str] = field(default_factory=Counter)  # judge: a / b / tie / error
    judge: str | None = None

    @property
    def win_rate_b(self) -> Estimate | None:
        """B's win rate over A by the judge, ties counting half; None without a judge."""
        outcomes = [
            {"b": 1.0, "a": 0.0, "tie": 0.5}[e.verdict]
            for e in self.examples
            if e.verdict in ("a", "b", "tie")
        ]
        if self.judge is None:
            return None
        return bootstrap_mean(outcomes, errors=self.verdicts.get("error", 0))


def compare(
    a: tuple[str, Sequence[Mapping[str, Any]]],
    b: tuple[str, Sequence[Mapping[str, Any]]],
    *,
    verdicts: Mapping[str, str] | None = None,
    judge: str | None = None,
) -> Comparison:
    """Compare side B with side A example by example. `verdicts` maps example ids to the
    pairwise judge's verdict ("a", "b", "tie" or "error")."""
    a_by = {str(i["example_id"]): i for i in a[1]}
    b_by = {str(i["example_id"]): i for i in b[1]}
    common = [k for k in a_by if k in b_by]
    verdicts = verdicts or {}
    examples = [
        ExampleDiff(
            example_id=k,
            prompt=str(a_by[k].get("prompt", "")),
            answer_a=str(a_by[k].get("answer", "")),
            answer_b=str(b_by[k].get("answer", "")),
            a=metric_values(a_by[k]),
            b=metric_values(b_by[k]),
            verdict=verdicts.get(k),
        )
        for k in common
    ]
    sa, sb = summarize(a[0], a[1]), summarize(b[0], b[1])
    check_same_versions(sa, sb)
    names = [m for m in sa.metrics if m in sb.metrics]
    diffs = []
    for m in names:
        deltas = [d for d in (e.delta(m) for e in examples) if d is not None]
        diffs.append(MetricDiff(m, sa.metrics[m], sb.metrics[m], bootstrap_mean(deltas)))
    return Comparison(
        sa, sb, diffs, examples, Counter(v for v in verdicts.values() if v), judge=judge
    )


@dataclass(frozen=True)
class GateCheck:
    metric: str
    baseline: float | None
    candidate: float | None
    allowed: float
    worsened_by: float | None  # positive: the candidate is worse by this much
    passed: bool
    reason: str


def parse_thresholds(specs: Iterable[str]) -> dict[str, float]:
    """`rouge_l=0.02` → {"rouge_l": 0.02}; a clear error for anything else."""
    out: dict[str, float] = {}
    for spec in specs:
        name, sep, raw = spec.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"{spec!r} is not METRIC=AMOUNT (for example rouge_l=0.02)")
        try:
            amount = float(raw)
        except ValueError:
            raise ValueError(f"{spec!r}: {raw!r} is not a number") from None
        if not math.isfinite(amount) or amount < 0:
            raise ValueError(f"{spec!r}: the allowed drop must be a number >= 0")
        out[name] = amount
    return out


def gate(
    baseline: SideSummary, candidate: SideSummary, thresholds: Mapping[str, float]
) -> list[GateCheck]:
    """One check per threshold. A metric worsens when it drops (or rises, for latency, TTFT,
    cost and error rate) by more than its allowance; a metric missing on either side fails —
    a gate that cannot measure must not pass. Raises `MixedVersions` when a gated metric
    was computed by different versions on the two sides."""
    check_same_versions(baseline, candidate, thresholds)
    checks = []
    for metric, allowed in thresholds.items():
        base = baseline.metrics.get(metric)
        cand = candidate.metrics.get(metric)
        if base is None or base.mean is None or cand is None or cand.mean is None:
            where = "baseline" if base is None or base.mean is None else "candidate"
            checks.append(
                GateCheck(
                    metric,
                    base.mean if base else None,
                    cand.mean if cand else None,
                    allowed,
                    None,
                    False,
                    f"no {metric} values in the {where}",
                )
            )
            continue
        change = cand.mean - base.mean
        worse = -change if higher_is_better(metric) else change
        passed = worse <= allowed + 1e-12
        verb = "dropped" if higher_is_better(metric) else "rose"
        amount = abs(change)
        reason = (
            f"within the allowed {allowed:g}"
            if passed
            else f"{verb} by {amount:.4g}, more than the allowed {allowed:g}"
        )
        checks.append(GateCheck(metric, base.mean, cand.mean, allowed, worse, passed, reason))
    return checks


@dataclass
class Report:
    """Everything a rendered report shows. `plots` maps file names to PNG bytes."""

    title: str
    meta: dict[str, str]
    sides: list[SideSummary]
    comparisons: list[Comparison] = field(default_factory=list)
    plots: dict[str, bytes] = field(default_factory=dict)

    @property
    def primary_metric(self) -> str | None:
        """The metric the diff view sorts by: the first scored one."""
        for side in self.sides:
            scored = side.scored()
            if scored:
                return scored[0]
        return None
