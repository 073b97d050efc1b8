"""SageMaker batch transform outputs for tests on moto's server.

moto implements the SageMaker control plane (CreateModel, endpoint configs, endpoints,
CreateTransformJob / DescribeTransformJob), but a transform job there is `Completed` at
once and writes nothing. This proxy stands in front of moto's server: every request is
passed through unchanged, and when moto accepts a CreateTransformJob the proxy does the
container's work first, as the real service would before the job completes: it reads the
job's JSONL input from S3 (moto), answers each line as the container would (LMI/vLLM
messages API, or TGI) and writes `<input file name>.out` under the output path, one
response per input line, in order (SplitType Line, AssembleWith Line), through the job's
`DataProcessing` as SageMaker applies it (`InputFilter` `$.key`, `JoinSource` `Input`: the
response under `SageMakerOutput` in the input line, `OutputFilter` `$['a','b']`). A job
scripted to fail writes nothing and is reported `Failed` with its `FailureReason`; output
lines can be scripted by input position: left out (`drop`), cut short (`garble`), or a
container reply no adapter reads (`unreadable`); `denied` refuses CreateTransformJob as
IAM does."""

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
        if target.endswith(".CreateTransformJob") and self.fake.denied:
            self.send_json(
                400,
                {
                    "__type": "AccessDeniedException",
                    "Message": "User: arn:aws:sts::123456789012:assumed-role/caller/session is "
                    "not authorized to perform: sagemaker:CreateTransformJob because no "
                    "identity-based policy allows the sagemaker:CreateTransformJob action",
                },
            )
            return
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
        self.drop: set[int] = set()  # input positions left out of the output
        self.garble: set[int] = set()  # input positions whose output line is cut short
        self.unreadable: set[int] = set()  # input positions the container answers oddly
        self.denied = False  # CreateTransformJob refused: the caller may not create jobs
        self.echo = False  # answer each request with its last message (which answer is whose)

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
        processing = request.get("DataProcessing", {})
        answers: list[str] = []
        for position, line in enumerate(line for line in lines if line.strip()):
            if position in self.drop:
                continue
            record = json.loads(line)
            body = _select(record, processing.get("InputFilter", "$"))
            if position in self.unreadable:
                reply: Any = {"message": "CUDA out of memory"}
            else:
                reply = self.container(body)
            if processing.get("JoinSource") == "Input":
                reply = {**record, "SageMakerOutput": reply}
            answer = json.dumps(_select(reply, processing.get("OutputFilter", "$")))
            answers.append(answer[: len(answer) // 2] if position in self.garble else answer)
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
        messages = body.get("messages", [])
        prompt = " ".join(str(m.get("content", "")) for m in messages)
        answer = str(messages[-1].get("content", "")) if self.echo and messages else self.answer
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer},
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


def _select(record: Any, path: str) -> Any:
    """The JSONPath subset transform jobs are given here: `$`, `$.key`, `$['a','b']`."""
    if path == "$":
        return record
    if path.startswith("$['"):
        keys = [k.strip().strip("'") for k in path[2:-1].split(",")]
        return {k: record[k] for k in keys if k in record}
    return record[path.removeprefix("$.")]
