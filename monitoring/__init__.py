"""Telemetry sinks: Prometheus, OpenTelemetry and CloudWatch. Imports nothing from the other top-level packages."""
