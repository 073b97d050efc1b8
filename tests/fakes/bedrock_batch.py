"""Bedrock batch inference (model invocation jobs) for the fake AWS server, on the control
plane's real REST routes:

- `POST /model-invocation-job` (CreateModelInvocationJob) -> `{"jobArn"}`;
- `GET /model-invocation-job/{jobIdentifier}` (GetModelInvocationJob);
- `GET /model-invocation-jobs` (ListModelInvocationJobs: nameContains, statusEquals);
- `POST /model-invocation-job/{jobIdentifier}/stop` (StopModelInvocationJob).

Like the real service, a job reads its JSONL input from S3 (moto's server), moves
Submitted -> InProgress (processedRecordCount rising) -> Completed, and writes
`<output prefix>/<job id>/<input file>.out` (one record per input, not in input order:
`modelOutput`, or an `error` object for a failing record) and `manifest.json.out`. Faults
are scripted per model id in `BatchScript`. Kept apart from aws_server.py so that the
helpers extending that file merge easily."""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from tests.fakes.aws_server import FakeAws, _AwsHandler

ACCOUNT = "123456789012"
REGION = "us-east-1"


@dataclass
class BatchScript:
    """How the jobs of one model id behave."""

    submit_s: float = 0.05  # Submitted (and validating) before InProgress
    duration_s: float = 0.2  # InProgress until the last record is done
    answer: str = "Paris is the capital."
    fail_marker: str = "FAIL"  # a record whose prompt holds it gets an `error` object
    fail_after: int | None = None  # the job fails after this many records (half way)
    fail_message: str = "Internal server error. Contact AWS support."
    drop: set[int] = field(default_factory=set)  # input positions left out of the output
    garble: set[int] = field(default_factory=set)  # input positions written as broken JSON


@dataclass
class FakeJob:
    arn: str
    name: str
    model_id: str
    role_arn: str
    token: str | None
    input_uri: str
    output_uri: str
    submitted: datetime
    status: str = "Submitted"
    message: str | None = None
    total: int | None = None
    processed: int = 0
    succeeded: int = 0
    errors: int = 0
    ended: datetime | None = None
    modified: datetime = field(default_factory=lambda: datetime.now(UTC))
    stop: threading.Event = field(default_factory=threading.Event)
    started_at: float = field(default_factory=time.perf_counter)
    duration_s: float | None = None  # submitted -> ended, as the service took it

    @property
    def job_id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "jobArn": self.arn,
            "jobName": self.name,
            "modelId": self.model_id,
            "roleArn": self.role_arn,
            "status": self.status,
            "submitTime": _iso(self.submitted),
            "lastModifiedTime": _iso(self.modified),
            "inputDataConfig": {
                "s3InputDataConfig": {"s3Uri": self.input_uri, "s3InputFormat": "JSONL"}
            },
            "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": self.output_uri}},
            "timeoutDurationInHours": 24,
            "processedRecordCount": self.processed,
            "successRecordCount": self.succeeded,
            "errorRecordCount": self.errors,
        }
        if self.token:
            out["clientRequestToken"] = self.token
        if self.total is not None:
            out["totalRecordCount"] = self.total
        if self.message:
            out["message"] = self.message
        if self.ended:
            out["endTime"] = _iso(self.ended)
        return out


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


