"""Storing the provider jobs of batch-backend eval runs (`EvalBatchJobRow`): each is stored
by name before it is submitted, then given its ARN, its status as the service reports it,
and marked collected once its outputs are stored as eval items."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update

from service.ids import new_id, utcnow
from service.store.engine import Store
from service.store.tables import EvalBatchJobRow


@dataclass(frozen=True)
class BatchJob:
    id: str
    run_id: str
    variant: str
    backend: str
    job_name: str
    job_arn: str | None
    input_uri: str
    output_uri: str
    examples: list[int]
    # Per example (in record order), the chunks its record carries; None: no retrieval.
    contexts: list[list[dict[str, Any]]] | None
    status: str
    message: str | None
    collected: bool


def _job(row: EvalBatchJobRow) -> BatchJob:
    return BatchJob(
        id=row.id,
        run_id=row.run_id,
        variant=row.variant,
        backend=row.backend,
        job_name=row.job_name,
        job_arn=row.job_arn,
        input_uri=row.input_uri,
        output_uri=row.output_uri,
        examples=[int(i) for i in row.examples],
        contexts=row.contexts,
        status=row.status,
        message=row.message,
        collected=row.collected,
    )


def add_job(
    store: Store,
    *,
    run_id: str,
    variant: str,
    backend: str,
    job_name: str,
    input_uri: str,
    output_uri: str,
    examples: list[int],
    contexts: list[list[dict[str, Any]]] | None = None,
) -> BatchJob:
    values: dict[str, Any] = {
        "id": new_id(),
        "run_id": run_id,
        "variant": variant,
        "backend": backend,
        "job_name": job_name,
        "job_arn": None,
        "input_uri": input_uri,
        "output_uri": output_uri,
        "examples": examples,
        "contexts": contexts,
        "status": "Planned",
        "message": None,
        "collected": False,
        "created_at": utcnow(),
    }
    with store.session() as s:
        s.execute(insert(EvalBatchJobRow), values)
    return BatchJob(**{k: v for k, v in values.items() if k != "created_at"})


def set_arn(store: Store, job_id: str, arn: str, status: str) -> None:
    with store.session() as s:
        s.execute(
            update(EvalBatchJobRow)
            .where(EvalBatchJobRow.id == job_id)
            .values(job_arn=arn, status=status)
        )


def set_status(store: Store, job_id: str, status: str, message: str | None) -> None:
    with store.session() as s:
        s.execute(
            update(EvalBatchJobRow)
            .where(EvalBatchJobRow.id == job_id)
            .values(status=status, message=message)
        )


def mark_collected(store: Store, job_id: str, status: str, message: str | None) -> None:
    with store.session() as s:
        s.execute(
            update(EvalBatchJobRow)
            .where(EvalBatchJobRow.id == job_id)
            .values(status=status, message=message, collected=True, finished_at=utcnow())
        )


def jobs_of_run(store: Store, run_id: str) -> list[BatchJob]:
    with store.session() as s:
        rows = s.scalars(
            select(EvalBatchJobRow)
            .where(EvalBatchJobRow.run_id == run_id)
            .order_by(EvalBatchJobRow.created_at, EvalBatchJobRow.job_name)
        ).all()
        return [_job(r) for r in rows]
