"""The S3 side of batch jobs: `s3://bucket/prefix` locations, JSONL files written and read
line by line, and S3's errors turned into ones that say what to do."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from service.errors import AccessDenied, ArbiterError, ConfigError, ErrorCode, InvalidRequest
from service.models import classify_error

_SETTING = "ARBITER_BATCH_S3_URI"


@dataclass(frozen=True)
class S3Uri:
    bucket: str
    key: str  # a prefix ends with "/"

    @classmethod
    def parse(cls, uri: str) -> S3Uri:
        rest = uri.removeprefix("s3://")
        bucket, _, key = rest.partition("/")
        if not uri.startswith("s3://") or not bucket:
            raise ConfigError(
                f"{_SETTING}={uri!r} is not an S3 location",
                hint="Write it as s3://bucket/prefix.",
                code=ErrorCode.BATCH_NOT_CONFIGURED,
            )
        return cls(bucket, key)

    def join(self, *parts: str) -> S3Uri:
        base = self.key if not self.key or self.key.endswith("/") else self.key + "/"
        return S3Uri(self.bucket, base + "/".join(p.strip("/") for p in parts))

    def folder(self) -> S3Uri:
        return self if self.key.endswith("/") else S3Uri(self.bucket, self.key + "/")

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def s3_error(exc: BaseException, uri: S3Uri) -> ArbiterError:
    """S3's refusal, saying which location and what to do."""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code == "NoSuchBucket":
            return InvalidRequest(
                f"S3 bucket {uri.bucket!r} does not exist",
                hint=f"Create it in the models' region, or point {_SETTING} at a bucket "
                "that exists.",
                code=ErrorCode.S3_BUCKET_MISSING,
            )
        if code in {"AccessDenied", "403", "AllAccessDisabled"}:
            return AccessDenied(
                f"access to {uri} was denied: {exc.response['Error'].get('Message', code)}",
                hint="Give the credentials Arbiter runs with s3:PutObject, s3:GetObject and "
                f"s3:ListBucket on {_SETTING}.",
            )
    return classify_error(exc)


class S3Files:
    """JSONL files on S3 through one boto3 client."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def put_lines(self, uri: S3Uri, lines: Iterable[bytes]) -> int:
        """Write the lines (each without its newline) as one object; how many."""
        count = 0
        parts: list[bytes] = []
        for line in lines:
            parts.append(line)
            count += 1
        body = b"\n".join(parts) + b"\n" if parts else b""
        try:
            self.client.put_object(
                Bucket=uri.bucket, Key=uri.key, Body=body, ContentType="application/jsonl"
            )
        except Exception as exc:
            raise s3_error(exc, uri) from None
        return count

    def keys(self, prefix: S3Uri) -> list[str]:
        """The keys under the prefix, in order."""
        found: list[str] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=prefix.bucket, Prefix=prefix.key
            ):
                found += [obj["Key"] for obj in page.get("Contents", ())]
        except Exception as exc:
            raise s3_error(exc, prefix) from None
        return sorted(found)

    def lines(self, uri: S3Uri) -> Iterator[bytes]:
        """The object's non-empty lines, streamed (an output file may hold 50,000 records)."""
        try:
            body = self.client.get_object(Bucket=uri.bucket, Key=uri.key)["Body"]
        except Exception as exc:
            raise s3_error(exc, uri) from None
        try:
            for line in body.iter_lines():
                if line.strip():
                    yield line
        finally:
            body.close()