class BedrockBatchJobs:
    """The jobs and their scripts; `s3_endpoint` is the S3 they read and write."""

    def __init__(self, fake: FakeAws) -> None:
        self.fake = fake
        self.s3_endpoint: str | None = None
        self.scripts: dict[str, BatchScript] = {}
        self.default = BatchScript()  # for model ids without a script
        self.jobs: dict[str, FakeJob] = {}
        self.denied_roles: set[str] = set()
        self.lock = threading.Lock()

    def s3(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.s3_endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}),
        )

    def find(self, identifier: str) -> FakeJob | None:
        with self.lock:
            for job in self.jobs.values():
                if identifier in (job.arn, job.job_id, job.name):
                    return job
        return None

    # -- routes -------------------------------------------------------------------------

    def get(self, handler: _AwsHandler) -> bool:
        url = urlsplit(handler.path)
        parts = url.path.strip("/").split("/")
        if parts == ["model-invocation-jobs"]:
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            with self.lock:
                found = [
                    j.summary()
                    for j in self.jobs.values()
                    if query.get("nameContains", "") in j.name
                    and query.get("statusEquals", j.status) == j.status
                ]
            handler.send_json(200, {"invocationJobSummaries": found})
            return True
        if len(parts) == 2 and parts[0] == "model-invocation-job":
            job = self.find(unquote(parts[1]))
            if job is None:
                handler.aws_error(
                    404, "ResourceNotFoundException", f"Job {unquote(parts[1])} not found"
                )
            else:
                handler.send_json(200, job.summary())
            return True
        return False

    def post(self, handler: _AwsHandler, body: dict[str, Any]) -> bool:
        parts = urlsplit(handler.path).path.strip("/").split("/")
        if parts == ["model-invocation-job"]:
            self.create(handler, body)
            return True
        if len(parts) == 3 and parts[0] == "model-invocation-job" and parts[2] == "stop":
            job = self.find(unquote(parts[1]))
            if job is None:
                handler.aws_error(404, "ResourceNotFoundException", "Job not found")
                return True
            if job.status not in {"Submitted", "InProgress", "Validating", "Scheduled"}:
                handler.aws_error(400, "ValidationException", f"Job is {job.status}")
                return True
            job.status, job.modified = "Stopping", datetime.now(UTC)
            job.stop.set()
            handler.send_json(200, {})
            return True
        return False

    def create(self, handler: _AwsHandler, body: dict[str, Any]) -> None:
        try:
            name, role, model = body["jobName"], body["roleArn"], body["modelId"]
            input_uri = body["inputDataConfig"]["s3InputDataConfig"]["s3Uri"]
            output_uri = body["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"]
        except (KeyError, TypeError):
            handler.aws_error(400, "ValidationException", "1 validation error detected")
            return
        if role in self.denied_roles:
            handler.aws_error(
                403,
                "AccessDeniedException",
                f"User: arn:aws:sts::{ACCOUNT}:assumed-role/caller/session is not authorized "
                f"to perform: iam:PassRole on resource: {role}",
            )
            return
        token = body.get("clientRequestToken")
        with self.lock:
            for job in self.jobs.values():
                if token and job.token == token:
                    handler.send_json(200, {"jobArn": job.arn})  # idempotent retry
                    return
                if job.name == name:
                    handler.aws_error(
                        400, "ConflictException", f"A job named {name} already exists"
                    )
                    return
            arn = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-invocation-job/{secrets.token_hex(6)}"
            job = FakeJob(arn, name, model, role, token, input_uri, output_uri, datetime.now(UTC))
            self.jobs[arn] = job
        threading.Thread(target=self.work, args=(job,), daemon=True).start()
        handler.send_json(200, {"jobArn": arn})

    # -- the job --------------------------------------------------------------------------

    def work(self, job: FakeJob) -> None:
        script = self.scripts.get(job.model_id, self.default)
        if job.stop.wait(script.submit_s):
            return self.end(job, "Stopped", None, [])
        s3 = self.s3()
        bucket, key = _split(job.input_uri)
        try:
            raw = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
            return self.end(
                job, "Failed", f"Unable to read input data from {job.input_uri}: {code}", []
            )
        records = [json.loads(line) for line in raw.splitlines() if line.strip()]
        job.total, job.status, job.modified = len(records), "InProgress", datetime.now(UTC)
        out: list[bytes] = []
        step = script.duration_s / max(1, len(records))
        ticks = 20  # sleep in a few slices, not once per record
        per_tick = max(1, len(records) // ticks)
        for position, record in enumerate(records):
            if script.fail_after is not None and position >= script.fail_after:
                return self.end(job, "Failed", script.fail_message, out)
            if job.stop.is_set():
                return self.end(job, "Stopped", None, out)
            if position % per_tick == 0 and position:
                time.sleep(step * per_tick)
            job.processed = position + 1
            if position in script.drop:
                continue
            if position in script.garble:
                out.append(b'{"recordId": "' + str(record.get("recordId")).encode() + b'", "mod')
                continue
            prompt = json.dumps(record.get("modelInput"))
            if script.fail_marker and script.fail_marker in prompt:
                job.errors += 1
                out.append(
                    json.dumps(
                        {
                            "recordId": record.get("recordId"),
                            "modelInput": record.get("modelInput"),
                            "error": {
                                "errorCode": 400,
                                "errorMessage": "Malformed input request, please reformat "
                                "your input and try again.",
                            },
                        }
                    ).encode()
                )
                continue
            job.succeeded += 1
            out.append(
                json.dumps(
                    {
                        "recordId": record.get("recordId"),
                        "modelInput": record.get("modelInput"),
                        "modelOutput": reply_body(job.model_id, script.answer, prompt),
                    }
                ).encode()
            )
        remaining = script.duration_s - (time.perf_counter() - job.started_at - script.submit_s)
        if remaining > 0 and job.stop.wait(remaining):
            return self.end(job, "Stopped", None, out)
        self.end(job, "Completed", None, out)

    def end(self, job: FakeJob, status: str, message: str | None, out: list[bytes]) -> None:
        """Write what was processed (in reverse: the service keeps no order), then end."""
        if out or status == "Completed":
            s3 = self.s3()
            bucket, prefix = _split(job.output_uri.rstrip("/") + "/" + job.job_id)
            name = job.input_uri.rsplit("/", 1)[-1]
            s3.put_object(Bucket=bucket, Key=f"{prefix}/{name}.out", Body=b"\n".join(out[::-1]))
            manifest = {
                "totalRecordCount": job.total or 0,
                "processedRecordCount": job.processed,
                "successRecordCount": job.succeeded,
                "errorRecordCount": job.errors,
                "inputTokenCount": 11 * job.succeeded,
                "outputTokenCount": 5 * job.succeeded,
            }
            s3.put_object(
                Bucket=bucket, Key=f"{prefix}/manifest.json.out", Body=json.dumps(manifest)
            )
        job.status, job.message = status, message
        job.ended = job.modified = datetime.now(UTC)
        job.duration_s = time.perf_counter() - job.started_at


def reply_body(model_id: str, answer: str, prompt: str) -> dict[str, Any]:
    """The model family's InvokeModel response body."""
    tokens_in, tokens_out = max(1, len(prompt.split())), max(1, len(answer.split()))
    if "anthropic." in model_id:
        return {
            "id": "msg_bdrk_" + secrets.token_hex(8),
            "type": "message",
            "role": "assistant",
            "model": "claude",
            "content": [{"type": "text", "text": answer}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out},
        }
    if "amazon.nova" in model_id:
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": answer}]}},
            "stopReason": "end_turn",
            "usage": {
                "inputTokens": tokens_in,
                "outputTokens": tokens_out,
                "totalTokens": tokens_in + tokens_out,
            },
        }
    return {
        "inputTextTokenCount": tokens_in,
        "results": [{"tokenCount": tokens_out, "outputText": answer, "completionReason": "FINISH"}],
    }
