"""Model selection for a use case: rank the candidate variants by whether they meet every
target, then by cost; mark the Pareto front of quality against cost and latency; say which
one to choose and why. Built from `evals.goals` values; nothing here touches a store."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from evals.goals import (
    TARGET_METRICS,
    GoalStatus,
    Observations,
    Target,
    difference,
    estimate,
    goal_status,
    is_score,
    significant,
    wilson,
)
from evals.report import Estimate, MetricDiff, bootstrap_mean, metric_values

# What the report shows for every candidate, beside its targets and automatic scores.
EVIDENCE = (
    "win_rate",
    "satisfaction",
    "error_rate",
    "p50_latency_s",
    "p90_latency_s",
    "ttft_p50_s",
    "cost_per_1k_requests_usd",
)


@dataclass(frozen=True)
class Candidate:
    variant: str
    goals: list[GoalStatus]
    evidence: dict[str, Estimate]  # metric -> value with CI (targets' metrics, scores, ...)
    counts: dict[str, int]  # answers, feedback, votes
    vs_baseline: dict[str, Estimate] = field(default_factory=dict)  # metric -> this - baseline
    judge_win_rate: Estimate | None = None  # vs the baseline, from judge scores per example

    @property
    def has_data(self) -> bool:
        """Any answer, vote or feedback behind it (without, it has no place in a ranking)."""
        return any(self.counts.values())

    @property
    def all_met(self) -> bool:
        return bool(self.goals) and all(g.status == "met" for g in self.goals)

    @property
    def met_count(self) -> int:
        return sum(g.status == "met" for g in self.goals)

    @property
    def cost(self) -> float | None:
        est = self.evidence.get("cost_per_1k_requests_usd")
        return None if est is None else est.mean

    def value(self, metric: str) -> float | None:
        est = self.evidence.get(metric)
        return None if est is None else est.mean


def score_metrics(observations: Sequence[Observations]) -> list[str]:
    """The automatic score metrics present in any answer, in a stable order."""
    seen: list[str] = []
    for obs in observations:
        for name in obs.summaries:
            if is_score(name) and name not in seen:
                seen.append(name)
        for answer in obs.answers:
            for score in answer.get("scores") or []:
                name = score["metric"]
                if name in TARGET_METRICS and name not in seen:
                    seen.append(name)
    return sorted(seen)


def judge_win_rate(candidate: Observations, baseline: Observations) -> Estimate | None:
    """Share of examples (answered by both, in the same eval run) where the judge's mean
    rubric score is higher for the candidate; ties count half. None without judge scores."""

    def judged(obs: Observations) -> dict[tuple[str, str], float]:
        out = {}
        for a in obs.answers:
            key = a.get("example_key")
            values = [
                v for m, v in metric_values(a).items() if m.startswith("judge_") and v is not None
            ]
            if key is not None and values:
                out[key] = sum(values) / len(values)
        return out

    mine, theirs = judged(candidate), judged(baseline)
    shared = sorted(set(mine) & set(theirs))
    if not shared:
        return None
    results = [1.0 if mine[k] > theirs[k] else 0.0 if mine[k] < theirs[k] else 0.5 for k in shared]
    return bootstrap_mean(results)


def assess(
    variants: Sequence[str],
    observations: dict[str, Observations],
    targets: Sequence[Target],
    *,
    min_samples: int,
    baseline: str | None = None,
) -> list[Candidate]:
    """Every variant's goal status and evidence, ranked (best first)."""
    scores = score_metrics(list(observations.values()))
    metrics = [*dict.fromkeys([*(t.metric for t in targets), *scores, *EVIDENCE])]
    base = observations.get(baseline) if baseline else None
    out = []
    for v in variants:
        obs = observations.get(v, Observations())
        evidence = {m: estimate(m, obs) for m in metrics}  # every target's metric among them
        cand = Candidate(
            variant=v,
            goals=[goal_status(t, obs, min_samples, evidence[t.metric]) for t in targets],
            evidence=evidence,
            counts={
                "answers": obs.count("answers"),
                "feedback": obs.count("feedback"),
                "votes": obs.count("votes"),
            },
            vs_baseline=(
                {m: difference(m, obs, base) for m in metrics}
                if base is not None and v != baseline
                else {}
            ),
            judge_win_rate=(
                judge_win_rate(obs, base) if base is not None and v != baseline else None
            ),
        )
        out.append(cand)
    return rank(out, quality_metric(targets, scores))


