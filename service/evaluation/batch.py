"""Batch evaluation runs: every example of a dataset answered by every variant, with a
bounded number of calls in flight, each answer scored and stored as soon as it is done.
A run interrupted at any point (crash, Ctrl-C) resumes without redoing stored answers."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial
from typing import Any

import structlog
from aiolimiter import AsyncLimiter
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from evals.base import Metric
from evals.datasets import Dataset, Example
from evals.judges import RubricJudge
from monitoring.records import ModelCall, Record, ScoreRecord
from rag import Library, RetrievedChunk, render
from service.documents import call, retrieve
from service.errors import Conflict, ErrorCode, InvalidRequest, NotFound
from service.evaluation.batch_jobs import ONLINE, BatchJobRunner, Plan
from service.evaluation.items import Progress, score_item
from service.evaluation.judging import scorers
from service.models import Catalog, PriceTable, Variant, classify_error
from service.schemas import RagRequest
from service.store import Store, eval_runs, usecases

log = structlog.get_logger(__name__)


class EvalRunner:
    """Runs evaluations for the API, the CLI, the page and use cases, with the few objects a
    run needs: the store, the variants, prices, the document library and telemetry."""

    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        prices: PriceTable,
        library: Library,
        emit: Callable[[Record], None],
        *,
        default_timeout_s: float = 120.0,
        batch: BatchJobRunner | None = None,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.prices = prices
        self.library = library
        self.emit = emit
        self.default_timeout_s = default_timeout_s
        self.batch = batch  # the batch backends (Bedrock batch inference, SageMaker transform)
        self._background: set[asyncio.Task[None]] = set()  # the loop keeps weak references
        # Why a background run stopped, by run id (the store keeps only "failed").
        self.failures: dict[str, str] = {}

    def _prepare(
        self, variants: list[str], metrics: list[str], judge: str | None
    ) -> tuple[list[Metric], list[Variant], RubricJudge | None]:
        """Everything a run needs, checked before anything is stored or called."""
        metric_list, rubric = scorers(metrics, self.library, self.catalog, judge)
        if not variants:
            raise InvalidRequest("a run needs at least one variant", code=ErrorCode.NO_VARIANTS)
        chosen = [self.catalog.get(v) for v in variants]
        return metric_list, chosen, rubric

    def create_run(
        self,
        dataset: Dataset,
        variants: list[str],
        metrics: list[str],
        *,
        judge: str | None = None,
        name: str = "",
        use_case: str | None = None,
        backend: str = ONLINE,
        rag: RagRequest | None = None,
    ) -> str:
        """Check the plan and store a new, empty run; `run_eval(..., run_id=)` then fills it.
        A batch-backend run keeps its retrieval (`rag`), which `--resume` reuses."""
        _, chosen, _ = self._prepare(variants, metrics, judge)
        if backend != ONLINE:
            self._batch().check(backend, chosen, len(dataset.examples))
            if rag is not None:  # before thousands of retrievals fail one by one
                call(self.library.collection, rag.collection)
        if use_case is not None and not usecases.has_use_case(self.store, use_case):
            raise NotFound(f"use case {use_case!r} does not exist", code=ErrorCode.UNKNOWN_USE_CASE)
        return eval_runs.create_run(
            self.store,
            name=name or dataset.path,
            dataset_path=dataset.path,
            dataset_sha256=dataset.sha256,
            variants=variants,
            metrics=metrics,
            judge=judge,
            total=len(dataset.examples) * len(variants),
            use_case=use_case,
            backend=backend,
            retrieval=None if backend == ONLINE or rag is None else rag.model_dump(mode="json"),
        )

    def _batch(self) -> BatchJobRunner:
        if self.batch is None:
            raise InvalidRequest(
                "batch backends are not available in this process",
                code=ErrorCode.UNSUPPORTED_BACKEND,
            )
        return self.batch

    async def run(
        self,
        dataset: Dataset,
        variants: list[str],
        metrics: list[str],
        *,
        judge: str | None = None,
        concurrency: int = 8,
        rate_per_s: float | None = None,
        run_id: str | None = None,
        name: str = "",
        timeout_s: float | None = None,
        rag: RagRequest | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        use_case: str | None = None,
        language: str | None = None,
        backend: str = ONLINE,
    ) -> str:
        """Start (or, with `run_id`, resume) a run; returns its id. At most `concurrency` calls
        are in flight and, with `rate_per_s`, no more than that many start per second. With
        `rag`, each example's context is retrieved once and given to the variants that use
        context, as in the page. `language` is the one of examples that name none (a use
        case's); without either, the metrics detect it from the text. `backend`: online
        (calls from this process), bedrock-batch or sagemaker-transform (provider jobs)."""
        metric_list, chosen, judge_model = self._prepare(variants, metrics, judge)
        store = self.store
        if backend != ONLINE:
            return await self._run_on_jobs(
                dataset,
                variants,
                metrics,
                Plan(metric_list, chosen, judge_model),
                backend,
                judge=judge,
                run_id=run_id,
                name=name,
                rag=rag,
                on_progress=on_progress,
                use_case=use_case,
                language=language,
            )
        if run_id is None:
            run_id = await asyncio.to_thread(
                self.create_run,
                dataset,
                variants,
                metrics,
                judge=judge,
                name=name,
                use_case=use_case,
            )
        else:
            await asyncio.to_thread(eval_runs.check_resumable, store, run_id, dataset.sha256)
        # One start per 1/rate seconds, no bursts: what a throttled provider quota wants.
        limiter = AsyncLimiter(1, 1 / rate_per_s) if rate_per_s else None
        done = await asyncio.to_thread(eval_runs.finished_keys, store, run_id)
        todo = [(e, v) for e in dataset.examples for v in chosen if (e.id, v.name) not in done]
        total = len(dataset.examples) * len(chosen)
        state = {"done": total - len(todo), "errors": 0}
        skipped = state["done"]
        gate = asyncio.Semaphore(concurrency)
        finished: list[dict[str, Any]] = []  # scored, waiting to be written
        assert run_id is not None
        writing = _Writer(store, run_id)
        retrievals: dict[str, asyncio.Task[list[RetrievedChunk]]] = {}

        async def context(example: Example) -> list[RetrievedChunk]:
            assert rag is not None
            if example.id not in retrievals:  # once per example, shared by the variants
                retrievals[example.id] = asyncio.ensure_future(self._retrieve(rag, example))
            return await retrievals[example.id]

        async def one(example: Example, variant: Variant) -> None:
            async with gate:
                if limiter is not None:
                    await limiter.acquire()
                wanted = context(example) if rag and variant.rag.use_context else None
                fields, chunks = await self._answer(variant, example, timeout_s, wanted)
            fields["scores"] = await asyncio.to_thread(
                score_item, metric_list, judge_model, example, fields, chunks, language
            )
            self._emit(variant, fields)
            finished.append(fields)
            await writing.flush(finished)
            state["done"] += 1
            state["errors"] += fields["status"] != "ok"
            if on_progress:
                on_progress(Progress(state["done"], total, skipped, state["errors"]))

        if on_progress:
            on_progress(Progress(state["done"], total, skipped, 0))
        try:
            await asyncio.gather(*(one(e, v) for e, v in todo))
        finally:
            # Interrupted or not, what is scored is written before the run stops.
            await asyncio.shield(writing.flush(finished, wait=True))
        await asyncio.to_thread(eval_runs.finish_run, store, run_id)
        return run_id

    async def _run_on_jobs(
        self,
        dataset: Dataset,
        variants: list[str],
        metrics: list[str],
        plan: Plan,
        backend: str,
        *,
        judge: str | None,
        run_id: str | None,
        name: str,
        rag: RagRequest | None,
        on_progress: Callable[[Progress], None] | None,
        use_case: str | None,
        language: str | None,
    ) -> str:
        batch = self._batch()
        batch.check(backend, plan.variants)
        if run_id is None:
            run_id = await asyncio.to_thread(
                self.create_run,
                dataset,
                variants,
                metrics,
                judge=judge,
                name=name,
                use_case=use_case,
                backend=backend,
                rag=rag,
            )
        else:
            run = await asyncio.to_thread(
                eval_runs.check_resumable, self.store, run_id, dataset.sha256
            )
            if run["backend"] != backend:
                raise Conflict(
                    f"eval run {run_id} runs on the {run['backend']} backend, not {backend}",
                    hint=f"Resume it with --backend {run['backend']} (or --backend online to "
                    "answer what is missing from this process).",
                )
            rag = _same_retrieval(run_id, run["retrieval"], rag)
            await asyncio.to_thread(eval_runs.restart_run, self.store, run_id)
        if rag is not None:
            plan = replace(plan, retrieve=partial(self._retrieve, rag))
        await batch.run(run_id, dataset, plan, backend, on_progress=on_progress, language=language)
        return run_id

    async def start_in_background(
        self,
        dataset: Dataset,
        variants: list[str],
        metrics: list[str],
        *,
        judge: str | None = None,
        concurrency: int = 4,
        rate_per_s: float | None = None,
        rag: RagRequest | None = None,
        name: str = "",
        use_case: str | None = None,
        backend: str = ONLINE,
    ) -> str:
        """Store a new run and fill it in the background (the page and the API use this);
        returns at once with the run's id. A run cut short by a restart can be resumed with
        `arbiter eval run DATASET --resume RUN_ID` (with its `--backend`)."""
        run_id = await asyncio.to_thread(
            self.create_run,
            dataset,
            variants,
            metrics,
            judge=judge,
            name=name,
            use_case=use_case,
            backend=backend,
            rag=rag,
        )

        async def go() -> None:
            try:
                await self.run(
                    dataset,
                    variants,
                    metrics,
                    judge=judge,
                    concurrency=concurrency,
                    rate_per_s=rate_per_s,
                    run_id=run_id,
                    rag=rag,
                    backend=backend,
                )
            except Exception as exc:
                log.error("eval.run_failed", run=run_id, error=str(exc))
                # The reason in a line: a database error's SQL and links are for the log.
                reason = (str(exc) or type(exc).__name__).split("\n[SQL:")[0].split("\n")[0]
                self.failures[run_id] = reason[:300]
                await asyncio.to_thread(eval_runs.finish_run, self.store, run_id, "failed")

        task = asyncio.create_task(go())
        self._background.add(task)  # held until done: the loop keeps only weak references
        task.add_done_callback(self._background.discard)
        return run_id

    def _emit(self, variant: Variant, fields: dict[str, Any]) -> None:
        """The answer and its scores to the telemetry streams, marked as batch work."""
        ok = fields["status"] == "ok"
        self.emit(
            ModelCall(
                variant=variant.name,
                provider=variant.provider,
                model=variant.model_label,
                status=fields["status"],
                error=None if ok else str(fields["error"]).split(":", 1)[0],
                latency_s=fields["latency_ms"] / 1000,
                ttft_s=None if fields["ttft_ms"] is None else fields["ttft_ms"] / 1000,
                tokens_in=fields["tokens_in"],
                tokens_out=fields["tokens_out"],
                cost_usd=fields["cost_usd"],
                source="batch",
            )
        )
        for score in fields["scores"]:
            self.emit(ScoreRecord(score["metric"], variant.name, score["value"], source="batch"))

    async def _retrieve(self, rag: RagRequest, example: Example) -> list[RetrievedChunk]:
        return (await retrieve(self.library, rag, example.prompt)).chunks

    async def _answer(
        self,
        variant: Variant,
        example: Example,
        timeout_s: float | None,
        context: Awaitable[list[RetrievedChunk]] | None = None,
    ) -> tuple[dict[str, Any], list[RetrievedChunk] | None]:
        """The answer's fields, and the context it was given (None: answered without)."""
        messages: list[BaseMessage] = (
            [SystemMessage(variant.system_prompt)] if variant.system_prompt else []
        )
        chunks: list[RetrievedChunk] | None = None
        started = time.perf_counter()
        fields: dict[str, Any] = {
            "example_id": example.id,
            "variant": variant.name,
            "prompt": example.prompt,
            "reference": example.reference,
            "answer": "",
            "status": "ok",
            "error": None,
            "tokens_in": None,
            "tokens_out": None,
            "ttft_ms": None,
            "contexts": None,  # the chunks it was given, stored with the answer
        }
        try:
            if context is not None:  # a failed retrieval fails this item, not the run
                chunks = await context
                fields["contexts"] = [c.to_dict() for c in chunks]
                messages.append(HumanMessage(render(variant.rag.template, example.prompt, chunks)))
            else:
                messages.append(HumanMessage(example.prompt))
            model = self.catalog.cached_model(variant, 0)
            if model is None:
                model = await asyncio.to_thread(self.catalog.model, variant, 0)
            async with asyncio.timeout(timeout_s or variant.timeout_s or self.default_timeout_s):
                # Streamed, like the compare engine: the same provider path as the page.
                text = []
                async for chunk in model.astream(messages, **variant.params.call_kwargs()):
                    if chunk.text and fields["ttft_ms"] is None:
                        fields["ttft_ms"] = (time.perf_counter() - started) * 1000
                    text.append(chunk.text)
                    usage = getattr(chunk, "usage_metadata", None) or (
                        chunk.response_metadata or {}
                    ).get("token_usage")
                    if usage:
                        fields["tokens_in"] = usage.get("input_tokens", fields["tokens_in"])
                        fields["tokens_out"] = usage.get("output_tokens", fields["tokens_out"])
            fields["answer"] = "".join(text)
        except TimeoutError:
            fields.update(status="timeout", error="no answer within the timeout")
        except Exception as exc:
            err = classify_error(exc)
            fields.update(status="error", error=f"{err.code}: {err.message}")
        fields["latency_ms"] = (time.perf_counter() - started) * 1000
        fields["cost_usd"] = self.prices.cost(variant, fields["tokens_in"], fields["tokens_out"])
        return fields, chunks


def _same_retrieval(
    run_id: str, stored: dict[str, Any] | None, given: RagRequest | None
) -> RagRequest | None:
    """A resumed batch run retrieves as it did: its stored retrieval when none is given; a
    different one is refused (its answers would be scored against other contexts)."""
    kept = None if stored is None else RagRequest.model_validate(stored)
    if given is None or given == kept:
        return kept
    was = f"from collection {kept.collection!r}" if kept else "without retrieval"
    raise Conflict(
        f"eval run {run_id} was started {was}; it cannot be resumed with other retrieval",
        hint="Resume it without --collection (it retrieves as it did), or start a new run.",
    )


class _Writer:
    """Writes finished items in batches, one transaction at a time: per-item commits
    would make the database the bottleneck of a highly concurrent run."""

    def __init__(self, store: Any, run_id: str) -> None:
        self._store, self._run_id = store, run_id
        self._lock = asyncio.Lock()

    async def flush(self, pending: list[dict[str, Any]], *, wait: bool = False) -> None:
        if self._lock.locked() and not wait:
            return  # a write is under way; it or the next one takes these items
        async with self._lock:
            while pending:
                batch = pending[:]
                write = asyncio.ensure_future(
                    asyncio.to_thread(eval_runs.save_items, self._store, self._run_id, batch)
                )
                try:
                    await asyncio.shield(write)
                except asyncio.CancelledError:
                    # The write goes on in its thread: let it end before the lock is let go,
                    # and drop what it wrote, so the final flush does not write it again.
                    with contextlib.suppress(Exception):
                        await write
                    if write.done() and not write.cancelled() and write.exception() is None:
                        del pending[: len(batch)]
                    raise
                del pending[: len(batch)]  # only once written: a failed write loses nothing
