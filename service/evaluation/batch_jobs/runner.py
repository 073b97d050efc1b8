"""Eval runs on a batch backend: the run's requests go to S3 as JSONL, one provider job per
variant (several when the service's maximum per job is exceeded), the jobs are polled
until they end, and their outputs are matched back to the examples, scored and stored
exactly as an online run's answers are (same items, same report, same gate).

Every job is stored before it is submitted and given its ARN as soon as it has one:
`--resume RUN_ID` after a restart re-attaches to jobs under way instead of submitting them
again, and submits only what no job covers and no stored answer has.

With retrieval, each example's context is retrieved here once (shared by the variants that
use context), rendered into its record with the variant's template as an online run does,
and stored with the job: the records of a job submitted after a restart are the same, and
each answer is scored against (and stored with) the context its model was given."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog

from evals.base import Metric
from evals.datasets import Dataset, Example
from evals.judges import RubricJudge
from monitoring.records import Record, ScoreRecord
from rag import RetrievedChunk, render
from service.errors import ArbiterError, ErrorCode, InvalidRequest
from service.evaluation.batch_jobs.backend import (
    BEDROCK_BATCH,
    Backend,
    JobStatus,
    OutputTally,
    RecordResult,
    chunk_sizes,
    job_name,
)
from service.evaluation.batch_jobs.s3 import S3Uri
from service.evaluation.items import Progress, score_item
from service.models import PriceTable, Variant, classify_error
from service.store import Store, eval_batch_jobs, eval_runs

log = structlog.get_logger(__name__)

SAVE_EVERY = 500  # answers written per transaction while a job's outputs are collected
RETRIEVALS_IN_FLIGHT = 8  # examples' contexts retrieved at once before jobs are planned

Retriever = Callable[[Example], Awaitable[list[RetrievedChunk]]]
Chunks = list[dict[str, Any]]  # RetrievedChunk.to_dict() each, as stored


class BatchJobFailed(ArbiterError):
    code = ErrorCode.BATCH_JOB_FAILED
    http_status = 502


@dataclass(frozen=True)
class Plan:
    """What a run needs, checked before anything is stored or submitted."""

    metrics: list[Metric]
    variants: list[Variant]
    judge: RubricJudge | None
    retrieve: Retriever | None = None  # the run's retrieval; None: records carry the prompt

    def uses_context(self, variant: Variant) -> bool:
        return self.retrieve is not None and variant.rag.use_context


class BatchJobRunner:
    def __init__(
        self,
        store: Store,
        prices: PriceTable,
        emit: Callable[[Record], None],
        backends: dict[str, Backend],
        *,
        s3_uri: str | None,
        poll_s: float,
    ) -> None:
        self.store = store
        self.prices = prices
        self.emit = emit
        self.backends = backends
        self.s3_uri = s3_uri
        self.poll_s = poll_s

    def backend(self, name: str) -> Backend:
        if name not in self.backends:
            raise InvalidRequest(
                f"unknown backend {name!r}",
                hint=f"Use online, {', '.join(sorted(self.backends))}.",
                code=ErrorCode.UNSUPPORTED_BACKEND,
            )
        return self.backends[name]

    def check(self, backend: str, variants: list[Variant], examples: int | None = None) -> None:
        """Refuse at once what cannot run: an unconfigured location, a variant the backend
        cannot serve, a dataset below the service's minimum records per job."""
        chosen = self.backend(backend)
        if not self.s3_uri:
            raise InvalidRequest(
                f"--backend {backend} needs an S3 location: ARBITER_BATCH_S3_URI is not set",
                hint="Set it to s3://bucket/prefix (a bucket in the models' region).",
                code=ErrorCode.BATCH_NOT_CONFIGURED,
            )
        S3Uri.parse(self.s3_uri)
        for variant in variants:
            chosen.check(variant)
        if examples is not None:
            self._check_sizes(chosen, {v.name: list(range(examples)) for v in variants}, None)

    async def run(
        self,
        run_id: str,
        dataset: Dataset,
        plan: Plan,
        backend_name: str,
        *,
        on_progress: Callable[[Progress], None] | None = None,
        language: str | None = None,
    ) -> None:
        """Fill the stored run `run_id` through its batch jobs; returns when every job has
        ended and its outputs are stored. A failed or stopped job fails the run with the
        service's reason (what it answered is stored)."""
        try:
            await self._run(run_id, dataset, plan, backend_name, on_progress, language)
        except asyncio.CancelledError:
            raise  # interrupted: the jobs go on, `--resume` re-attaches
        except Exception as exc:
            message = exc.message if isinstance(exc, ArbiterError) else f"{exc}"
            await asyncio.to_thread(eval_runs.finish_run, self.store, run_id, "failed", message)
            raise

    async def _run(
        self,
        run_id: str,
        dataset: Dataset,
        plan: Plan,
        backend_name: str,
        on_progress: Callable[[Progress], None] | None,
        language: str | None,
    ) -> None:
        backend = self.backend(backend_name)
        store = self.store
        by_name = {v.name: v for v in plan.variants}
        examples = dataset.examples
        total = len(examples) * len(plan.variants)
        done = await asyncio.to_thread(eval_runs.finished_keys, store, run_id)
        jobs = await asyncio.to_thread(eval_batch_jobs.jobs_of_run, store, run_id)
        covered = {(j.variant, i) for j in jobs if not j.collected for i in j.examples}
        todo = {
            v.name: [
                i
                for i, e in enumerate(examples)
                if (e.id, v.name) not in done and (v.name, i) not in covered
            ]
            for v in plan.variants
        }
        self._check_sizes(backend, todo, run_id)
        state = _Counts(total=total, stored=len(done), skipped=len(done))
        contexts = await self._retrieve(plan, dataset, todo, run_id, state, language)
        if state.errors:  # examples whose retrieval failed are stored as errors, not sent
            self._check_sizes(backend, todo, run_id)

        def progress(note: str) -> None:
            if on_progress is not None:
                on_progress(
                    Progress(
                        min(state.stored + state.processing, total),
                        total,
                        state.skipped,
                        state.errors,
                        note,
                    )
                )

        progress("submitting")
        numbered = len(jobs)
        for name, indexes in todo.items():
            for size in chunk_sizes(len(indexes), backend.max_records):
                chunk, indexes = indexes[:size], indexes[size:]
                numbered += 1
                chunks = [contexts[i] for i in chunk] if plan.uses_context(by_name[name]) else None
                jobs.append(
                    await asyncio.to_thread(
                        self._plan_job, backend, run_id, by_name[name], chunk, chunks, numbered
                    )
                )
        pending: dict[str, tuple[eval_batch_jobs.BatchJob, str]] = {}
        for job in jobs:
            if job.collected:
                continue
            if job.job_arn is not None:  # submitted before: re-attach
                pending[job.id] = (job, job.job_arn)
            else:
                pending[job.id] = (
                    job,
                    await asyncio.to_thread(
                        self._submit, backend, by_name[job.variant], job, dataset
                    ),
                )

        failures: list[str] = []
        processed: dict[str, int] = {}
        while pending:
            statuses: dict[str, JobStatus] = {}
            for job_id, (job, arn) in list(pending.items()):
                st = await asyncio.to_thread(backend.status, by_name[job.variant], arn)
                statuses[job_id] = st
                if st.status != job.status:
                    await asyncio.to_thread(
                        eval_batch_jobs.set_status, store, job.id, st.status, st.message
                    )
                    pending[job_id] = (_with_status(job, st), arn)
                processed[job_id] = min(st.processed or 0, len(job.examples))
            state.processing = sum(processed.values())
            progress(_note(statuses))
            for job_id, st in statuses.items():
                if not st.terminal:
                    continue
                job, arn = pending.pop(job_id)
                processed.pop(job_id, None)
                state.processing = sum(processed.values())
                await asyncio.to_thread(
                    self._collect,
                    backend,
                    plan,
                    by_name[job.variant],
                    job,
                    arn,
                    st,
                    dataset,
                    state,
                    progress,
                    language,
                )
                if not st.succeeded:
                    failures.append(
                        f"{backend.name} job {job.job_name} ({arn}) ended {st.status}: "
                        f"{st.message or 'the service gave no reason'}"
                    )
            if pending:
                await asyncio.sleep(self.poll_s)
        progress("done")
        if failures:
            raise BatchJobFailed(
                "; ".join(failures),
                hint="What the jobs answered is stored; the rest is recorded as errors. Fix "
                f"the cause, then `arbiter eval run DATASET --backend {backend.name} --resume "
                f"{run_id}` submits the missing answers again.",
            )
        await asyncio.to_thread(eval_runs.finish_run, store, run_id)

    def _check_sizes(
        self, backend: Backend, todo: dict[str, list[int]], run_id: str | None
    ) -> None:
        for variant, indexes in todo.items():
            if indexes and len(indexes) < backend.min_records:
                raise InvalidRequest(
                    f"{backend.name} takes at least {backend.min_records} records per job; "
                    f"variant {variant!r} has {len(indexes)} examples left to answer",
                    hint=(
                        "Use --backend online for small datasets"
                        + (
                            ", or lower ARBITER_BEDROCK_BATCH_MIN_RECORDS if your account's "
                            "quota is lower"
                            if backend.name == BEDROCK_BATCH
                            else ""
                        )
                        + (
                            f" (`--resume {run_id} --backend online` finishes this run)."
                            if run_id
                            else "."
                        )
                    ),
                    code=ErrorCode.TOO_FEW_RECORDS,
                )

    async def _retrieve(
        self,
        plan: Plan,
        dataset: Dataset,
        todo: dict[str, list[int]],
        run_id: str,
        state: _Counts,
        language: str | None,
    ) -> dict[int, Chunks]:
        """The context of every example some job is about to send to a variant that uses
        context, retrieved once per example. An example whose retrieval fails is taken out
        of `todo` and stored as an error for those variants (as an online run stores it;
        `--resume` tries it again)."""
        retrieve = plan.retrieve
        wanted = sorted({i for v in plan.variants if plan.uses_context(v) for i in todo[v.name]})
        if retrieve is None or not wanted:
            return {}
        gate = asyncio.Semaphore(RETRIEVALS_IN_FLIGHT)
        examples = dataset.examples

        async def one(index: int) -> Chunks | str:
            async with gate:
                try:
                    return [c.to_dict() for c in await retrieve(examples[index])]
                except Exception as exc:
                    err = classify_error(exc)
                    return f"{err.code}: {err.message}"

        found = dict(zip(wanted, await asyncio.gather(*(one(i) for i in wanted)), strict=True))
        failed = {i: why for i, why in found.items() if isinstance(why, str)}
        if failed:
            errors = []
            for variant in plan.variants:
                if not plan.uses_context(variant):
                    continue
                errors += [
                    self._item(
                        plan,
                        variant,
                        "",
                        examples[i],
                        RecordResult(i, None, failed[i]),
                        language,
                        None,
                    )
                    for i in todo[variant.name]
                    if i in failed
                ]
                todo[variant.name] = [i for i in todo[variant.name] if i not in failed]
            await asyncio.to_thread(eval_runs.save_items, self.store, run_id, errors)
            state.stored += len(errors)
            state.errors += len(errors)
            log.warning("eval.batch_retrieval_failed", run=run_id, examples=len(failed))
        return {i: chunks for i, chunks in found.items() if not isinstance(chunks, str)}

    def _plan_job(
        self,
        backend: Backend,
        run_id: str,
        variant: Variant,
        chunk: list[int],
        contexts: list[Chunks] | None,
        number: int,
    ) -> eval_batch_jobs.BatchJob:
        assert self.s3_uri is not None
        name = job_name(run_id, variant.name, number)
        root = S3Uri.parse(self.s3_uri).folder().join(run_id, name)
        return eval_batch_jobs.add_job(
            self.store,
            run_id=run_id,
            variant=variant.name,
            backend=backend.name,
            job_name=name,
            input_uri=str(root.join("input", "records.jsonl")),
            output_uri=str(root.join("output").folder()),
            examples=chunk,
            contexts=contexts,
        )

    def _submit(
        self, backend: Backend, variant: Variant, job: eval_batch_jobs.BatchJob, dataset: Dataset
    ) -> str:
        """Submit a stored job, unless it was submitted before a crash (found by name). Its
        records are built from what is stored with it: the same after a restart."""
        arn = backend.find(variant, job)
        if arn is None:
            examples = dataset.examples
            contexts = _contexts(job)
            lines = (
                backend.input_line(
                    variant,
                    i,
                    variant.system_prompt,
                    examples[i].prompt
                    if contexts is None
                    else render(variant.rag.template, examples[i].prompt, contexts[i]),
                )
                for i in job.examples
            )
            files = backend.files(variant)
            files.put_lines(S3Uri.parse(job.input_uri), lines)
            arn = backend.submit(variant, job)
            log.info(
                "eval.batch_job_submitted", job=job.job_name, arn=arn, records=len(job.examples)
            )
        eval_batch_jobs.set_arn(self.store, job.id, arn, "Submitted")
        return arn

    def _collect(
        self,
        backend: Backend,
        plan: Plan,
        variant: Variant,
        job: eval_batch_jobs.BatchJob,
        arn: str,
        st: JobStatus,
        dataset: Dataset,
        state: _Counts,
        progress: Callable[[str], None],
        language: str | None,
    ) -> None:
        """Match the job's output records to its examples; score and store each answer;
        a request without an output record is stored as an error saying why."""
        examples = dataset.examples
        contexts = _contexts(job)
        tally = OutputTally()
        seen: set[int] = set()
        batch: list[dict[str, Any]] = []

        def flush() -> None:
            eval_runs.save_items(self.store, job.run_id, batch)
            state.stored += len(batch)
            state.errors += sum(f["status"] != "ok" for f in batch)
            batch.clear()
            progress(f"storing {job.job_name}")

        started = time.perf_counter()
        for result in backend.results(variant, job, arn, tally):
            if result.index in seen:
                tally.malformed += 1  # a second record for one request: the first counts
                continue
            seen.add(result.index)
            batch.append(
                self._item(
                    plan,
                    variant,
                    backend.name,
                    examples[result.index],
                    result,
                    language,
                    None if contexts is None else contexts[result.index],
                )
            )
            if len(batch) >= SAVE_EVERY:
                flush()
        why = f"the {backend.name} job ended {st.status}" + (
            f": {st.message}" if st.message else ""
        )
        if tally.malformed:
            why += f" ({tally.malformed} output lines could not be read)"
        for index in job.examples:
            if index not in seen:
                missing = RecordResult(index, None, f"no output record for this request; {why}")
                batch.append(
                    self._item(
                        plan,
                        variant,
                        backend.name,
                        examples[index],
                        missing,
                        language,
                        None if contexts is None else contexts[index],
                    )
                )
                if len(batch) >= SAVE_EVERY:
                    flush()
        flush()
        eval_batch_jobs.mark_collected(self.store, job.id, st.status, st.message)
        log.info(
            "eval.batch_job_collected",
            job=job.job_name,
            status=st.status,
            answers=len(seen),
            missing=len(job.examples) - len(seen),
            malformed=tally.malformed,
            seconds=round(time.perf_counter() - started, 3),
        )

    def _item(
        self,
        plan: Plan,
        variant: Variant,
        backend: str,
        example: Any,
        result: RecordResult,
        language: str | None,
        chunks: list[RetrievedChunk] | None,
    ) -> dict[str, Any]:
        """`backend`: the one that answered (cost at its price); `chunks`: the context the
        record carried (None: the bare prompt)."""
        reply = result.reply
        ok = reply is not None and result.error is None
        tokens_in = reply.tokens_in if reply else None
        tokens_out = reply.tokens_out if reply else None
        cost = (
            self.prices.batch_cost(variant, tokens_in, tokens_out)
            if backend == BEDROCK_BATCH
            else self.prices.cost(variant, tokens_in, tokens_out)
        )
        fields: dict[str, Any] = {
            "example_id": example.id,
            "variant": variant.name,
            "prompt": example.prompt,
            "reference": example.reference,
            "answer": reply.text if reply else "",
            "status": "ok" if ok else "error",
            "error": None if ok else result.error,
            # A batch job has no per-request timing: left unmeasured, not made up.
            "latency_ms": None,
            "ttft_ms": None,
            "tokens_in": tokens_in,
            "tokens_out": tokens_out,
            "cost_usd": cost,
            "contexts": None if chunks is None else [c.to_dict() for c in chunks],
        }
        fields["scores"] = score_item(plan.metrics, plan.judge, example, fields, chunks, language)
        # Scores go to telemetry as an online run's do; no ModelCall record: a batch job
        # gives no per-call latency, and a made-up one would skew the latency panels.
        for score in fields["scores"]:
            self.emit(ScoreRecord(score["metric"], variant.name, score["value"], source="batch"))
        return fields


@dataclass
class _Counts:
    total: int
    stored: int
    skipped: int
    errors: int = 0
    processing: int = 0  # processed by jobs under way, not stored yet


def _contexts(job: eval_batch_jobs.BatchJob) -> dict[int, list[RetrievedChunk]] | None:
    """The job's stored contexts by example row, or None: its records carry the prompt."""
    if job.contexts is None:
        return None
    return {
        i: [RetrievedChunk(**c) for c in chunks]
        for i, chunks in zip(job.examples, job.contexts, strict=True)
    }


def _with_status(job: eval_batch_jobs.BatchJob, st: JobStatus) -> eval_batch_jobs.BatchJob:
    return eval_batch_jobs.BatchJob(**{**job.__dict__, "status": st.status, "message": st.message})


def _note(statuses: dict[str, JobStatus]) -> str:
    counts: dict[str, int] = {}
    for st in statuses.values():
        counts[st.status] = counts.get(st.status, 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
