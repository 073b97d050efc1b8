"""Wires the telemetry pipeline (`monitoring`) to the service: which sinks are on, and the
records made from answers, scores and votes."""

from __future__ import annotations

import os
from datetime import UTC
from typing import Any

from sqlalchemy import select

from monitoring.cloudwatch import CloudWatchSink
from monitoring.otel import OpenTelemetrySink
from monitoring.pipeline import Telemetry, TelemetrySink
from monitoring.prometheus import PrometheusSink
from monitoring.records import ModelCall, VoteRecord
from service.config import Settings
from service.models.providers.aws import aws_client
from service.models.variants import Variant
from service.schemas import AnswerOut, VoteOut
from service.store import Store
from service.store.tables import AnswerRow, ConversationRow, TurnRow


def cloudwatch_client() -> Any:
    return aws_client(
        "cloudwatch",
        region=None,
        profile=None,
        endpoint_url=None,
        max_attempts=3,
        read_timeout_s=20,
    )


def _otlp_sink() -> OpenTelemetrySink:
    """OTLP over HTTP, configured by the standard OTEL_* environment variables (endpoint,
    headers, service name, ...)."""
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "arbiter")})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    meter_provider = MeterProvider(
        resource=resource, metric_readers=[PeriodicExportingMetricReader(OTLPMetricExporter())]
    )
    return OpenTelemetrySink(tracer_provider, meter_provider)


def build_telemetry(settings: Settings) -> tuple[Telemetry, PrometheusSink | None]:
    prometheus = PrometheusSink() if settings.prometheus else None
    sinks: list[TelemetrySink] = [s for s in (prometheus,) if s is not None]
    if settings.otel or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        sinks.append(_otlp_sink())
    if settings.cloudwatch:
        sinks.append(
            CloudWatchSink(
                cloudwatch_client(),
                settings.cloudwatch_namespace,
                flush_every_s=settings.cloudwatch_flush_s,
            )
        )
    telemetry = Telemetry(sinks, max_queue=settings.telemetry_queue)
    if prometheus is not None:
        prometheus.watch_pipeline(lambda: (telemetry.dropped, dict(telemetry.export_errors)))
    return telemetry, prometheus


def model_call(
    variant: Variant, answer: AnswerOut, *, source: str = "compare", turn_id: str | None = None
) -> ModelCall:
    return ModelCall(
        variant=variant.name,
        provider=variant.provider,
        model=variant.model_label,
        status=answer.status,
        error=answer.error_code,
        latency_s=(answer.latency_ms or 0.0) / 1000,
        ttft_s=None if answer.ttft_ms is None else answer.ttft_ms / 1000,
        tokens_in=answer.tokens_in,
        tokens_out=answer.tokens_out,
        cost_usd=answer.cost_usd,
        source=source,
        turn_id=turn_id,
    )


def vote_records(store: Store, votes: list[VoteOut]) -> list[VoteRecord]:
    """Each vote as one record per variant in it (win, loss, tie, both_bad); a ranking
    gives the first a win, the last a loss and those between a tie. One query."""
    if not votes:
        return []
    panes: dict[str, dict[int, str]] = {}
    modes: dict[str, str] = {}
    with store.session() as s:
        rows: Any = s.execute(
            select(AnswerRow.turn_id, AnswerRow.pane, AnswerRow.variant_name, ConversationRow.mode)
            .join(TurnRow, TurnRow.id == AnswerRow.turn_id)
            .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
            .where(AnswerRow.turn_id.in_({v.turn_id for v in votes}))
        )
        for turn_id, pane, variant, mode in rows:
            panes.setdefault(turn_id, {})[pane] = variant
            modes[turn_id] = mode
    records = []
    for vote in votes:
        by_pane = panes.get(vote.turn_id, {})
        mode = modes.get(vote.turn_id, "named")
        if vote.outcome in ("a", "b"):
            winner = 0 if vote.outcome == "a" else 1
            results = {p: ("win" if p == winner else "loss") for p in (0, 1)}
        elif vote.outcome in ("tie", "both_bad"):
            results = {p: vote.outcome for p in by_pane}
        elif vote.ranking:
            results = {p: "tie" for p in vote.ranking}
            results[vote.ranking[0]], results[vote.ranking[-1]] = "win", "loss"
        else:
            results = {}
        at = vote.created_at.replace(tzinfo=vote.created_at.tzinfo or UTC).timestamp()
        records += [
            VoteRecord(by_pane[p], outcome, mode, at=at)
            for p, outcome in results.items()
            if p in by_pane
        ]
    return records
