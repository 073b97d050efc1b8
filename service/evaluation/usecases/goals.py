"""Where a use case stands against its targets over a window: every variant x target met,
missed or not enough data, with the value and its 95% CI, from the answers (live traffic and
eval runs), scores, thumbs and votes counted toward the use case.

A variant with at least `evals.goals.LARGE_SAMPLE` live answers in the window is read from
the rollups, not row by row: the window is then rounded down to whole minutes (from the
minute holding `since` to the one before the minute holding `until`) for its live answers,
scores and votes, whole hours read from the hour rollups and the minutes at the ends from the
minute ones. Counts, error rate, latency/TTFT sketches (quantiles within 1% relative error,
`service.store.sketch`), the ok answers' count, sum and sum of squares of latency, tokens and
cost, the scores' (counted in the minute they were scored, which for live scoring is the
answer's or the next) and vote results all come from there, a few hundred rows for a week
whatever the traffic. Its eval run items and everyone's thumbs are still read as rows (a use
case's eval runs are small; thumbs are not rolled up). Its statistics then use the
large-sample intervals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from evals.goals import (
    LARGE_SAMPLE,
    TARGET_METRICS,
    GoalStatus,
    Histogram,
    Moments,
    Observations,
    Proportion,
    Summary,
    goal_status,
    is_score,
)
from evals.selection import Candidate, assess
from service.errors import ErrorCode, InvalidRequest
from service.evaluation.usecases.datasets import dataset_hashes
from service.evaluation.usecases.spec import UseCaseSpec
from service.store import Store, sketch, usecases

RESULT_VALUES = {"win": 1.0, "loss": 0.0, "tie": 0.5, "both_bad": 0.5}  # both bad: a tie


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime

    @classmethod
    def last(cls, days: float, *, now: datetime | None = None) -> Window:
        now = now or datetime.now(UTC)
        return cls(now - timedelta(days=days), now)

    def minutes(self) -> tuple[int, int]:
        """The whole minutes [first, end) an aggregate read covers (since and until rounded
        down to their minute)."""
        return usecases.minute_of(self.since), usecases.minute_of(self.until)

    def rounded(self) -> Window:
        first, end = self.minutes()
        return Window(_at_minute(first), _at_minute(end))

    def describe(self) -> str:
        fmt = "%Y-%m-%d %H:%M UTC"
        return f"{self.since.strftime(fmt)} to {self.until.strftime(fmt)}"


def _at_minute(minute: int) -> datetime:
    return datetime.fromtimestamp(minute * 60, UTC)


def observations(
    store: Store, spec: UseCaseSpec, window: Window, *, from_rows: bool = False
) -> dict[str, Observations]:
    """Per variant: answers (live and eval runs) with their scores, feedback and vote
    results, inside the window. Variants with many live answers as aggregates (see the
    module's docstring) unless `from_rows`."""
    first, end = window.minutes()
    counts = {} if from_rows else usecases.answer_counts(store, spec.name, first, end)
    large = [v for v in spec.variants if counts.get(v, 0) >= LARGE_SAMPLE]
    small = [v for v in spec.variants if v not in large]
    out = {v: Observations() for v in spec.variants}
    for answer in usecases.answers_in_window(
        store,
        spec.name,
        spec.variants,
        window.since,
        window.until,
        live_variants=small,
        datasets=dataset_hashes(spec),
    ):
        out[answer.pop("variant")].answers.append(answer)
    for variant, positive in usecases.latest_thumbs(store, spec.name, window.since, window.until):
        if variant in out:
            out[variant].feedback.append(positive)
    votes = usecases.vote_counts(store, spec.name, first, end) if large else {}
    # A variant's votes are summarised only when there are many: below that its win rate
    # keeps the bootstrap over its vote results, read as rows.
    summed_votes = [v for v in large if sum(votes.get(v, {}).values()) >= LARGE_SAMPLE]
    listed_votes = [v for v in spec.variants if v not in summed_votes]
    if listed_votes:
        for variant, result in usecases.vote_results_in_window(
            store,
            spec.name,
            window.since,
            window.until,
            listed_votes if summed_votes else None,
        ):
            if variant in out:
                out[variant].results.append(RESULT_VALUES[result])
    if large:
        aggregates = usecases.answer_aggregates(store, spec.name, large, first, end)
        for v in large:
            _summarise(out[v], aggregates[v], votes.get(v, {}) if v in summed_votes else None)
    return out


def _summarise(
    obs: Observations, agg: usecases.AnswerAggregate, votes: dict[str, int] | None
) -> None:
    """Put one variant's aggregates into its observations, as the metrics' summaries."""
    summaries: dict[str, Summary] = {"error_rate": Proportion(agg.answers - agg.ok, agg.answers)}
    for source, bins in (("latency_s", agg.latency), ("ttft_s", agg.ttft)):
        hist = (
            Histogram(sketch.values_of(bins[0]) * 1e-3, bins[1])
            if bins is not None
            else Histogram(np.empty(0), np.empty(0, dtype=np.int64))
        )
        for name, metric in TARGET_METRICS.items():
            if metric.kind == "quantile" and metric.source == source:
                summaries[name] = hist
    for name, field_name, scale in (
        ("latency_s", "latency_ms", 1e-3),
        ("tokens_out", "tokens_out", 1.0),
        ("cost_per_1k_requests_usd", "cost_usd", 1000.0),
    ):
        n, total, total_sq = agg.sums.get(field_name, (0, 0.0, 0.0))
        summaries[name] = Moments(n, total * scale, total_sq * scale * scale)
    for score, (n, total, total_sq, errors) in agg.scores.items():
        if score in TARGET_METRICS and is_score(score):
            summaries[score] = Moments(n, total, total_sq, errors)
    obs.summarised["answers"] = agg.answers
    if votes is not None:
        wins, ties = votes.get("win", 0), votes.get("tie", 0) + votes.get("both_bad", 0)
        n_votes = wins + ties + votes.get("loss", 0)
        # Each result is 1 (win), 0 (loss) or 0.5 (tie, both bad): RESULT_VALUES.
        summaries["win_rate"] = Moments(n_votes, wins + 0.5 * ties, wins + 0.25 * ties)
        obs.summarised["votes"] = n_votes
    obs.summaries.update(summaries)


def goal_statuses(store: Store, spec: UseCaseSpec, window: Window) -> dict[str, list[GoalStatus]]:
    """Only the targets, per variant (what the goal monitor exports)."""
    targets = spec.parsed_targets()
    return {
        variant: [goal_status(t, obs, spec.min_samples) for t in targets]
        for variant, obs in observations(store, spec, window).items()
    }


def status(
    store: Store, spec: UseCaseSpec, window: Window, *, baseline: str | None = None
) -> list[Candidate]:
    """Every variant against every target (ranked, best first)."""
    baseline = baseline or spec.baseline
    if baseline is not None and baseline not in spec.variants:
        raise InvalidRequest(
            f"baseline {baseline!r} is not one of the use case's variants",
            code=ErrorCode.INVALID_BASELINE,
            hint="Choose one of: " + ", ".join(spec.variants),
        )
    return assess(
        spec.variants,
        observations(store, spec, window),
        spec.parsed_targets(),
        min_samples=spec.min_samples,
        baseline=baseline,
    )
