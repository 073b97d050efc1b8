"""Wires the telemetry pipeline (`monitoring`) to the service: which sinks are on, and the
records made from answers, scores and votes."""

from __future__ import annotations

import os
from typing import Any

from monitoring.cloudwatch import CloudWatchSink
from monitoring.otel import OpenTelemetrySink
from monitoring.pipeline import Telemetry, TelemetrySink
from monitoring.prometheus import PrometheusSink
from service.config import Settings
from service.models import aws_client


def cloudwatch_client() -> Any:
    return aws_client(
        "cloudwatch",
        region=None,
        profile=None,
        endpoint_url=None,
        max_attempts=3,
        read_timeout_s=20,
    )


def otlp_sink() -> OpenTelemetrySink:
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
        sinks.append(otlp_sink())
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
