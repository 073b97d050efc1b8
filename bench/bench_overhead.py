"""Comparison overhead: time to first token through Arbiter's SSE API vs calling the same
fake streaming provider (OpenAI-compatible SSE on 127.0.0.1) directly. Goal: < 5 ms added at
p50, < 15 ms at p99. Both paths are measured alternately in the same run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench._report import header, line, percentile, verdict

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "200"))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    fake = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes", "openai", "20"], stdout=subprocess.PIPE, text=True
    )
    assert fake.stdout is not None
    base_url = fake.stdout.readline().strip()
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "arbiter.toml").write_text(
            "".join(
                f'[[variants]]\nname = "{n}"\n[variants.model]\nprovider = "openai"\nbase_url = "{base_url}"\nmodel = "m"\n'
                for n in ("a", "b")
            )
        )
        port = _free_port()
        env = {
            **os.environ,
            "ARBITER_HOME": tmp,
            "ARBITER_PORT": str(port),
            "ARBITER_LOG_LEVEL": "warning",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "service", "serve"],
            cwd=tmp,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(timeout=30) as client:
                for _ in range(200):
                    try:
                        if client.get(url + "/healthz").status_code == 200:
                            break
                    except httpx.TransportError:
                        time.sleep(0.1)
                for _ in range(10):  # warm up both paths
                    direct_ttft(client, base_url)
                    arbiter_ttft(client, url)
                direct, through = [], []
                for _ in range(ROUNDS):
                    direct.append(direct_ttft(client, base_url) * 1000)
                    through.append(arbiter_ttft(client, url) * 1000)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            fake.terminate()
            fake.wait(timeout=10)
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