def quality_metric(targets: Sequence[Target], scores: Sequence[str] = ()) -> str | None:
    """The quality axis of the trade-off plots: the first target on an automatic score or
    a human measure, else the first score present."""
    for t in targets:
        spec = t.spec
        if spec.higher_is_better and spec.kind in ("mean", "preference", "proportion"):
            return t.metric
    return scores[0] if scores else None


def rank(candidates: Sequence[Candidate], quality: str | None) -> list[Candidate]:
    """Those meeting every target first, cheapest first (ties: better quality first);
    then the others, most targets met first, then cheapest."""

    def key(c: Candidate) -> tuple[float, ...]:
        cost = c.cost if c.cost is not None else math.inf
        q = c.value(quality) if quality else None
        q_key = -q if q is not None else math.inf
        if c.all_met:
            return (0, cost, q_key)
        return (1, -c.met_count, cost, q_key)

    return sorted(candidates, key=key)


def pareto_front(points: Sequence[tuple[str, float, float]]) -> set[str]:
    """Labels of the points no other point beats on both axes: lower x (cost, latency) and
    higher y (quality)."""
    front = set()
    for label, x, y in points:
        dominated = any(
            (x2 <= x and y2 >= y) and (x2 < x or y2 > y) for l2, x2, y2 in points if l2 != label
        )
        if not dominated:
            front.add(label)
    return front


def _money(value: float | None) -> str:
    return "unknown cost" if value is None else f"${value:.4g} per 1k requests"


def recommendation(
    ranked: Sequence[Candidate], quality: str | None, window: str, use_case: str = "NAME"
) -> str:
    """One paragraph of plain text (no markup: it is shown as is): which variant to choose,
    and on what evidence; with no data, the next step."""
    answers = sum(c.counts["answers"] for c in ranked)
    votes = sum(c.counts["votes"] for c in ranked)
    feedback = sum(c.counts["feedback"] for c in ranked)
    basis = (
        f"Basis: {answers} answers, {votes} vote results and {feedback} feedback ratings "
        f"({window}); values are means or percentiles with 95% confidence intervals."
    )
    if not ranked or answers == 0:
        return (
            "No recommendation: no data yet for this use case in the window. Next step: run "
            "its datasets (the Run button on the Use cases page, or the command "
            f"arbiter usecase run {use_case}), or send traffic tagged with this use case. " + basis
        )
    winners = [c for c in ranked if c.all_met]
    n_targets = len(ranked[0].goals)
    if winners:
        best = winners[0]
        text = (
            f"Recommended: {best.variant}. It meets all {n_targets} targets at the lowest cost "
            f"({_money(best.cost)}) of the {len(winners)} variant(s) that meet them all"
        )
        tied = [c.variant for c in winners[1:] if c.cost == best.cost]
        if tied and quality:
            text += (
                f"; tied on cost with {', '.join(tied)}, it is ahead on {quality} "
                f"({best.evidence[quality].fmt()})"
            )
        return text + ". " + basis
    best = ranked[0]
    gaps = []
    for g in best.goals:
        if g.status != "met":
            gaps.append(f"{g.target}: {g.describe()}")
    return (
        f"No variant meets all {n_targets} targets. The closest is {best.variant}, meeting "
        f"{best.met_count} of {n_targets} at {_money(best.cost)}; it falls short on "
        + "; ".join(gaps)
        + ". "
        + basis
    )


