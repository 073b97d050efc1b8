"""Running a use case's datasets: one eval run per dataset over all its variants, counted
toward the use case."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from evals.datasets import load_dataset
from evals.errors import DatasetError
from service.documents import SAMPLE_COLLECTION, ingest_sample_corpus, rag_errors
from service.errors import ErrorCode, InvalidRequest
from service.evaluation.batch import EvalRunner, Progress
from service.evaluation.usecases.datasets import dataset_path
from service.evaluation.usecases.spec import UseCaseSpec
from service.schemas import RagRequest


async def run_datasets(
    runner: EvalRunner,
    spec: UseCaseSpec,
    *,
    concurrency: int = 4,
    on_progress: Callable[[Progress], None] | None = None,
) -> list[str]:
    """An eval run per dataset of the use case, over all its variants, counted toward it."""
    if not spec.datasets:
        raise InvalidRequest(
            f"use case {spec.name!r} has no datasets",
            code=ErrorCode.NO_DATASETS,
            hint="Add `datasets: [example]` or paths to JSONL/CSV files.",
        )
    rag = RagRequest(collection=spec.collections[0]) if spec.collections else None
    if rag is not None and rag.collection == SAMPLE_COLLECTION:
        with rag_errors():
            await asyncio.to_thread(ingest_sample_corpus, runner.library)
    run_ids = []
    for path in spec.datasets:
        try:
            data = await asyncio.to_thread(load_dataset, dataset_path(path))
        except DatasetError as exc:
            raise InvalidRequest(str(exc), code=ErrorCode.INVALID_DATASET) from None
        run_ids.append(
            await runner.run(
                data,
                spec.variants,
                spec.run_metrics(),
                concurrency=concurrency,
                rag=rag,
                name=f"{spec.name}: {path}",
                on_progress=on_progress,
                use_case=spec.name,
                language=spec.language,
            )
        )
    return run_ids
