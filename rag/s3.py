"""Documents under an S3 prefix, through a boto3 client the caller builds."""

from __future__ import annotations

from typing import Any

from rag.errors import RagError


def split_uri(uri: str) -> tuple[str, str]:
    rest = uri.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise RagError(f"{uri!r} is not an S3 URI", hint="Write it as s3://bucket/prefix.")
    return bucket, prefix


def list_s3(client: Any, uri: str) -> list[tuple[str, int]]:
    """(uri, size) of every object under the prefix, folders' marker objects left out."""
    bucket, prefix = split_uri(uri)
    found = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if not obj["Key"].endswith("/"):
                found.append((f"s3://{bucket}/{obj['Key']}", int(obj["Size"])))
    if not found:
        raise RagError(f"nothing found under {uri}", code="empty_s3_prefix", status=404)
    return found


def read_s3(client: Any, uri: str) -> bytes:
    bucket, key = split_uri(uri)
    body: bytes = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body
