"""Batch runs on Bedrock batch inference (`python -m bench batch --backend bedrock-batch`):
10,000 examples written to S3 as JSONL, one model invocation job on the fake Bedrock
(moto's S3, both in their own process) taking a scripted time, its output read back,
matched by recordId, scored (BLEU, ROUGE-L) and stored in SQLite as a real run does.

The baseline is the job itself: its duration as the service reports it (submitTime ->
endTime). Arbiter's own share is the rest of the wall time (writing the input, submitting,
noticing the end — at most one poll interval —, reading, scoring, storing). Goal: that
share ≤ 10% of the total, every answer stored, memory flat: RSS growth over the 10,000-
example run, measured after a 200-example warm-up run (a 1 s Nova job) has loaded what any
run loads (metrics, clients). The machine is shared, so Arbiter's CPU time (user + system
of this process) is printed next to its wall-clock share.

`BENCH_BATCH_RAG=hybrid|vector|lexical`: the run retrieves each example's context from the
bundled sample corpus first (top 4), as a run with `--collection` does; that retrieval is
part of Arbiter's share."""

from __future__ import annotations

import asyncio
import os
import resource
import tempfile
import time
from pathlib import Path

import boto3

from bench._report import header, line, verdict
from evals.datasets import load_dataset
from service.app import build_runtime, configure_logging
from service.config import Settings
from service.documents import SAMPLE_COLLECTION, ingest_sample_corpus
from service.schemas import RagRequest
from service.store import eval_batch_jobs, eval_runs
from tests.support.batch_jobs import BUCKET, batch_settings, write_dataset
from tests.support.processes import fake_bedrock_batch_process

EXAMPLES = int(os.environ.get("BENCH_BATCH_EXAMPLES_JOBS", "10000"))
JOB_S = float(os.environ.get("BENCH_BATCH_JOB_S", "120"))
POLL_S = 1.0
RAG_MODE = os.environ.get("BENCH_BATCH_RAG", "")


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mib() -> float:
    with open("/proc/self/status") as f:
        for row in f:
            if row.startswith("VmHWM:"):
                return int(row.split()[1]) / 1024
    return float("nan")


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    header(f"Batch run on Bedrock batch inference: {EXAMPLES:,} examples, Arbiter's share")
    configure_logging("warning")
    with (
        fake_bedrock_batch_process(JOB_S) as (fake_url, moto_url),
        tempfile.TemporaryDirectory() as tmp,
    ):
        os.environ["AWS_ENDPOINT_URL_S3"] = moto_url
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            os.environ.setdefault(key, "testing")
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        boto3.client("s3", endpoint_url=moto_url).create_bucket(Bucket=BUCKET)
        home = Path(tmp)
        settings = Settings(
            **batch_settings(home, fake_url, batch_poll_s=POLL_S, bedrock_batch_min_records=100)
        )
        runtime = build_runtime(settings)
        rag = None
        if RAG_MODE:
            ingest_sample_corpus(runtime.library)
            rag = RagRequest.model_validate({"collection": SAMPLE_COLLECTION, "mode": RAG_MODE})
        dataset = load_dataset(write_dataset(home / "qa.jsonl", EXAMPLES))
        warm = load_dataset(write_dataset(home / "warm.jsonl", 200))
        try:
            asyncio.run(
                runtime.evals.run(warm, ["nova"], ["bleu", "rouge_l"], backend="bedrock-batch")
            )
            rss_before = _rss_mib()
            cpu_before = _cpu_s()
            started = time.perf_counter()
            run_id = asyncio.run(
                runtime.evals.run(
                    dataset, ["claude"], ["bleu", "rouge_l"], backend="bedrock-batch", rag=rag
                )
            )
            total = time.perf_counter() - started
            cpu = _cpu_s() - cpu_before
            stored = len(eval_runs.items(runtime.store, run_id))
            (job,) = eval_batch_jobs.jobs_of_run(runtime.store, run_id)
            assert job.job_arn is not None
            reported = boto3.client("bedrock", endpoint_url=fake_url).get_model_invocation_job(
                jobIdentifier=job.job_arn
            )
            job_s = (reported["endTime"] - reported["submitTime"]).total_seconds()
        finally:
            runtime.close()
    rss_after = _rss_mib()
    share = total - job_s
    line(
        "examples x variants", f"{EXAMPLES:,} x 1 (anthropic claude body), poll every {POLL_S:g} s"
    )
    line("retrieval", f"{RAG_MODE}, top 4, sample corpus" if RAG_MODE else "none")
    line("stored items", f"{stored:,}")
    line("baseline: the job (submitTime -> endTime)", f"{job_s:.2f} s (scripted {JOB_S:g} s)")
    line("total wall time", f"{total:.2f} s")
    line("Arbiter's share (total - job)", f"{share:.2f} s = {share / total:.1%} of the total")
    line("Arbiter's CPU time (user + system)", f"{cpu:.2f} s = {cpu / total:.1%} of the total")
    line("total ÷ job (ratio vs baseline)", f"{total / job_s:.3f}")
    line("load average (1 min) at the end", f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    line(
        "RSS after warm-up / after / growth",
        f"{rss_before:.0f} / {rss_after:.0f} / {rss_after - rss_before:+.0f} MiB",
    )
    line("peak RSS of the process", f"{_peak_mib():.0f} MiB")
    verdict(
        share / total <= 0.10 and stored == EXAMPLES,
        "Arbiter's wall-clock share <= 10% of the total, every answer stored",
    )
    verdict(cpu / total <= 0.10, "Arbiter's CPU time <= 10% of the total (a shared machine)")


if __name__ == "__main__":
    main()
