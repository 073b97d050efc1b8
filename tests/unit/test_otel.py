"""OpenTelemetry with in-memory exporters: a trace per comparison with a span per model
call, GenAI semantic-convention attributes and metrics, and evaluation events."""

from __future__ import annotations

import time
from typing import Any

from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from monitoring.records import ModelCall, ScoreRecord, TurnRecord
from tests.support.otel import in_memory


def points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    data = reader.get_metrics_data()
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                out.setdefault(metric.name, []).extend(metric.data.data_points)
    return out


def test_a_comparison_is_one_trace_with_a_span_per_call() -> None:
    sink, spans, reader = in_memory()
    now = time.time()
    sink.export(
        [
            ModelCall(
                "alpha",
                "bedrock",
                "anthropic.claude-3-haiku",
                "ok",
                None,
                1.2,
                0.3,
                12,
                40,
                0.001,
                at=now,
                turn_id="t1",
            ),
            ModelCall(
                "beta", "openai", "gpt-x", "error", "throttled", 0.4, at=now - 0.5, turn_id="t1"
            ),
            TurnRecord("t1", now - 1.5, now + 0.01, ("alpha", "beta"), "arena"),
            ScoreRecord(
                "faithfulness",
                "alpha",
                0.75,
                version="rag-llm-v1@judge",
                explanation="mostly supported",
            ),
        ]
    )
    finished = {s.name: s for s in spans.get_finished_spans()}
    root, ok, failed = (
        finished["compare"],
        finished["chat anthropic.claude-3-haiku"],
        finished["chat gpt-x"],
    )
    assert ok.parent is not None and ok.parent.span_id == root.context.span_id
    assert failed.parent is not None and failed.parent.span_id == root.context.span_id
    assert ok.context.trace_id == failed.context.trace_id == root.context.trace_id
    assert root.attributes["arbiter.turn_id"] == "t1"
    assert dict(ok.attributes) | {} == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "aws.bedrock",
        "gen_ai.request.model": "anthropic.claude-3-haiku",
        "arbiter.variant": "alpha",
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 40,
        "arbiter.time_to_first_token_s": 0.3,
    }
    assert abs((ok.end_time - ok.start_time) / 1e9 - 1.2) < 1e-3  # the call's real duration
    assert (
        failed.attributes["error.type"] == "throttled" and failed.status.status_code.name == "ERROR"
    )
    event = finished["evaluate faithfulness"].events[0]
    assert event.name == "gen_ai.evaluation.result"
    assert event.attributes["gen_ai.evaluation.name"] == "faithfulness"
    assert event.attributes["gen_ai.evaluation.score.value"] == 0.75
    assert event.attributes["gen_ai.evaluation.explanation"] == "mostly supported"
    m = points(reader)
    durations = {
        p.attributes["gen_ai.provider.name"]: p for p in m["gen_ai.client.operation.duration"]
    }
    assert durations["aws.bedrock"].count == 1 and abs(durations["aws.bedrock"].sum - 1.2) < 1e-9
    assert durations["openai"].attributes["error.type"] == "throttled"
    tokens = {p.attributes["gen_ai.token.type"]: p.sum for p in m["gen_ai.client.token.usage"]}
    assert tokens == {"input": 12, "output": 40}
