"""Comparison overhead: time to first token through Arbiter's SSE API vs calling the same
fake streaming provider (OpenAI-compatible SSE on 127.0.0.1) directly. Goal: < 5 ms added at
p50, < 15 ms at p99. Both paths are measured alternately in the same run."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import httpx

from bench._report import header, line, percentile, verdict
from tests.support.processes import arbiter_process, fake_openai_process, openai_variants_toml

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "200"))


def direct_ttft(client: httpx.Client, base_url: str) -> float:
    started = time.perf_counter()
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    ttft = None
    with client.stream("POST", base_url + "/chat/completions", json=body) as r:
        for raw in r.iter_lines():
            if ttft is None and raw.startswith("data:") and '"content"' in raw:
                ttft = time.perf_counter() - started
    if ttft is None:
        raise RuntimeError("no token")
    return ttft


def arbiter_ttft(client: httpx.Client, url: str) -> float:
    started = time.perf_counter()
    ttft = None
    with client.stream(
        "POST", url + "/api/compare/stream", json={"prompt": "hi", "variants": ["a", "b"]}
    ) as r:
        event = ""
        for raw in r.iter_lines():
            if raw.startswith("event:"):
                event = raw[6:].strip()
            elif raw.startswith("data:") and event == "token" and ttft is None:
                ttft = time.perf_counter() - started
    if ttft is None:
        raise RuntimeError("no token")
    return ttft


def main() -> dict[str, float]:
    header("Comparison overhead: TTFT through the API vs the provider directly")
    # The fake provider runs in its own process, so neither the client nor Arbiter shares
    # an interpreter lock with it.
    with fake_openai_process(tokens=20) as base_url, tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "arbiter.toml").write_text(openai_variants_toml(base_url))
        with arbiter_process(Path(tmp)) as url, httpx.Client(timeout=30) as client:
            for _ in range(10):  # warm up both paths
                direct_ttft(client, base_url)
                arbiter_ttft(client, url)
            direct, through = [], []
            for _ in range(ROUNDS):
                direct.append(direct_ttft(client, base_url) * 1000)
                through.append(arbiter_ttft(client, url) * 1000)
    d50, d99 = percentile(direct, 0.5), percentile(direct, 0.99)
    a50, a99 = percentile(through, 0.5), percentile(through, 0.99)
    line("rounds", str(ROUNDS))
    line("direct TTFT p50 / p99 (ms)", f"{d50:.2f} / {d99:.2f}")
    line("through Arbiter TTFT p50 / p99 (ms)", f"{a50:.2f} / {a99:.2f}")
    line("added p50 / p99 (ms)", f"{a50 - d50:.2f} / {a99 - d99:.2f}")
    line("ratio p50 (Arbiter / direct)", f"{a50 / d50:.2f}x")
    verdict(a50 - d50 < 5 and a99 - d99 < 15, "< 5 ms added at p50 and < 15 ms at p99")
    return {"added_p50_ms": a50 - d50, "added_p99_ms": a99 - d99}


if __name__ == "__main__":
    print(json.dumps(main()))
