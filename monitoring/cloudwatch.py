"""Amazon CloudWatch: metrics through batched PutMetricData, and a dashboard and alarms
generated from one definition.

Service limits respected (and tested): at most 1,000 metric data per request, at most 150
distinct values per datum (values with counts), no NaN or infinity, at most 30
dimensions (we use two). Data are buffered and put when `flush_every_s` has passed or on
`force_flush`; a failed put raises to the pipeline, which counts it and goes on."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from monitoring.records import (
    FeedbackRecord,
    GoalRecord,
    ModelCall,
    Record,
    ScoreRecord,
    VoteRecord,
)

MAX_DATA_PER_REQUEST = 1000
MAX_VALUES_PER_DATUM = 150
Key = tuple[str, tuple[tuple[str, str], ...], str]  # metric name, dimensions, unit


class CloudWatchSink:
    def __init__(
        self, client: Any, namespace: str = "Arbiter", *, flush_every_s: float = 60.0
    ) -> None:
        self._client = client
        self.namespace = namespace
        self._flush_every_s = flush_every_s
        self._buffer: dict[Key, dict[float, float]] = {}  # value -> count
        self._lock = threading.Lock()
        self._last_put = time.monotonic()

    def _add(self, name: str, dims: dict[str, str], value: float | None, unit: str) -> None:
        if value is None or not math.isfinite(value):
            return  # CloudWatch refuses NaN and infinity
        key = (name, tuple(dims.items()), unit)  # the order the dashboard and alarms use
        with self._lock:
            counts = self._buffer.setdefault(key, {})
            counts[value] = counts.get(value, 0.0) + 1

    def export(self, records: Sequence[Record]) -> None:
        for rec in records:
            if isinstance(rec, ModelCall):
                dims = {"Variant": rec.variant, "Provider": rec.provider}
                self._add("Calls", dims, 1.0, "Count")
                self._add("Errors", dims, 0.0 if rec.status == "ok" else 1.0, "Count")
                if rec.status == "ok":
                    self._add("Latency", dims, rec.latency_s, "Seconds")
                    self._add("TimeToFirstToken", dims, rec.ttft_s, "Seconds")
                    self._add("OutputTokens", dims, rec.tokens_out, "Count")
                    self._add("Cost", dims, rec.cost_usd, "None")
            elif isinstance(rec, ScoreRecord):
                self._add(
                    "Score", {"Metric": rec.metric, "Variant": rec.variant}, rec.value, "None"
                )
            elif isinstance(rec, VoteRecord):
                self._add("Votes", {"Variant": rec.variant, "Outcome": rec.outcome}, 1.0, "Count")
            elif isinstance(rec, FeedbackRecord):
                self._add(
                    "Feedback", {"Variant": rec.variant}, 1.0 if rec.positive else 0.0, "None"
                )
            elif isinstance(rec, GoalRecord):
                dims = goal_dimensions(rec.usecase, rec.variant, rec.target)
                self._add("GoalMet", dims, None if rec.met is None else float(rec.met), "None")
                self._add("GoalValue", dims, rec.value, "None")
        if time.monotonic() - self._last_put >= self._flush_every_s:
            self.force_flush()

    def pending(self) -> int:
        with self._lock:
            return len(self._buffer)

    def _data(self) -> list[dict[str, Any]]:
        with self._lock:
            buffer, self._buffer = self._buffer, {}
        now = datetime.now(UTC)
        data = []
        for (name, dims, unit), counts in buffer.items():
            items = sorted(counts.items())
            for start in range(0, len(items), MAX_VALUES_PER_DATUM):
                chunk = items[start : start + MAX_VALUES_PER_DATUM]
                data.append(
                    {
                        "MetricName": name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
                        "Timestamp": now,
                        "Values": [v for v, _ in chunk],
                        "Counts": [c for _, c in chunk],
                        "Unit": unit,
                    }
                )
        return data

    def force_flush(self, timeout_s: float = 5.0) -> bool:
        data = self._data()
        self._last_put = time.monotonic()
        for start in range(0, len(data), MAX_DATA_PER_REQUEST):
            self._client.put_metric_data(
                Namespace=self.namespace, MetricData=data[start : start + MAX_DATA_PER_REQUEST]
            )
        return True

    def shutdown(self) -> None:
        self.force_flush()


# ---- dashboard and alarms, from one definition ---------------------------------------------


def _metric(namespace: str, name: str, dims: dict[str, str], stat: str, label: str) -> list[Any]:
    flat: list[Any] = [namespace, name]
    for k, v in dims.items():
        flat += [k, v]
    return [*flat, {"stat": stat, "label": label}]


def dashboard_body(
    namespace: str, region: str, variants: Sequence[tuple[str, str]], metrics: Sequence[str]
) -> dict[str, Any]:
    """Latency p50/p90/p99, TTFT, output tokens, cost, error rate, quality scores and win
    rates per variant. `variants` are (name, provider) pairs."""
    widgets: list[dict[str, Any]] = []

    def widget(title: str, series: list[list[Any]], *, stat: str = "Average") -> None:
        k = len(widgets)
        widgets.append(
            {
                "type": "metric",
                "x": (k % 2) * 12,
                "y": (k // 2) * 6,
                "width": 12,
                "height": 6,
                "properties": {
                    "title": title,
                    "region": region,
                    "view": "timeSeries",
                    "stat": stat,
                    "period": 300,
                    "metrics": series,
                },
            }
        )

    def per_variant(name: str, stat: str, suffix: str = "") -> list[list[Any]]:
        return [
            _metric(namespace, name, {"Variant": v, "Provider": p}, stat, f"{v}{suffix}")
            for v, p in variants
        ]

    widget(
        "Latency p50 / p90 / p99 (s)",
        [s for q in ("p50", "p90", "p99") for s in per_variant("Latency", q, f" {q}")],
    )
    widget(
        "Time to first token p50 / p90 (s)",
        [s for q in ("p50", "p90") for s in per_variant("TimeToFirstToken", q, f" {q}")],
    )
    widget("Output tokens per answer", per_variant("OutputTokens", "Average"))
    widget("Cost (USD)", per_variant("Cost", "Sum"), stat="Sum")
    error_series: list[list[Any]] = []
    for k, (v, p) in enumerate(variants):
        dims = {"Variant": v, "Provider": p}
        error_series += [
            [
                *_metric(namespace, "Errors", dims, "Sum", f"{v} errors")[:-1],
                {"id": f"e{k}", "stat": "Sum", "visible": False},
            ],
            [
                *_metric(namespace, "Calls", dims, "Sum", f"{v} calls")[:-1],
                {"id": f"c{k}", "stat": "Sum", "visible": False},
            ],
            [{"expression": f"e{k} / c{k}", "label": f"{v} error rate", "id": f"r{k}"}],
        ]
    widget("Error rate", error_series)
    widget(
        "Quality scores (average)",
        [
            _metric(namespace, "Score", {"Metric": m, "Variant": v}, "Average", f"{v} {m}")
            for m in metrics
            for v, _ in variants
        ],
    )
    win_series: list[list[Any]] = []
    for k, (v, _) in enumerate(variants):
        ids = []
        for outcome in ("win", "loss", "tie"):
            ids.append(f"{outcome[0]}{k}")
            win_series.append(
                [
                    *_metric(namespace, "Votes", {"Variant": v, "Outcome": outcome}, "Sum", "")[
                        :-1
                    ],
                    {"id": ids[-1], "stat": "Sum", "visible": False},
                ]
            )
        w, loss, t = ids
        win_series.append(
            [
                {
                    "expression": f"({w} + 0.5 * {t}) / ({w} + {loss} + {t})",
                    "label": f"{v} win rate",
                    "id": f"wr{k}",
                }
            ]
        )
    widget("Preference win rate (ties count half)", win_series)
    widget(
        "Satisfaction (share of thumbs up)",
        [_metric(namespace, "Feedback", {"Variant": v}, "Average", v) for v, _ in variants],
    )
    return {"widgets": widgets}


def alarm_definitions(
    namespace: str,
    variants: Sequence[tuple[str, str]],
    *,
    prefix: str = "arbiter",
    max_error_rate: float | None = 0.05,
    max_p90_latency_s: float | None = None,
    min_scores: dict[str, float] | None = None,
) -> list[dict[str, Any]]:
    """Keyword arguments for `put_metric_alarm`, one per alarm and variant."""
    alarms: list[dict[str, Any]] = []
    common = {"EvaluationPeriods": 3, "DatapointsToAlarm": 2, "TreatMissingData": "notBreaching"}
    for v, p in variants:
        dims = [{"Name": "Variant", "Value": v}, {"Name": "Provider", "Value": p}]
        if max_error_rate is not None:
            alarms.append(
                {
                    "AlarmName": f"{prefix}-{v}-error-rate",
                    "AlarmDescription": f"{v}: more than {max_error_rate:.0%} of calls fail",
                    "ComparisonOperator": "GreaterThanThreshold",
                    "Threshold": max_error_rate,
                    "Metrics": [
                        {
                            "Id": "errors",
                            "ReturnData": False,
                            "MetricStat": {
                                "Metric": {
                                    "Namespace": namespace,
                                    "MetricName": "Errors",
                                    "Dimensions": dims,
                                },
                                "Period": 300,
                                "Stat": "Sum",
                            },
                        },
                        {
                            "Id": "calls",
                            "ReturnData": False,
                            "MetricStat": {
                                "Metric": {
                                    "Namespace": namespace,
                                    "MetricName": "Calls",
                                    "Dimensions": dims,
                                },
                                "Period": 300,
                                "Stat": "Sum",
                            },
                        },
                        {
                            "Id": "rate",
                            "Expression": "errors / calls",
                            "Label": "error rate",
                            "ReturnData": True,
                        },
                    ],
                    **common,
                }
            )
        if max_p90_latency_s is not None:
            alarms.append(
                {
                    "AlarmName": f"{prefix}-{v}-p90-latency",
                    "AlarmDescription": f"{v}: p90 latency above {max_p90_latency_s} s",
                    "Namespace": namespace,
                    "MetricName": "Latency",
                    "Dimensions": dims,
                    "ExtendedStatistic": "p90",
                    "Period": 300,
                    "ComparisonOperator": "GreaterThanThreshold",
                    "Threshold": max_p90_latency_s,
                    **common,
                }
            )
        for metric, floor in (min_scores or {}).items():
            alarms.append(
                {
                    "AlarmName": f"{prefix}-{v}-{metric}-drop",
                    "AlarmDescription": f"{v}: average {metric} below {floor}",
                    "Namespace": namespace,
                    "MetricName": "Score",
                    "Dimensions": [
                        {"Name": "Metric", "Value": metric},
                        {"Name": "Variant", "Value": v},
                    ],
                    "Statistic": "Average",
                    "Period": 3600,
                    "ComparisonOperator": "LessThanThreshold",
                    "Threshold": floor,
                    **common,
                }
            )
    return alarms


def goal_dimensions(usecase: str, variant: str, target: str) -> dict[str, str]:
    return {"UseCase": usecase, "Variant": variant, "Target": target}


def goal_alarms(
    namespace: str,
    usecase: str,
    variants: Sequence[str],
    targets: Sequence[str],
    *,
    prefix: str = "arbiter",
) -> list[dict[str, Any]]:
    """`put_metric_alarm` arguments, one per variant and target of a use case: in alarm when
    the target was missed in 2 of the last 3 five-minute periods. Without data (not enough
    observations, or the service is not publishing) the alarm shows INSUFFICIENT_DATA."""
    alarms = []
    for variant in variants:
        for target in targets:
            slug = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in target)
            dims = goal_dimensions(usecase, variant, target)
            alarms.append(
                {
                    "AlarmName": f"{prefix}-{usecase}-{variant}-{slug}"[:255],
                    "AlarmDescription": f"{usecase}: {variant} misses the target {target}",
                    "Namespace": namespace,
                    "MetricName": "GoalMet",
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                    "Statistic": "Minimum",
                    "Period": 300,
                    "EvaluationPeriods": 3,
                    "DatapointsToAlarm": 2,
                    "ComparisonOperator": "LessThanThreshold",
                    "Threshold": 1.0,
                    "TreatMissingData": "missing",
                }
            )
    return alarms


def dashboard_json(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"))
