"""Helpers shared by the cloudwatch tests of several kinds."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from monitoring.records import ModelCall


def client(url: str) -> Any:
    return boto3.client(
        "cloudwatch",
        endpoint_url=url,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
    )


def call(variant: str, latency: float, status: str = "ok") -> ModelCall:
    return ModelCall(
        variant,
        "openai",
        "m",
        status,
        None if status == "ok" else "throttled",
        latency,
        latency / 4,
        5,
        20,
        0.001,
    )
