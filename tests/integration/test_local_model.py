"""The bundled SmolLM2 GGUF through llama-cpp-python: a real generation, no network."""

from __future__ import annotations

import asyncio
import time

import pytest

from service.errors import ModelNotFound
from service.models.providers import build_chat_model, probe_model
from service.models.providers.local import bundled_gguf_path
from service.models.variants import LocalModel, Variant

pytestmark = pytest.mark.slow


def test_bundled_model_is_found_without_network() -> None:
    path = bundled_gguf_path()
    assert path.suffix == ".gguf" and path.stat().st_size > 50 * 2**20


def test_real_generation_streams_tokens_and_counts_them() -> None:
    model = build_chat_model(Variant(name="local", model=LocalModel()))
    system = "You are a concise assistant. Answer in at most three sentences."

    async def go():  # type: ignore[no-untyped-def]
        return [
            c
            async for c in model.astream(
                [("system", system), ("human", "What is the capital of France?")],
                temperature=0.0,
                max_tokens=24,
            )
        ]

    chunks = asyncio.run(go())
    text = "".join(c.text for c in chunks)
    assert "Paris" in text
    # Greedy decoding is deterministic: the same request gives the same answer.
    assert "".join(c.text for c in asyncio.run(go())) == text
    usage = next(c.usage_metadata for c in chunks if c.usage_metadata)
    assert 10 < usage["input_tokens"] < 60
    assert 1 <= usage["output_tokens"] <= 24
    assert sum(1 for c in chunks if c.text) == usage["output_tokens"]


def test_abandoned_stream_stops_generating() -> None:
    model = build_chat_model(Variant(name="local", model=LocalModel()))

    async def go() -> float:
        async for _ in model.astream(
            "Write a very long story about a dragon.", max_tokens=2000, temperature=0.8
        ):
            break
        started = time.perf_counter()
        # The lock is released once the worker notices the cancel: a second call can run.
        async for _ in model.astream("Hi", max_tokens=1):
            break
        return time.perf_counter() - started

    assert asyncio.run(go()) < 5.0


def test_missing_gguf_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    variant = Variant(name="gone", model=LocalModel(path=str(tmp_path / "missing.gguf")))
    with pytest.raises(ModelNotFound) as exc:
        build_chat_model(variant)
    assert "does not exist" in exc.value.message and "model.path" in exc.value.hint
    assert not probe_model(variant).ok


def test_concurrent_loads_do_not_silence_the_process(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """llama-cpp-python swaps stdout for /dev/null while loading; overlapping loads in several
    threads must not leave the process's output swapped (the CLI table and server logs would
    vanish: seen with two local panes)."""
    import subprocess
    import sys

    script = (
        "import threading, llama_cpp\n"
        "from service.models.providers import build_chat_model\n"
        "from service.models.variants import LocalModel, Variant\n"
        "for round in range(3):\n"
        "    models = [build_chat_model(Variant(name=f'v{i}', model=LocalModel())) for i in range(4)]\n"
        "    gate = threading.Barrier(4)\n"
        "    def load(m):\n"
        "        gate.wait()\n"
        "        m.warm_up()\n"
        "    threads = [threading.Thread(target=load, args=(m,)) for m in models]\n"
        "    [t.start() for t in threads]; [t.join() for t in threads]\n"
        "    print(f'visible-{round}', flush=True)\n"
    )
    out = tmp_path / "out.txt"
    with out.open("w") as f:
        subprocess.run(
            [sys.executable, "-c", script],
            stdout=f,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=120,
        )
    assert out.read_text().split() == ["visible-0", "visible-1", "visible-2"]
