"""boto3 clients for the AWS providers: region/profile from the standard chain, retries with
backoff (botocore's "standard" mode retries throttling with exponential backoff and jitter)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config


def aws_client(
    service: str,
    *,
    region: str | None,
    profile: str | None,
    endpoint_url: str | None,
    max_attempts: int,
    read_timeout_s: float = 120.0,
) -> Any:
    session = boto3.Session(profile_name=profile, region_name=region)
    config = Config(
        retries={"mode": "standard", "total_max_attempts": max_attempts},  # includes the first try
        connect_timeout=10,
        read_timeout=read_timeout_s,
        user_agent_extra="arbiter",
    )
    return session.client(service, endpoint_url=endpoint_url, config=config)
