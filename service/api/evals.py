"""Eval runs over HTTP: start a batch run in the background, follow its progress, read its
report (self-contained HTML, or Markdown)."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from evals.datasets import EXAMPLE_DATASET, Dataset, load_dataset
from evals.errors import DatasetError
from evals.render import to_html, to_markdown
from evals.report import Report
from service.api.deps import RuntimeDep, StoreDep, error_responses
from service.app import Runtime
from service.errors import ErrorCode, InvalidRequest
from service.evaluation import build_report, pairwise_judge, run_summaries
from service.schemas import RagRequest
from service.store import Store, eval_batch_jobs, eval_runs

_ERRORS = error_responses(404, 409, 413, 422)
MAX_DATASET_BYTES = 20 * 1024 * 1024


class EvalRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    variants: list[str] = Field(min_length=1, max_length=8)
    metrics: list[str] = Field(default_factory=list, max_length=20)
    judge: str | None = Field(default=None, description="A variant grading each answer.")
    dataset: str | None = Field(
        default=None,
        max_length=MAX_DATASET_BYTES,
        description="The dataset's text (JSONL or CSV). Default: the bundled example.",
    )
    dataset_format: Literal["jsonl", "csv"] = "jsonl"
    dataset_name: str = Field(default="dataset", max_length=128)
    rag: RagRequest | None = Field(
        default=None,
        description="Retrieve each example's context from a collection for the variants that "
        "use context (on batch backends too: it goes into each record). Stored with the "
        "answers; a batch run keeps it for --resume.",
    )
    concurrency: int = Field(default=4, ge=1, le=64)
    rate_per_s: float | None = Field(default=None, gt=0)
    name: str = Field(default="", max_length=128)
    use_case: str | None = Field(default=None, description="Count the run toward this use case.")
    backend: Literal["online", "bedrock-batch", "sagemaker-transform"] = Field(
        default="online",
        description="online: calls from the server; bedrock-batch: Bedrock batch inference "
        "jobs (half price; ARBITER_BATCH_S3_URI and ARBITER_BEDROCK_BATCH_ROLE_ARN); "
        "sagemaker-transform: batch transform jobs on the endpoints' models.",
    )


class BatchJobOut(BaseModel):
    variant: str
    job_name: str
    job_arn: str | None
    status: str = Field(description="The service's own status word (InProgress, Failed...).")
    message: str | None = Field(description="The service's reason, when it gave one.")
    records: int
    collected: bool = Field(description="Its outputs are stored as the run's answers.")


class EvalRunOut(BaseModel):
    id: str
    name: str
    status: str
    variants: list[str]
    metrics: list[str]
    judge: str | None
    dataset_path: str
    total: int
    stored: int
    backend: str = "online"
    error: str | None = Field(default=None, description="Why a failed run failed.")
    jobs: list[BatchJobOut] = Field(
        default_factory=list, description="A batch-backend run's provider jobs."
    )
    summary: dict[str, dict[str, dict[str, float | int | None]]] = Field(
        default_factory=dict,
        description="Per variant, per metric: mean, 95% CI (low, high), n, errors.",
    )


def _dataset(home: Path, body: EvalRunIn) -> Dataset:
    if body.dataset is None:
        path = EXAMPLE_DATASET
    else:
        data = body.dataset.encode("utf-8")
        folder = home / "datasets"
        folder.mkdir(parents=True, exist_ok=True)
        # Named by content: the run can be resumed from the same file later.
        safe = "".join(c for c in body.dataset_name if c.isalnum() or c in "-_")[:64] or "dataset"
        path = folder / f"{safe}-{hashlib.sha256(data).hexdigest()[:12]}.{body.dataset_format}"
        path.write_bytes(data)
    try:
        return load_dataset(path)
    except DatasetError as exc:
        raise InvalidRequest(str(exc), code=ErrorCode.INVALID_DATASET) from None


def _out(store: Store, run_id: str) -> EvalRunOut:
    run = eval_runs.get_run(store, run_id)
    summaries = run_summaries(store, run_id)
    return EvalRunOut(
        **{k: run[k] for k in ("id", "name", "status", "variants", "metrics", "judge", "total")},
        dataset_path=Path(run["dataset_path"]).name,
        stored=sum(s.answers for s in summaries.values()),
        backend=run["backend"],
        error=run["error"],
        jobs=[
            BatchJobOut(
                variant=j.variant,
                job_name=j.job_name,
                job_arn=j.job_arn,
                status=j.status,
                message=j.message,
                records=len(j.examples),
                collected=j.collected,
            )
            for j in eval_batch_jobs.jobs_of_run(store, run_id)
        ],
        summary={
            v: {
                m: {"mean": e.mean, "low": e.low, "high": e.high, "n": e.n, "errors": e.errors}
                for m, e in s.metrics.items()
            }
            for v, s in summaries.items()
        },
    )


router = APIRouter(prefix="/api/eval-runs", tags=["evaluations"])


@router.get("")
async def list_runs(
    store: StoreDep,
    limit: int = Query(50, ge=1, le=500),
    use_case: str | None = Query(None, description="Only the runs started for it."),
) -> list[dict[str, Any]]:
    return await asyncio.to_thread(eval_runs.list_runs, store, limit, use_case)


@router.post("", status_code=202, responses=_ERRORS)
async def start_run(runtime: RuntimeDep, body: EvalRunIn) -> EvalRunOut:
    """Start a batch run; it goes on in the background (follow it with GET)."""
    dataset = await asyncio.to_thread(_dataset, runtime.settings.home, body)
    run_id = await runtime.evals.start_in_background(
        dataset,
        body.variants,
        body.metrics,
        judge=body.judge,
        concurrency=body.concurrency,
        rate_per_s=body.rate_per_s,
        rag=body.rag,
        name=body.name,
        use_case=body.use_case,
        backend=body.backend,
    )
    return await asyncio.to_thread(_out, runtime.store, run_id)


@router.get("/{run_id}", responses=_ERRORS)
async def get_run(store: StoreDep, run_id: str) -> EvalRunOut:
    return await asyncio.to_thread(_out, store, run_id)


def _report(
    runtime: Runtime, run_id: str, against: str | None, judge: str | None, *, draw_plots: bool
) -> Report:
    pairwise = pairwise_judge(runtime.catalog, judge) if judge else None
    return build_report(
        runtime.store, run_id, against=against, judge=pairwise, draw_plots=draw_plots
    )


@router.get("/{run_id}/report.html", response_class=HTMLResponse, responses=_ERRORS)
async def report_html(
    runtime: RuntimeDep, run_id: str, against: str | None = None, judge: str | None = None
) -> HTMLResponse:
    """`against`: a baseline run; `judge`: a variant judging each pair of answers (slow:
    two judge calls per example)."""
    report = await asyncio.to_thread(_report, runtime, run_id, against, judge, draw_plots=True)
    return HTMLResponse(to_html(report))


@router.get("/{run_id}/report.md", response_class=PlainTextResponse, responses=_ERRORS)
async def report_md(
    runtime: RuntimeDep, run_id: str, against: str | None = None, judge: str | None = None
) -> PlainTextResponse:
    # Markdown over HTTP: tables only (the HTML report has the plots)
    report = await asyncio.to_thread(_report, runtime, run_id, against, judge, draw_plots=False)
    return PlainTextResponse(to_markdown(report), media_type="text/markdown")
