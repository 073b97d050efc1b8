"""What a batch backend is to the runner: it checks a variant, turns one example into one
input line, submits a job over an input file, reports the job's status as the service
says it, and reads the job's outputs back as one result per record."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from service.evaluation.batch_jobs.s3 import S3Files
from service.models import BedrockModel, Reply, SageMakerModel, Variant, aws_client
from service.store import eval_batch_jobs

BEDROCK_BATCH = "bedrock-batch"
SAGEMAKER_TRANSFORM = "sagemaker-transform"
ONLINE = "online"
BACKENDS = (ONLINE, BEDROCK_BATCH, SAGEMAKER_TRANSFORM)


def record_id(index: int) -> str:
    """The dataset row as an 11-character alphanumeric record id, as Bedrock's own; a transform
    job's input lines carry it too, joined to their outputs."""
    return f"R{index:010d}"


def record_index(value: Any) -> int | None:
    if isinstance(value, str) and len(value) == 11 and value[0] == "R" and value[1:].isdigit():
        return int(value[1:])
    return None


class KeptClients:
    """boto3 clients kept per (service, model spec): a new client costs tens of ms of CPU
    (its service model is loaded), and a job is polled for hours."""

    def __init__(self) -> None:
        self._kept: dict[tuple[str, Any], Any] = {}

    def get(
        self, service: str, spec: BedrockModel | SageMakerModel, endpoint_url: str | None
    ) -> Any:
        if (service, spec) not in self._kept:
            self._kept[service, spec] = aws_client(
                service,
                region=spec.region,
                profile=spec.profile,
                endpoint_url=endpoint_url,
                max_attempts=spec.max_attempts,
            )
        return self._kept[service, spec]


@dataclass(frozen=True)
class JobStatus:
    status: str  # the service's own word: InProgress, Completed, Failed, ...
    terminal: bool  # it will not change any more
    succeeded: bool  # every record was attempted (some may still carry errors)
    processed: int | None  # records processed so far, when the service says
    message: str | None  # the service's reason (failures, stops)


@dataclass(frozen=True)
class RecordResult:
    """One output record: the answer, or the error the service recorded for it."""

    index: int  # the example's row in the dataset
    reply: Reply | None
    error: str | None


@dataclass
class OutputTally:
    """Output lines that could not be matched to a request (not JSON, no record id, an id
    that is not in the job): counted and named in the missing records' error."""

    malformed: int = 0


class Backend(Protocol):
    name: str
    min_records: int
    max_records: int

    def check(self, variant: Variant) -> None:
        """Raise a clear error when this backend cannot run `variant`."""

    def files(self, variant: Variant) -> S3Files:
        """The variant's account's S3."""

    def input_line(self, variant: Variant, index: int, system: str, prompt: str) -> bytes: ...

    def submit(self, variant: Variant, job: eval_batch_jobs.BatchJob) -> str:
        """Start the job over its input file (already written); its ARN."""

    def find(self, variant: Variant, job: eval_batch_jobs.BatchJob) -> str | None:
        """The ARN of a job submitted under this name before a crash, or None."""

    def status(self, variant: Variant, arn: str) -> JobStatus: ...

    def results(
        self, variant: Variant, job: eval_batch_jobs.BatchJob, arn: str, tally: OutputTally
    ) -> Iterator[RecordResult]: ...


def chunk_sizes(count: int, most: int) -> list[int]:
    """`count` records in as few jobs as `most` allows, of even sizes (so that the last job
    is not left below the service's minimum)."""
    if count <= 0:
        return []
    jobs = math.ceil(count / most)
    base, extra = divmod(count, jobs)
    return [base + (1 if i < extra else 0) for i in range(jobs)]


def job_name(run_id: str, variant: str, number: int) -> str:
    """A name both services accept (letters, digits and single hyphens, at most 63
    characters), unique per run and job: `arbiter-<run>-<variant>-<n>`."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", variant).strip("-")[:28] or "v"
    return f"arb-{run_id.replace('-', '')[-16:]}-{slug}-{number}"
