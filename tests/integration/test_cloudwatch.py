"""CloudWatch through moto's server with the real boto3 client: metric data put and read
back, the service limits, a dashboard and alarms, and an outage that harms nothing."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from monitoring.cloudwatch import (
    CloudWatchSink,
    alarm_definitions,
    dashboard_body,
    dashboard_json,
    goal_alarms,
    goal_dimensions,
)
from monitoring.records import GoalRecord, ScoreRecord, VoteRecord
from tests.support.cloudwatch import call, client


def stat(cw: Any, namespace: str, name: str, dims: dict[str, str], statistic: str) -> float:
    end = datetime.now(UTC) + timedelta(minutes=5)
    result = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "q",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                    },
                    "Period": 60,
                    "Stat": statistic,
                },
            }
        ],
        StartTime=end - timedelta(hours=1),
        EndTime=end,
    )
    return float(sum(result["MetricDataResults"][0]["Values"]))


def test_metrics_are_put_and_read_back(moto_server: str) -> None:
    cw = client(moto_server)
    requests: list[int] = []
    cw.meta.events.register(
        "provide-client-params.cloudwatch.PutMetricData",
        lambda params, **_: requests.append(len(params["MetricData"])),
    )
    sink = CloudWatchSink(cw, "ArbiterTest", flush_every_s=3600)
    sink.export([call("alpha", 0.5), call("alpha", 1.5), call("alpha", 1.0, status="error")])
    sink.export(
        [ScoreRecord("rouge_l", "alpha", 0.25), ScoreRecord("rouge_l", "alpha", float("nan"))]
    )
    sink.export([VoteRecord("alpha", "win", "arena"), VoteRecord("beta", "loss", "arena")])
    assert requests == []  # buffered until the flush
    sink.force_flush()
    assert len(requests) == 1
    dims = {"Variant": "alpha", "Provider": "openai"}
    assert stat(cw, "ArbiterTest", "Calls", dims, "Sum") == 3
    assert stat(cw, "ArbiterTest", "Errors", dims, "Sum") == 1
    assert stat(cw, "ArbiterTest", "Latency", dims, "Sum") == 2.0  # failed calls have no latency
    assert (
        stat(cw, "ArbiterTest", "Score", {"Metric": "rouge_l", "Variant": "alpha"}, "SampleCount")
        == 1
    )
    assert stat(cw, "ArbiterTest", "Votes", {"Variant": "beta", "Outcome": "loss"}, "Sum") == 1


def test_service_limits_split_the_data(moto_server: str) -> None:
    cw = client(moto_server)
    sizes: list[list[int]] = []
    cw.meta.events.register(
        "provide-client-params.cloudwatch.PutMetricData",
        lambda params, **_: sizes.append([len(d["Values"]) for d in params["MetricData"]]),
    )
    sink = CloudWatchSink(cw, "ArbiterLimits", flush_every_s=3600)
    # 400 distinct latencies of one variant: values go in chunks of at most 150.
    sink.export([call("alpha", 0.001 * k) for k in range(1, 401)])
    # 1,200 variants: more than 1,000 data, so more than one request.
    sink.export([ScoreRecord("m", f"v{k}", 0.5) for k in range(1200)])
    sink.force_flush()
    assert len(sizes) >= 2 and all(len(batch) <= 1000 for batch in sizes)
    assert all(n <= 150 for batch in sizes for n in batch)
    values = [n for batch in sizes for n in batch]
    # 400 distinct latencies (and TTFTs): 150 + 150 + 100 values each.
    assert values.count(150) == 4 and values.count(100) == 2
    for batch in sizes:
        assert all(not math.isnan(n) for n in batch)


def test_dashboard_and_alarms_from_one_definition(moto_server: str) -> None:
    cw = client(moto_server)
    variants = [("alpha", "bedrock"), ("beta", "openai")]
    body = dashboard_body("Arbiter", "us-east-1", variants, ["faithfulness"])
    titles = [w["properties"]["title"] for w in body["widgets"]]
    assert titles == [
        "Latency p50 / p90 / p99 (s)",
        "Time to first token p50 / p90 (s)",
        "Output tokens per answer",
        "Cost (USD)",
        "Error rate",
        "Quality scores (average)",
        "Preference win rate (ties count half)",
        "Satisfaction (share of thumbs up)",
    ]
    result = cw.put_dashboard(DashboardName="arbiter-test", DashboardBody=dashboard_json(body))
    assert result.get("DashboardValidationMessages", []) == []
    stored = json.loads(cw.get_dashboard(DashboardName="arbiter-test")["DashboardBody"])
    assert stored == body
    alarms = alarm_definitions(
        "Arbiter",
        variants,
        max_error_rate=0.05,
        max_p90_latency_s=4.0,
        min_scores={"faithfulness": 0.6},
    )
    for alarm in alarms:
        cw.put_metric_alarm(**alarm)
    names = {a["AlarmName"] for a in cw.describe_alarms()["MetricAlarms"]}
    assert {
        f"arbiter-{v}-{kind}"
        for v, _ in variants
        for kind in ("error-rate", "p90-latency", "faithfulness-drop")
    } <= names


def test_goal_metrics_and_alarms_from_targets(moto_server: str) -> None:

    cw = client(moto_server)
    sink = CloudWatchSink(cw, "ArbiterGoals", flush_every_s=3600)
    sink.export(
        [
            GoalRecord("support", "alpha", "p90_latency_s <= 2.5", True, 1.8, 1.6, 2.0, 40),
            GoalRecord("support", "beta", "p90_latency_s <= 2.5", False, 3.1, 2.8, 3.4, 40),
            GoalRecord("support", "gamma", "p90_latency_s <= 2.5", None, None, samples=3),
        ]
    )
    sink.force_flush()
    met = {
        v: stat(
            cw,
            "ArbiterGoals",
            "GoalMet",
            goal_dimensions("support", v, "p90_latency_s <= 2.5"),
            "Minimum",
        )
        for v in ("alpha", "beta", "gamma")
    }
    assert met == {"alpha": 1.0, "beta": 0.0, "gamma": 0.0}  # gamma: no datum at all
    listed = cw.list_metrics(Namespace="ArbiterGoals", MetricName="GoalMet")["Metrics"]
    assert sorted(
        d["Value"] for m in listed for d in m["Dimensions"] if d["Name"] == "Variant"
    ) == [
        "alpha",
        "beta",
    ]
    value = stat(
        cw,
        "ArbiterGoals",
        "GoalValue",
        goal_dimensions("support", "beta", "p90_latency_s <= 2.5"),
        "Maximum",
    )
    assert value == 3.1

    alarms = goal_alarms(
        "ArbiterGoals", "support", ["alpha", "beta"], ["p90_latency_s <= 2.5", "rouge_l >= 0.3"]
    )
    for alarm in alarms:
        cw.put_metric_alarm(**alarm)
    stored = cw.describe_alarms(AlarmNamePrefix="arbiter-support-")["MetricAlarms"]
    assert len(stored) == 4
    by_name = {a["AlarmName"]: a for a in stored}
    one = by_name["arbiter-support-beta-p90_latency_s----2.5"]
    assert one["MetricName"] == "GoalMet" and one["ComparisonOperator"] == "LessThanThreshold"
    assert {d["Name"]: d["Value"] for d in one["Dimensions"]}["Target"] == "p90_latency_s <= 2.5"
