"""SageMaker batch transform outputs for tests on moto's server.

moto implements the SageMaker control plane (CreateModel, endpoint configs, endpoints,
CreateTransformJob / DescribeTransformJob), but a transform job there is `Completed` at
once and writes nothing. This proxy stands in front of moto's server: every request is
passed through unchanged, and when moto accepts a CreateTransformJob the proxy does the
container's work first, as the real service would before the job completes: it reads the
job's JSONL input from S3 (moto), answers each line as the container would (LMI/vLLM
messages API, or TGI) and writes `<input file name>.out` under the output path, one
response per input line, in order (SplitType Line, AssembleWith Line). A job scripted to
fail writes nothing and is reported `Failed` with its `FailureReason`."""

from __future__ import annotations

import json
from typing import Any

import boto3
import httpx
from botocore.config import Config

from tests.fakes.http import FakeHandler, FakeServer

_HOP = {"host", "content-length", "transfer-encoding", "connection", "content-encoding"}


class _ProxyHandler(FakeHandler):
    fake: TransformProxy

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        target = self.headers.get("X-Amz-Target", "")
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
        reply = httpx.request(
            self.command, self.fake.moto + self.path, headers=headers, content=raw, timeout=30
        )
        body = reply.content
        if reply.status_code == 200 and target.endswith(".CreateTransformJob"):
            self.fake.transform(json.loads(raw))
        if reply.status_code == 200 and target.endswith(".DescribeTransformJob"):
            body = self.fake.describe(json.loads(body))
        self.send_response(reply.status_code)
        for k, v in reply.headers.items():
            if k.lower() not in _HOP:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _forward
    do_POST = _forward
    do_PUT = _forward
    do_DELETE = _forward


class TransformProxy(FakeServer):
    handler = _ProxyHandler

    def __init__(self, moto_url: str, answer: str = "Paris is the capital.") -> None:
        super().__init__()
        self.moto = moto_url.rstrip("/")
        self.answer = answer
        self.failures: dict[str, str] = {}  # job name -> FailureReason
        self.created: list[dict[str, Any]] = []

    def s3(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.moto,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}),
        )

    def transform(self, request: dict[str, Any]) -> None:
        self.created.append(request)
        name = request["TransformJobName"]
        if name in self.failures:
            return
        source = request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
        out_path = request["TransformOutput"]["S3OutputPath"].rstrip("/")
        bucket, _, key = source.removeprefix("s3://").partition("/")
        s3 = self.s3()
        lines = s3.get_object(Bucket=bucket, Key=key)["Body"].read().splitlines()
        answers = [json.dumps(self.container(json.loads(line))) for line in lines if line.strip()]
        out_bucket, _, out_prefix = out_path.removeprefix("s3://").partition("/")
        out_key = "/".join(p for p in (out_prefix, key.rsplit("/", 1)[-1] + ".out") if p)
        s3.put_object(Bucket=out_bucket, Key=out_key, Body="\n".join(answers).encode() + b"\n")

    def container(self, body: dict[str, Any]) -> Any:
        """The reply of an LMI/vLLM messages container, or of TGI for `inputs` bodies."""
        if "inputs" in body:
            return [
                {
                    "generated_text": self.answer,
                    "details": {"finish_reason": "eos_token", "generated_tokens": 5},
                }
            ]
        prompt = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": self.answer},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": 4},
        }

    def describe(self, job: dict[str, Any]) -> bytes:
        reason = self.failures.get(job.get("TransformJobName", ""))
        if reason is not None:
            job["TransformJobStatus"] = "Failed"
            job["FailureReason"] = reason
        return json.dumps(job, default=str).encode()