def baseline_verdict(metric: str, diff: Estimate) -> str:
    """'better' / 'worse' / 'no significant difference' for a candidate - baseline diff."""
    if diff.mean is None:
        return "no data"
    if not significant(diff):
        return "no significant difference"
    better = (diff.mean > 0) == TARGET_METRICS[metric].higher_is_better
    return "better" if better else "worse"


@dataclass(frozen=True)
class SelectionReport:
    title: str
    meta: dict[str, str]  # use case, description, window, baseline, ...
    targets: list[Target]
    ranked: list[Candidate]
    baseline: str | None
    quality: str | None
    recommendation: str
    plots: dict[str, bytes] = field(default_factory=dict)  # file name -> PNG
    tuned: list[TunedComparison] = field(default_factory=list)  # base vs tuned, per tuning


def tradeoff_points(
    ranked: Sequence[Candidate], x_metric: str, quality: str
) -> list[tuple[str, float, float]]:
    points = []
    for c in ranked:
        x, y = c.value(x_metric), c.value(quality)
        if x is not None and y is not None:
            points.append((c.variant, x, y))
    return points


# ---- base vs tuned -------------------------------------------------------------------------

TUNED_RULE = (
    "Rule: promote when the 95% Wilson interval of the tuned model's win rate over its base "
    "(blind campaign votes; ties and both-bad left out) lies wholly above 50%; keep the base "
    "when it lies wholly below 50%; otherwise not enough data yet. Eval-run means (95% "
    "bootstrap intervals) are shown beside it, not counted in the rule."
)
Verdict = Literal["promote", "keep_base", "not_enough_data"]


@dataclass(frozen=True)
class WinRate:
    """The tuned model against its base in blind votes: decisive votes only in the rate."""

    wins: int  # the tuned model's answer preferred
    losses: int  # the base's preferred
    ties: int  # tie or both bad

    @property
    def decisive(self) -> int:
        return self.wins + self.losses

    @property
    def rate(self) -> float | None:
        return self.wins / self.decisive if self.decisive else None

    @property
    def interval(self) -> tuple[float, float] | None:
        """The 95% Wilson score interval of the rate (None without a decisive vote)."""
        return wilson(self.wins, self.decisive) if self.decisive else None

    def fmt(self) -> str:
        if self.rate is None or self.interval is None:
            return "—"
        low, high = self.interval
        return f"{self.rate:.1%} [{low:.1%}, {high:.1%}]"


def tuned_verdict(win: WinRate) -> Verdict:
    """`TUNED_RULE`, applied."""
    interval = win.interval
    if interval is None:
        return "not_enough_data"
    if interval[0] > 0.5:
        return "promote"
    if interval[1] < 0.5:
        return "keep_base"
    return "not_enough_data"


@dataclass(frozen=True)
class TunedComparison:
    """A tuned variant against the base variant it was tuned from: the votes of the blind
    campaign its tuning created, and the eval runs' metrics (a = base, b = tuned)."""

    tuned: str
    base: str
    job: str
    campaign: str | None
    win: WinRate
    metrics: list[MetricDiff]
    eval_runs: list[str]
    note: str = ""  # why metrics are missing, when they are

    @property
    def verdict(self) -> Verdict:
        return tuned_verdict(self.win)

    @property
    def recommendation(self) -> str:
        """One line of plain text."""
        votes = (
            f"{self.win.wins} wins, {self.win.losses} losses, {self.win.ties} ties; "
            f"win rate {self.win.fmt()}"
        )
        if self.verdict == "promote":
            return f"Promote {self.tuned}: it beats {self.base} in blind votes ({votes})."
        if self.verdict == "keep_base":
            return f"Keep {self.base}: it beats its tuned {self.tuned} in blind votes ({votes})."
        return (
            f"Not enough data yet for {self.tuned} vs {self.base} ({votes}): collect more "
            f"votes in campaign {self.campaign or '—'}."
        )
