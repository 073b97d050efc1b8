"""Bedrock batch inference (model invocation jobs): one JSONL record per request
(`recordId`, `modelInput` = the model's InvokeModel body), `CreateModelInvocationJob` with
the configured service role, `GetModelInvocationJob` for its status, and the output the
service writes under `<output prefix>/<job id>/`: `<input file>.out` (one record per input,
in any order, `modelOutput` or an `error` object) and `manifest.json.out`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from service.errors import AccessDenied, ErrorCode, InvalidRequest
from service.evaluation.batch_jobs.backend import (
    BEDROCK_BATCH,
    JobStatus,
    KeptClients,
    OutputTally,
    RecordResult,
    record_id,
    record_index,
)
from service.evaluation.batch_jobs.s3 import S3Files, S3Uri
from service.models import (
    BedrockModel,
    MalformedReply,
    Variant,
    classify_error,
    parse_reply,
    request_body,
)
from service.store import eval_batch_jobs

_TERMINAL = {"Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired"}
_SUCCEEDED = {"Completed", "PartiallyCompleted"}


class BedrockBatch:
    name = BEDROCK_BATCH

    def __init__(self, *, role_arn: str | None, min_records: int, max_records: int) -> None:
        self.role_arn = role_arn
        self.min_records = min_records
        self.max_records = max_records
        self._clients = KeptClients()

    def _spec(self, variant: Variant) -> BedrockModel:
        assert isinstance(variant.model, BedrockModel)
        return variant.model

    def check(self, variant: Variant) -> None:
        if not isinstance(variant.model, BedrockModel):
            raise InvalidRequest(
                f"variant {variant.name!r} is not a Bedrock model: Bedrock batch inference "
                "runs Bedrock models only",
                hint="Use --backend sagemaker-transform for SageMaker endpoints, or online.",
                code=ErrorCode.UNSUPPORTED_BACKEND,
            )
        request_body(variant.model.model_id, "", "", variant.params)  # a family it knows
        if not self.role_arn:
            raise InvalidRequest(
                "Bedrock batch inference needs a service role: ARBITER_BEDROCK_BATCH_ROLE_ARN "
                "is not set",
                hint="Set it to a role that trusts bedrock.amazonaws.com and may read and "
                "write ARBITER_BATCH_S3_URI.",
                code=ErrorCode.BATCH_NOT_CONFIGURED,
            )

    def control(self, variant: Variant) -> Any:
        spec = self._spec(variant)
        return self._clients.get("bedrock", spec, spec.endpoint_url)

    def files(self, variant: Variant) -> S3Files:
        # AWS_ENDPOINT_URL_S3, or AWS's own
        return S3Files(self._clients.get("s3", self._spec(variant), None))

    def input_line(self, variant: Variant, index: int, system: str, prompt: str) -> bytes:
        body = request_body(self._spec(variant).model_id, system, prompt, variant.params)
        return json.dumps({"recordId": record_id(index), "modelInput": body}).encode()

    def submit(self, variant: Variant, job: eval_batch_jobs.BatchJob) -> str:
        try:
            reply = self.control(variant).create_model_invocation_job(
                jobName=job.job_name,
                roleArn=self.role_arn,
                modelId=self._spec(variant).model_id,
                clientRequestToken=job.id,  # a retried create does not start a second job
                inputDataConfig={
                    "s3InputDataConfig": {"s3Uri": job.input_uri, "s3InputFormat": "JSONL"}
                },
                outputDataConfig={"s3OutputDataConfig": {"s3Uri": job.output_uri}},
            )
        except ClientError as exc:
            raise self._refusal(exc) from None
        except Exception as exc:
            raise classify_error(exc) from None
        return str(reply["jobArn"])

    def _refusal(self, exc: ClientError) -> Exception:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        message = str(exc.response.get("Error", {}).get("Message", "")) or str(exc)
        if code == "AccessDeniedException":
            return AccessDenied(
                f"Bedrock refused the batch inference job: {message}",
                hint=f"The caller needs bedrock:CreateModelInvocationJob and iam:PassRole on "
                f"{self.role_arn}; that role must trust bedrock.amazonaws.com, may read the "
                "input and write the output under ARBITER_BATCH_S3_URI, and the model must "
                "be enabled in the Bedrock console.",
            )
        return classify_error(exc)

    def find(self, variant: Variant, job: eval_batch_jobs.BatchJob) -> str | None:
        client = self.control(variant)
        try:
            pages = client.get_paginator("list_model_invocation_jobs").paginate(
                nameContains=job.job_name
            )
            for page in pages:
                for summary in page.get("invocationJobSummaries", ()):
                    if summary.get("jobName") == job.job_name:
                        return str(summary["jobArn"])
        except ClientError as exc:
            raise self._refusal(exc) from None
        return None

    def status(self, variant: Variant, arn: str) -> JobStatus:
        try:
            job = self.control(variant).get_model_invocation_job(jobIdentifier=arn)
        except ClientError as exc:
            raise self._refusal(exc) from None
        status = str(job["status"])
        return JobStatus(
            status=status,
            terminal=status in _TERMINAL,
            succeeded=status in _SUCCEEDED,
            processed=job.get("processedRecordCount"),
            message=job.get("message"),
        )

    def results(
        self, variant: Variant, job: eval_batch_jobs.BatchJob, arn: str, tally: OutputTally
    ) -> Iterator[RecordResult]:
        """Every `.jsonl.out` file the job wrote, record by record (the manifest only
        summarises them)."""
        files = self.files(variant)
        job_id = arn.rsplit("/", 1)[-1]
        folder = S3Uri.parse(job.output_uri).folder().join(job_id).folder()
        wanted = set(job.examples)
        model_id = self._spec(variant).model_id
        for key in files.keys(folder):
            if not key.endswith(".jsonl.out"):
                continue  # manifest.json.out and anything else
            for line in files.lines(S3Uri(folder.bucket, key)):
                try:
                    record = json.loads(line)
                except ValueError:
                    tally.malformed += 1
                    continue
                index = record_index(record.get("recordId")) if isinstance(record, dict) else None
                if index is None or index not in wanted:
                    tally.malformed += 1
                    continue
                yield _result(model_id, index, record)


def _result(model_id: str, index: int, record: dict[str, Any]) -> RecordResult:
    error = record.get("error")
    if error is not None:
        if isinstance(error, dict):
            text = f"{error.get('errorCode', 'error')}: {error.get('errorMessage', '')}"
        else:
            text = str(error)
        return RecordResult(index, None, f"batch record failed: {text}")
    if "modelOutput" not in record:
        return RecordResult(index, None, "batch record has neither modelOutput nor error")
    try:
        return RecordResult(index, parse_reply(model_id, record["modelOutput"]), None)
    except MalformedReply as exc:
        return RecordResult(index, None, f"malformed modelOutput: {exc}")
