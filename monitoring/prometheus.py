"""The Prometheus sink: counters and histograms in its own registry, rendered at
`/metrics`. Labels: variant, provider, metric, outcome, error code — all bounded."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from monitoring.records import (
    FeedbackRecord,
    GoalRecord,
    ModelCall,
    Record,
    ScoreRecord,
    VoteRecord,
)

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120)
TOKEN_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2000, 4000, 8000)
SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 2, 3, 4, 5)


class _PipelineStats(Collector):
    def __init__(self, stats: Callable[[], tuple[int, dict[str, int]]]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[CounterMetricFamily]:
        dropped, errors = self._stats()
        yield CounterMetricFamily(
            "arbiter_telemetry_dropped", "Telemetry records dropped: the queue was full.", dropped
        )
        family = CounterMetricFamily(
            "arbiter_telemetry_export_errors", "Failed exports, per sink.", labels=["sink"]
        )
        for sink, n in sorted(errors.items()):
            family.add_metric([sink], n)
        yield family


class _LimitStats(Collector):
    def __init__(self, stats: Callable[[], tuple[int, bool | None]]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        failures, shared = self._stats()
        yield CounterMetricFamily(
            "arbiter_limits_redis_failures",
            "Calls to the Redis that shares per-key limits between replicas which failed; "
            "each time, this process counted on its own for a few seconds.",
            failures,
        )
        if shared is not None:
            yield GaugeMetricFamily(
                "arbiter_limits_shared",
                "1 while per-key limits are counted in Redis (shared by replicas), 0 while "
                "this process counts on its own because Redis failed.",
                1.0 if shared else 0.0,
            )


class PrometheusSink:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        call = ["variant", "provider"]
        self.calls = Counter(
            "arbiter_model_calls", "Model calls (answers).", [*call, "status"], registry=r
        )
        self.errors = Counter(
            "arbiter_model_errors",
            "Failed model calls, by error code.",
            [*call, "error"],
            registry=r,
        )
        self.latency = Histogram(
            "arbiter_model_latency_seconds",
            "Whole answer time.",
            call,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "arbiter_model_ttft_seconds",
            "Time to first token.",
            call,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens = Histogram(
            "arbiter_model_tokens",
            "Tokens per answer.",
            [*call, "direction"],
            buckets=TOKEN_BUCKETS,
            registry=r,
        )
        self.cost = Counter(
            "arbiter_model_cost_usd", "Cost of the calls, US dollars.", call, registry=r
        )
        self.scores = Histogram(
            "arbiter_score",
            "Automatic scores.",
            ["metric", "variant"],
            buckets=SCORE_BUCKETS,
            registry=r,
        )
        self.score_errors = Counter(
            "arbiter_score_errors",
            "Scores that could not be computed.",
            ["metric", "variant"],
            registry=r,
        )
        self.feedback = Counter(
            "arbiter_feedback", "Thumbs up / down on answers.", ["variant", "value"], registry=r
        )
        self.votes = Counter(
            "arbiter_votes",
            "Human votes, per variant and result.",
            ["variant", "outcome", "mode"],
            registry=r,
        )
        goal = ["usecase", "variant", "target"]
        self.goal_met = Gauge(
            "arbiter_goal_met",
            "1 when the variant meets the use case's target over its window, 0 when it misses "
            "it; absent while there is not enough data.",
            goal,
            registry=r,
        )
        self.goal_value = Gauge(
            "arbiter_goal_value",
            "The measured value a target is checked against.",
            goal,
            registry=r,
        )
        self.goal_samples = Gauge(
            "arbiter_goal_samples", "Observations behind a target's value.", goal, registry=r
        )

    def watch_pipeline(self, stats: Callable[[], tuple[int, dict[str, int]]]) -> None:
        """Expose the pipeline's own drop and error counts."""
        self.registry.register(_PipelineStats(stats))

    def watch_limits(self, stats: Callable[[], tuple[int, bool | None]]) -> None:
        """Expose the per-key limiter's Redis failures and whether Redis counts now."""
        self.registry.register(_LimitStats(stats))

    def export(self, records: Sequence[Record]) -> None:
        # Votes come in thousands a second (batches): counted per label set, each counter
        # then moved once.
        votes: dict[tuple[str, str, str], int] = {}
        for rec in records:
            if isinstance(rec, ModelCall):
                labels = (rec.variant, rec.provider)
                self.calls.labels(*labels, rec.status).inc()
                if rec.status != "ok":
                    self.errors.labels(*labels, rec.error or rec.status).inc()
                    continue
                self.latency.labels(*labels).observe(rec.latency_s)
                if rec.ttft_s is not None:
                    self.ttft.labels(*labels).observe(rec.ttft_s)
                if rec.tokens_in is not None:
                    self.tokens.labels(*labels, "input").observe(rec.tokens_in)
                if rec.tokens_out is not None:
                    self.tokens.labels(*labels, "output").observe(rec.tokens_out)
                if rec.cost_usd:
                    self.cost.labels(*labels).inc(rec.cost_usd)
            elif isinstance(rec, ScoreRecord):
                if rec.value is None:
                    self.score_errors.labels(rec.metric, rec.variant).inc()
                else:
                    self.scores.labels(rec.metric, rec.variant).observe(rec.value)
            elif isinstance(rec, VoteRecord):
                key = (rec.variant, rec.outcome, rec.mode)
                votes[key] = votes.get(key, 0) + 1
            elif isinstance(rec, FeedbackRecord):
                self.feedback.labels(rec.variant, "up" if rec.positive else "down").inc()
            elif isinstance(rec, GoalRecord):
                self._goal(rec)
        for (variant, outcome, mode), n in votes.items():
            self.votes.labels(variant, outcome, mode).inc(n)

    def _goal(self, rec: GoalRecord) -> None:
        labels = (rec.usecase, rec.variant, rec.target)
        self.goal_samples.labels(*labels).set(rec.samples)
        for gauge, value in ((self.goal_met, rec.met), (self.goal_value, rec.value)):
            if value is None:
                with contextlib.suppress(KeyError):  # never set: nothing to remove
                    gauge.remove(*labels)
            else:
                gauge.labels(*labels).set(float(value))

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def force_flush(self, timeout_s: float = 5.0) -> bool:
        return True  # updates are applied as they are exported

    def shutdown(self) -> None:
        pass
