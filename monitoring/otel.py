"""OpenTelemetry: a trace per comparison with a span per model call, the GenAI client
metrics, and evaluation results as `gen_ai.evaluation.result` events, following the
GenAI semantic conventions. Prompt and answer text are never recorded.

Spans are made after the fact, with the calls' real start and end times: a comparison's
calls arrive first and wait (bounded) for the record that ends the comparison."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import Status, StatusCode, TracerProvider

from monitoring.records import ModelCall, Record, ScoreRecord, TurnRecord

PROVIDER_NAMES = {
    "bedrock": "aws.bedrock",
    "sagemaker": "aws.sagemaker",
    "openai": "openai",
    "local": "llama.cpp",
}
MAX_WAITING_TURNS = 1000
DURATION_BUCKETS = [
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
]


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


class OpenTelemetrySink:
    def __init__(self, tracer_provider: TracerProvider, meter_provider: MeterProvider) -> None:
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._tracer = tracer_provider.get_tracer("arbiter")
        meter = meter_provider.get_meter("arbiter")
        self._duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._tokens = meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}", description="Tokens used per call."
        )
        self._waiting: OrderedDict[str, list[ModelCall]] = OrderedDict()

    def export(self, records: Sequence[Record]) -> None:
        for rec in records:
            if isinstance(rec, ModelCall):
                self._metrics(rec)
                if rec.turn_id is None:
                    self._span(rec, None)
                else:
                    self._waiting.setdefault(rec.turn_id, []).append(rec)
                    while len(self._waiting) > MAX_WAITING_TURNS:  # never ended: spans alone
                        for orphan in self._waiting.popitem(last=False)[1]:
                            self._span(orphan, None)
            elif isinstance(rec, TurnRecord):
                self._turn(rec, self._waiting.pop(rec.turn_id, []))
            elif isinstance(rec, ScoreRecord):
                self._evaluation(rec)

    @staticmethod
    def _attributes(rec: ModelCall) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": PROVIDER_NAMES.get(rec.provider, rec.provider),
            "gen_ai.request.model": rec.model,
        }
        if rec.status != "ok":
            attrs["error.type"] = rec.error or rec.status
        return attrs

    def _metrics(self, rec: ModelCall) -> None:
        attrs = self._attributes(rec)
        self._duration.record(rec.latency_s, attrs)
        for kind, count in (("input", rec.tokens_in), ("output", rec.tokens_out)):
            if count is not None:
                self._tokens.record(count, {**attrs, "gen_ai.token.type": kind})

    def _span(self, rec: ModelCall, parent: Any) -> None:
        context = trace.set_span_in_context(parent) if parent is not None else None
        span = self._tracer.start_span(
            f"chat {rec.model}",
            context=context,
            kind=trace.SpanKind.CLIENT,
            start_time=_ns(rec.at - rec.latency_s),
        )
        span.set_attributes(self._attributes(rec))
        span.set_attribute("arbiter.variant", rec.variant)
        if rec.tokens_in is not None:
            span.set_attribute("gen_ai.usage.input_tokens", rec.tokens_in)
        if rec.tokens_out is not None:
            span.set_attribute("gen_ai.usage.output_tokens", rec.tokens_out)
        if rec.ttft_s is not None:
            span.set_attribute("arbiter.time_to_first_token_s", rec.ttft_s)
        if rec.status != "ok":
            span.set_status(Status(StatusCode.ERROR, rec.error or rec.status))
        span.end(end_time=_ns(rec.at))

    def _turn(self, rec: TurnRecord, calls: list[ModelCall]) -> None:
        root = self._tracer.start_span("compare", start_time=_ns(rec.started_at))
        root.set_attributes(
            {
                "arbiter.turn_id": rec.turn_id,
                "arbiter.mode": rec.mode,
                "arbiter.variants": list(rec.variants),
            }
        )
        for call in calls:
            self._span(call, root)
        root.end(end_time=_ns(rec.ended_at))

    def _evaluation(self, rec: ScoreRecord) -> None:
        span = self._tracer.start_span(f"evaluate {rec.metric}", start_time=_ns(rec.at))
        attributes: dict[str, Any] = {
            "gen_ai.evaluation.name": rec.metric,
            "arbiter.variant": rec.variant,
            "arbiter.evaluation.version": rec.version,
        }
        if rec.value is None:
            attributes["error.type"] = "evaluation_failed"
        else:
            attributes["gen_ai.evaluation.score.value"] = rec.value
        if rec.explanation:
            attributes["gen_ai.evaluation.explanation"] = rec.explanation
        span.add_event("gen_ai.evaluation.result", attributes, timestamp=_ns(rec.at))
        span.end(end_time=_ns(rec.at))

    def force_flush(self, timeout_s: float = 5.0) -> bool:
        ok = True
        for provider in (self._tracer_provider, self._meter_provider):
            flush = getattr(provider, "force_flush", None)
            if flush is not None:
                ok = bool(flush(int(timeout_s * 1000))) and ok
        return ok

    def shutdown(self) -> None:
        for calls in self._waiting.values():
            for call in calls:
                self._span(call, None)
        self._waiting.clear()
        for provider in (self._tracer_provider, self._meter_provider):
            stop = getattr(provider, "shutdown", None)
            if stop is not None:
                stop()
