"""Where a use case stands against its targets over a window: every variant x target met,
missed or not enough data, with the value and its 95% CI, from the answers (live traffic and
eval runs), scores, thumbs and votes counted toward the use case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from evals.goals import GoalStatus, Observations, goal_status
from evals.selection import Candidate, assess
from service.errors import ErrorCode, InvalidRequest
from service.evaluation.usecases.spec import UseCaseSpec
from service.labels import records_of
from service.store import Store, usecases

RESULT_VALUES = {"win": 1.0, "loss": 0.0, "tie": 0.5, "both_bad": 0.5}  # both bad: a tie


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime

    @classmethod
    def last(cls, days: float, *, now: datetime | None = None) -> Window:
        now = now or datetime.now(UTC)
        return cls(now - timedelta(days=days), now)

    def describe(self) -> str:
        fmt = "%Y-%m-%d %H:%M UTC"
        return f"{self.since.strftime(fmt)} to {self.until.strftime(fmt)}"


def observations(store: Store, spec: UseCaseSpec, window: Window) -> dict[str, Observations]:
    """Per variant: answers (live and eval runs) with their scores, feedback and vote
    results, inside the window."""
    out = {v: Observations() for v in spec.variants}
    for answer in usecases.answers_in_window(
        store, spec.name, spec.variants, window.since, window.until
    ):
        out[answer.pop("variant")].answers.append(answer)
    for variant, positive in usecases.latest_thumbs(store, spec.name, window.since, window.until):
        if variant in out:
            out[variant].feedback.append(positive)
    votes = usecases.live_votes_in_window(store, spec.name, window.since, window.until)
    panes, modes = usecases.panes_of_voted_turns(store, spec.name, window.since, window.until)
    for record in records_of(votes, panes, modes):
        if record.variant in out:
            out[record.variant].results.append(RESULT_VALUES[record.outcome])
    return out


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
