"""OpenTelemetry with in-memory exporters: a trace per comparison with a span per model
call, GenAI semantic-convention attributes and metrics, and evaluation events."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from monitoring.otel import OpenTelemetrySink
from monitoring.pipeline import Telemetry
from monitoring.records import ModelCall, ScoreRecord, TurnRecord
from service.app.runtime import Runtime
from tests.conftest import LiveServer
from tests.fakes.script import Script


def in_memory() -> tuple[OpenTelemetrySink, InMemorySpanExporter, InMemoryMetricReader]:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    return OpenTelemetrySink(tracer_provider, MeterProvider(metric_readers=[reader])), spans, reader


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


def test_no_prompt_or_answer_text_is_recorded(
    runtime: Runtime,
    scripts: dict[str, Script],
    live: LiveServer,
    wait_for: Callable[[Callable[[], bool], float], None],
) -> None:
    sink, spans, _ = in_memory()
    telemetry = Telemetry([sink], interval_s=0.01)
    runtime.engine.emit = telemetry.emit
    scripts["alpha"].tokens = ["The secret answer."]
    r = httpx.post(
        f"{live.url}/api/compare",
        json={"prompt": "my private question", "variants": ["alpha", "beta"]},
        timeout=30,
    )
    assert r.status_code == 200

    def traced() -> bool:
        telemetry.flush(5)
        return any(s.name == "compare" for s in spans.get_finished_spans())

    wait_for(traced, 10)
    finished = spans.get_finished_spans()
    root = next(s for s in finished if s.name == "compare")
    children = [
        s for s in finished if s.parent is not None and s.parent.span_id == root.context.span_id
    ]
    assert sorted(s.attributes["arbiter.variant"] for s in children) == ["alpha", "beta"]
    everything = repr([(s.name, dict(s.attributes or {}), s.events) for s in finished])
    assert "my private question" not in everything and "secret answer" not in everything
    telemetry.shutdown()
