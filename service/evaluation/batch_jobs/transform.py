"""SageMaker batch transform for a variant served by an endpoint: the endpoint's model
(`DescribeEndpoint` -> its endpoint config -> the production variant's model) runs a
transform job over a JSONL input split by line. Each line is `{"recordId", "body"}`: the
job sends only `body` (the container's payload, as the variant's adapter builds it) to the
container (`InputFilter`) and joins each response to its input line (`JoinSource`), so the
service writes `<input file name>.out` with `{"recordId", "SageMakerOutput"}` per line. An
output line is matched to its example by its record id, never by its position: a missing
or broken line cannot shift the answers after it onto the wrong examples."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from service.errors import AccessDenied, ErrorCode, InvalidRequest, ProviderError
from service.evaluation.batch_jobs.backend import (
    SAGEMAKER_TRANSFORM,
    JobStatus,
    KeptClients,
    OutputTally,
    RecordResult,
    record_id,
    record_index,
)
from service.evaluation.batch_jobs.s3 import S3Files, S3Uri
from service.models import Reply, SageMakerModel, Variant, classify_error, make_adapter
from service.store import eval_batch_jobs

_TERMINAL = {"Completed", "Failed", "Stopped"}
# The container gets the payload alone; the output keeps the record id next to the answer.
DATA_PROCESSING = {
    "InputFilter": "$.body",
    "JoinSource": "Input",
    "OutputFilter": "$['recordId','SageMakerOutput']",
}


def _sagemaker_error(exc: Exception, actions: str) -> Exception:
    """The error in our tree; access denied names the SageMaker permissions to grant
    (the generic hint is Bedrock's)."""
    err = classify_error(exc)
    if isinstance(err, AccessDenied):
        err.hint = (
            f"Grant your role {actions}; the model's execution role needs s3:GetObject on the "
            "input and s3:PutObject on the output (ARBITER_BATCH_S3_URI)."
        )
    return err


class SageMakerTransform:
    name = SAGEMAKER_TRANSFORM
    min_records = 1

    def __init__(self, *, instance_type: str, instance_count: int, max_records: int) -> None:
        self.instance_type = instance_type
        self.instance_count = instance_count
        self.max_records = max_records
        self._clients = KeptClients()

    def _spec(self, variant: Variant) -> SageMakerModel:
        assert isinstance(variant.model, SageMakerModel)
        return variant.model

    def check(self, variant: Variant) -> None:
        spec = variant.model
        if not isinstance(spec, SageMakerModel):
            raise InvalidRequest(
                f"variant {variant.name!r} is not a SageMaker endpoint: batch transform runs "
                "an endpoint's model",
                hint="Use --backend bedrock-batch for Bedrock models, or online.",
                code=ErrorCode.UNSUPPORTED_BACKEND,
            )
        if spec.inference_component:
            raise InvalidRequest(
                f"variant {variant.name!r} is served by inference component "
                f"{spec.inference_component!r}: its endpoint config names no model for a "
                "transform job",
                hint="Run it with --backend online.",
                code=ErrorCode.UNSUPPORTED_BACKEND,
            )

    def control(self, variant: Variant) -> Any:
        # The variant's endpoint_url is its runtime's; the control plane's comes from
        # AWS_ENDPOINT_URL_SAGEMAKER, or AWS's own.
        return self._clients.get("sagemaker", self._spec(variant), None)

    def files(self, variant: Variant) -> S3Files:
        # AWS_ENDPOINT_URL_S3, or AWS's own
        return S3Files(self._clients.get("s3", self._spec(variant), None))

    def model_name(self, variant: Variant) -> str:
        client = self.control(variant)
        endpoint = self._spec(variant).endpoint_name
        try:
            config_name = client.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
            config = client.describe_endpoint_config(EndpointConfigName=config_name)
        except Exception as exc:
            raise _sagemaker_error(
                exc, "sagemaker:DescribeEndpoint and sagemaker:DescribeEndpointConfig"
            ) from None
        models = [v["ModelName"] for v in config.get("ProductionVariants", ()) if "ModelName" in v]
        if not models:
            raise InvalidRequest(
                f"endpoint {endpoint!r} (config {config_name!r}) names no model",
                hint="Run this variant with --backend online.",
                code=ErrorCode.UNSUPPORTED_BACKEND,
            )
        return str(models[0])

    def input_line(self, variant: Variant, index: int, system: str, prompt: str) -> bytes:
        spec = self._spec(variant)
        adapter = make_adapter(spec.adapter, spec.prompt_template)
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": prompt}
        ]
        params = variant.params
        body = adapter.request(
            messages,
            {
                "temperature": params.temperature,
                "top_p": params.top_p,
                "max_tokens": params.max_tokens,
                "stop": list(params.stop) or None,
            },
            stream=False,
        )
        return json.dumps({"recordId": record_id(index), "body": body}).encode()

    def submit(self, variant: Variant, job: eval_batch_jobs.BatchJob) -> str:
        model = self.model_name(variant)
        try:
            reply = self.control(variant).create_transform_job(
                TransformJobName=job.job_name,
                ModelName=model,
                BatchStrategy="SingleRecord",
                MaxPayloadInMB=6,
                TransformInput={
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": job.input_uri}
                    },
                    "ContentType": "application/json",
                    "SplitType": "Line",
                },
                TransformOutput={
                    "S3OutputPath": job.output_uri,
                    "Accept": "application/json",
                    "AssembleWith": "Line",
                },
                DataProcessing=DATA_PROCESSING,
                TransformResources={
                    "InstanceType": self.instance_type,
                    "InstanceCount": self.instance_count,
                },
            )
        except Exception as exc:
            raise _sagemaker_error(
                exc, "sagemaker:CreateTransformJob and sagemaker:DescribeTransformJob"
            ) from None
        return str(reply["TransformJobArn"])

    def find(self, variant: Variant, job: eval_batch_jobs.BatchJob) -> str | None:
        try:
            found = self.control(variant).describe_transform_job(TransformJobName=job.job_name)
        except ClientError as exc:
            if "could not find" in str(exc).lower() or "not found" in str(exc).lower():
                return None
            raise classify_error(exc) from None
        return str(found["TransformJobArn"])

    def status(self, variant: Variant, arn: str) -> JobStatus:
        name = arn.rsplit("/", 1)[-1]
        try:
            job = self.control(variant).describe_transform_job(TransformJobName=name)
        except Exception as exc:
            raise classify_error(exc) from None
        status = str(job["TransformJobStatus"])
        return JobStatus(
            status=status,
            terminal=status in _TERMINAL,
            succeeded=status == "Completed",
            processed=None,  # transform jobs do not count records as they go
            message=job.get("FailureReason"),
        )

    def results(
        self, variant: Variant, job: eval_batch_jobs.BatchJob, arn: str, tally: OutputTally
    ) -> Iterator[RecordResult]:
        """Each output line's answer, for the example its record id names. A line that is
        not JSON or names no request of this job is counted malformed (its request then has
        no output record); an answer the adapter cannot read is that example's error.
        Jobs submitted before record ids (bare payload lines) are read by position."""
        spec = self._spec(variant)
        adapter = make_adapter(spec.adapter, spec.prompt_template)
        files = self.files(variant)
        name = S3Uri.parse(job.input_uri).key.rsplit("/", 1)[-1]
        out = S3Uri.parse(job.output_uri).folder().join(name + ".out")
        if out.key not in files.keys(out):
            return
        wanted = set(job.examples)
        for position, line in enumerate(files.lines(out)):
            try:
                record = json.loads(line)
            except ValueError:
                tally.malformed += 1
                continue
            if isinstance(record, dict) and "SageMakerOutput" in record:
                index = record_index(record.get("recordId"))
                answer = record["SageMakerOutput"]
            else:  # by position: a job submitted before record ids
                index = job.examples[position] if position < len(job.examples) else None
                answer = record
            if index is None or index not in wanted:
                tally.malformed += 1
                continue
            try:
                parsed = adapter.parse(answer)
            except (ValueError, ProviderError) as exc:
                yield RecordResult(index, None, f"malformed transform output: {exc}")
                continue
            yield RecordResult(
                index,
                Reply(parsed.text, parsed.input_tokens, parsed.output_tokens, parsed.finish_reason),
                None,
            )
