"""Helpers of the batch-backend eval tests and benchmark: Bedrock and SageMaker variants on
the fake servers, settings for the batch backends, a bucket on moto's S3, a dataset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
NOVA = "amazon.nova-micro-v1:0"
BUCKET = "arbiter-batch"
ROLE = "arn:aws:iam::123456789012:role/ArbiterBedrockBatch"


def bedrock_variants_toml(fake_url: str) -> str:
    return f"""
[[variants]]
name = "claude"
system_prompt = "Answer in one sentence."
[variants.model]
provider = "bedrock"
model_id = "{CLAUDE}"
endpoint_url = "{fake_url}"
max_attempts = 1
[variants.params]
max_tokens = 200
temperature = 0.0

[[variants]]
name = "nova"
[variants.model]
provider = "bedrock"
model_id = "{NOVA}"
endpoint_url = "{fake_url}"
max_attempts = 1

[[variants]]
name = "endpoint"
[variants.model]
provider = "sagemaker"
endpoint_name = "qa-endpoint"
adapter = "messages"
max_attempts = 1
"""


def batch_settings(tmp_path: Path, fake_url: str, **overrides: Any) -> dict[str, Any]:
    """Settings keywords for a runtime whose batch backends use the fakes."""
    variants = tmp_path / "variants.toml"
    variants.write_text(bedrock_variants_toml(fake_url))
    return {
        "home": tmp_path,
        "variants_file": variants,
        "rag_sample_corpus": False,
        "online_metrics": "",
        "batch_s3_uri": f"s3://{BUCKET}/arbiter-runs",
        "bedrock_batch_role_arn": ROLE,
        "batch_poll_s": 0.05,
        **overrides,
    }


def s3_client(moto_url: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=moto_url,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
    )


def make_bucket(moto_url: str, name: str = BUCKET) -> None:
    client = s3_client(moto_url)
    if name not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
        client.create_bucket(Bucket=name)


def write_dataset(path: Path, n: int, *, fail_every: int = 0) -> Path:
    """`n` questions; with `fail_every`, every k-th prompt carries the fake's FAIL marker."""
    rows = []
    for i in range(n):
        marker = " FAIL" if fail_every and i % fail_every == 0 else ""
        rows.append(
            {
                "id": f"q{i}",
                "prompt": f"Question {i}: capital?{marker}",
                "reference": "Paris is the capital.",
            }
        )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
