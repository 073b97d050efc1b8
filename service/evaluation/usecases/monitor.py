"""The goal monitor: every use case's goal status over its window, as telemetry records
(Prometheus gauges, CloudWatch metrics). The app's lifespan runs it every
ARBITER_GOALS_INTERVAL_S."""

from __future__ import annotations

from collections.abc import Callable

from monitoring.records import GoalRecord, Record
from service.evaluation.usecases.goals import Window, goal_statuses
from service.evaluation.usecases.registry import list_all
from service.store import Store


def refresh_goals(store: Store, emit: Callable[[Record], None]) -> list[GoalRecord]:
    records = []
    for spec in list_all(store):
        window = Window.last(spec.window_days)
        for variant, goals in goal_statuses(store, spec, window).items():
            for g in goals:
                record = GoalRecord(
                    usecase=spec.name,
                    variant=variant,
                    target=str(g.target),
                    met=g.met,
                    value=g.value.mean,
                    low=g.value.low,
                    high=g.value.high,
                    samples=g.value.n,
                )
                emit(record)
                records.append(record)
    return records
