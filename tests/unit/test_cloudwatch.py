"""CloudWatch through moto's server with the real boto3 client: metric data put and read
back, the service limits, a dashboard and alarms, and an outage that harms nothing."""

from __future__ import annotations

import boto3
from botocore.config import Config

from monitoring.cloudwatch import CloudWatchSink
from monitoring.pipeline import Telemetry
from tests.support.cloudwatch import call


def test_an_outage_is_counted_and_harms_nothing() -> None:
    dead = boto3.client(
        "cloudwatch",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    telemetry = Telemetry([CloudWatchSink(dead, "Down", flush_every_s=0)], interval_s=0.01)
    telemetry.emit(call("alpha", 0.5))  # returns at once
    telemetry.flush(5)
    assert telemetry.export_errors.get("CloudWatchSink", 0) >= 1
    telemetry.emit(call("alpha", 0.5))  # the pipeline carries on after the failure
    telemetry.shutdown()
    assert telemetry.dropped == 0 and telemetry.export_errors["CloudWatchSink"] >= 2
