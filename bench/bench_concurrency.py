"""Concurrency: wall time of a 3-pane comparison ÷ the slowest single pane alone.
Goal ≤ 1.1. Panes are OpenAI-compatible models on a fake server with fixed latencies
(first token + per-token delays); each measurement is the median of several rounds."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

from bench._report import header, line, median, verdict
from service.app import build_runtime, configure_logging
from service.config import Settings
from service.schemas import CompareRequest
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.script import Script

ROUNDS = int(os.environ.get("BENCH_CONCURRENCY_ROUNDS", "7"))
LATENCIES = {
    "fast": (0.05, 0.005),
    "medium": (0.10, 0.010),
    "slow": (0.20, 0.015),
}  # (TTFT s, per token s)


async def single(runtime, name: str) -> float:  # type: ignore[no-untyped-def]
    model = runtime.catalog.model(runtime.catalog.get(name))
    started = time.perf_counter()
    async for _ in model.astream("hello"):
        pass
    return time.perf_counter() - started


async def three(runtime) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    async for event in runtime.engine.run(CompareRequest(prompt="hello", variants=list(LATENCIES))):
        if event.kind == "answer":
            assert event.data["status"] == "ok", event.data
    return time.perf_counter() - started


def main() -> dict[str, float]:
    header("Concurrency: 3-pane comparison vs the slowest pane alone")
    configure_logging("warning")
    with FakeOpenAI() as fake, tempfile.TemporaryDirectory() as tmp:
        for name, (ttft, per_token) in LATENCIES.items():
            fake.models[name] = Script(
                tokens=["tok "] * 20, first_token_delay_s=ttft, token_delay_s=per_token
            )
        path = Path(tmp, "variants.toml")
        path.write_text(
            "".join(
                f'[[variants]]\nname = "{n}"\n[variants.model]\nprovider = "openai"\nbase_url = "{fake.base_url}"\nmodel = "{n}"\n'
                for n in LATENCIES
            )
        )
        runtime = build_runtime(Settings(home=Path(tmp), variants_file=path))

        async def measure() -> tuple[list[float], list[float]]:
            await three(runtime)  # warm up clients and connections
            alone, together = [], []
            for _ in range(ROUNDS):
                alone.append(await single(runtime, "slow"))
                together.append(await three(runtime))
            await asyncio.sleep(0.1)
            return alone, together

        alone, together = asyncio.run(measure())
        runtime.close()
    a, t = median(alone), median(together)
    ratio = t / a
    line("rounds", str(ROUNDS))
    line("slowest pane alone, median (ms)", f"{a * 1000:.1f}")
    line("3 panes through the engine, median (ms)", f"{t * 1000:.1f}")
    line("ratio (3 panes / slowest alone)", f"{ratio:.3f}")
    verdict(ratio <= 1.1, "ratio ≤ 1.1")
    return {"ratio": ratio}


if __name__ == "__main__":
    print(json.dumps(main()))
