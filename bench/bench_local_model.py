"""Local model: tokens/s through Arbiter's engine ÷ raw llama-cpp-python, same GGUF, prompt,
greedy decoding and thread count. Goal ≥ 0.95. The two are run alternately in one process."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time

from bench._report import header, line, median, verdict
from service.app import configure_logging
from service.models.catalog import Catalog
from service.models.pricing import PriceTable
from service.models.providers.local import bundled_gguf_path
from service.models.variants import LocalModel, Variant
from service.schemas import CompareRequest, GenerationParams
from service.serving import CompareEngine
from service.store import Store

ROUNDS = int(os.environ.get("BENCH_LOCAL_ROUNDS", "3"))
MAX_TOKENS = 128
SYSTEM = "You are a friendly, thorough assistant."
PROMPT = "Write a long story about a robot who learns to paint."


def raw_tokens_per_s(llama) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    n = 0
    for event in llama.create_chat_completion(
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}],
        stream=True,
        temperature=0.0,
        max_tokens=MAX_TOKENS,
    ):
        if event["choices"][0]["delta"].get("content"):
            n += 1
    return n / (time.perf_counter() - started), n


async def arbiter_tokens_per_s(engine: CompareEngine) -> tuple[float, int]:
    started = time.perf_counter()
    tokens = 0
    async for event in engine.run(CompareRequest(prompt=PROMPT, variants=["local"])):
        if event.kind == "answer":
            assert event.data["status"] == "ok", event.data
            tokens = event.data["tokens_out"]
    return tokens / (time.perf_counter() - started), tokens


def main() -> dict[str, float]:
    from llama_cpp import Llama

    header("Local model: tokens/s through Arbiter vs raw llama-cpp-python")
    configure_logging("warning")
    path = bundled_gguf_path()
    variant = Variant(
        name="local",
        model=LocalModel(n_threads=1),
        system_prompt=SYSTEM,
        params=GenerationParams(temperature=0.0, max_tokens=MAX_TOKENS),
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/bench.db")
        store.upgrade()
        engine = CompareEngine(store, Catalog([variant]), PriceTable.load(), min_panes=1)
        raw = Llama(
            model_path=str(path), n_ctx=2048, n_threads=1, n_threads_batch=1, seed=0, verbose=False
        )
        raw_tokens_per_s(raw)  # warm up
        asyncio.run(arbiter_tokens_per_s(engine))  # warm up: loads the model
        raws, through, counts = [], [], []
        for _ in range(ROUNDS):
            r, n_raw = raw_tokens_per_s(raw)
            a, n_arb = asyncio.run(arbiter_tokens_per_s(engine))
            raws.append(r)
            through.append(a)
            counts.append((n_raw, n_arb))
        store.dispose()
    r, a = median(raws), median(through)
    line("rounds, max tokens", f"{ROUNDS}, {MAX_TOKENS}")
    line("tokens generated (raw, Arbiter) per round", str(counts))
    line("raw llama-cpp-python, median (tok/s)", f"{r:.1f}")
    line("through Arbiter, median (tok/s)", f"{a:.1f}")
    line("ratio (Arbiter / raw)", f"{a / r:.3f}")
    verdict(a / r >= 0.95, "ratio ≥ 0.95")
    return {"ratio": a / r, "raw_tok_s": r, "arbiter_tok_s": a}


if __name__ == "__main__":
    print(json.dumps(main()))
