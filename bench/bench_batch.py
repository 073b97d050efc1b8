"""Batch runs: throughput of `arbiter eval run` (the same code) at concurrency 16 against a
fake OpenAI-compatible model with a fixed latency, ÷ the ideal (examples / 16 x latency).
Goal ≥ 0.9. Answers are scored (BLEU, ROUGE-L) and stored in SQLite as in a real run.
With `--backend bedrock-batch`: the run on Bedrock batch inference jobs instead."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench import bench_batch_jobs
from bench._report import header, line, verdict
from evals.datasets import load_dataset
from service.app import build_runtime, configure_logging
from service.config import Settings
from service.store import eval_runs
from tests.support.processes import fake_openai_process, openai_variants_toml

EXAMPLES = int(os.environ.get("BENCH_BATCH_EXAMPLES", "320"))
CONCURRENCY = 16
LATENCY_S = 0.25


def main() -> None:
    """`--backend bedrock-batch`: the run on Bedrock batch inference (bench_batch_jobs)."""
    args = sys.argv[1:]
    backend = args[args.index("--backend") + 1] if "--backend" in args[:-1] else "online"
    if backend == "bedrock-batch":
        bench_batch_jobs.main()
        return
    online()


def online() -> None:
    header(f"Batch run: throughput at concurrency {CONCURRENCY} vs the ideal")
    configure_logging("warning")
    # The fake model runs in its own process, so it does not share this one's GIL.
    with fake_openai_process(4, LATENCY_S) as base_url, tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "v.toml").write_text(openai_variants_toml(base_url, ("a",)))
        data = Path(tmp, "d.jsonl")
        data.write_text(
            "".join(
                json.dumps({"id": i, "prompt": f"Q{i}?", "reference": "Paris is the capital."})
                + "\n"
                for i in range(EXAMPLES)
            )
        )
        runtime = build_runtime(
            Settings(home=Path(tmp), variants_file=Path(tmp, "v.toml"), rag_sample_corpus=False)
        )
        dataset = load_dataset(data)

        async def raw() -> float:
            """The baseline: the same model called directly, same concurrency, no scoring
            or storing."""
            model = runtime.catalog.model(runtime.catalog.get("a"))
            gate = asyncio.Semaphore(CONCURRENCY)

            async def one() -> None:
                async with gate:
                    async for _ in model.astream("hi"):
                        pass

            t0 = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(EXAMPLES)))
            return time.perf_counter() - t0

        try:
            raw_elapsed = asyncio.run(raw())
            started = time.perf_counter()
            run_id = asyncio.run(
                runtime.evals.run(dataset, ["a"], ["bleu", "rouge_l"], concurrency=CONCURRENCY)
            )
            elapsed = time.perf_counter() - started
            stored = len(eval_runs.items(runtime.store, run_id))
        finally:
            runtime.close()
    ideal = EXAMPLES / CONCURRENCY * LATENCY_S
    line("examples x variants", f"{EXAMPLES} x 1, model latency {LATENCY_S * 1000:.0f} ms")
    line("stored items", f"{stored}")
    line("elapsed", f"{elapsed:.2f} s ({EXAMPLES / elapsed:,.1f} answers/s)")
    line(
        "ideal (examples / concurrency x latency)",
        f"{ideal:.2f} s ({EXAMPLES / ideal:,.1f} answers/s)",
    )
    line("baseline: direct model calls, same concurrency", f"{raw_elapsed:.2f} s")
    line("batch run ÷ direct calls (throughput)", f"{raw_elapsed / elapsed:.3f}")
    ratio = ideal / elapsed
    line("achieved ÷ ideal", f"{ratio:.3f}")
    verdict(ratio >= 0.9 and stored == EXAMPLES, "achieved >= 0.9 x ideal, every answer stored")


if __name__ == "__main__":
    main()
