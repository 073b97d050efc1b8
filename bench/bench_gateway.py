"""The OpenAI-compatible gateway.

1. Overhead: the same non-streamed chat completion sent to the fake provider directly and
   through Arbiter's `/v1/chat/completions` (every call stored, as by default), alternately
   in the same run; p50 and p99 of each and the difference. Goal: < 3 ms added at p50.
2. Capacity: open-loop load at rising rates (requests start on a fixed schedule, whatever
   the answers do) with SQLite and with PostgreSQL; the highest rate whose p99 stays within
   twice the p99 at the lowest rate.

The fake provider answers in its own process; Arbiter runs as `arbiter serve`."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from contextlib import AbstractContextManager
from pathlib import Path

import httpx

from bench._report import header, line, percentile, scratch_postgres, verdict
from tests.support.processes import arbiter_process, fake_openai_process, openai_variants_toml

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "400"))
STEP_S = float(os.environ.get("BENCH_STEP_S", "5"))
RATES = [int(r) for r in os.environ.get("BENCH_RATES", "25,50,100,150,200,300,400").split(",")]
PG_DB = "arbiter_bench_gateway"
MESSAGES = [{"role": "user", "content": "hi"}]
BODY = {"model": "a", "messages": MESSAGES}  # the gateway: variant a, whose model is m
DIRECT = {"model": "m", "messages": MESSAGES}


def _timed(client: httpx.Client, url: str, body: dict[str, object]) -> float:
    started = time.perf_counter()
    r = client.post(url, json=body)
    elapsed = (time.perf_counter() - started) * 1000
    if r.status_code != 200 or not r.json()["choices"][0]["message"]["content"]:
        raise RuntimeError(f"{url}: {r.status_code} {r.text[:200]}")
    return elapsed


def overhead(base_url: str, url: str) -> dict[str, float]:
    with httpx.Client(timeout=30) as client:
        for _ in range(20):  # warm up both paths
            _timed(client, base_url + "/chat/completions", DIRECT)
            _timed(client, url + "/v1/chat/completions", BODY)
        direct, through = [], []
        for _ in range(ROUNDS):
            direct.append(_timed(client, base_url + "/chat/completions", DIRECT))
            through.append(_timed(client, url + "/v1/chat/completions", BODY))
    d50, d99 = percentile(direct, 0.5), percentile(direct, 0.99)
    g50, g99 = percentile(through, 0.5), percentile(through, 0.99)
    line("rounds (alternating)", str(ROUNDS))
    line("direct p50 / p99 (ms)", f"{d50:.2f} / {d99:.2f}")
    line("through the gateway p50 / p99 (ms)", f"{g50:.2f} / {g99:.2f}")
    line("added p50 / p99 (ms)", f"{g50 - d50:.2f} / {g99 - d99:.2f}")
    line("ratio p50 (gateway / direct)", f"{g50 / d50:.2f}x")
    verdict(g50 - d50 < 3, "< 3 ms added at p50")
    return {"added_p50_ms": g50 - d50, "added_p99_ms": g99 - d99}


async def _step(url: str, rate: int) -> tuple[float, int, int]:
    """Requests started every 1/rate s for STEP_S seconds: (p99 ms, ok, failed)."""
    latencies: list[float] = []
    failed = 0
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def one() -> None:
            nonlocal failed
            started = time.perf_counter()
            try:
                r = await client.post(url + "/v1/chat/completions", json=BODY)
                if r.status_code != 200:
                    failed += 1
                    return
            except httpx.HTTPError:
                failed += 1
                return
            latencies.append((time.perf_counter() - started) * 1000)

        tasks = []
        start = time.perf_counter()
        for i in range(int(rate * STEP_S)):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    return percentile(latencies, 0.99), len(latencies), failed


def capacity(name: str, url: str) -> float:
    base_p99 = None
    sustained = 0.0
    asyncio.run(_step(url, RATES[0]))  # warm-up: connections, caches, the first writes
    for rate in RATES:
        p99, ok, failed = asyncio.run(_step(url, rate))
        base_p99 = base_p99 or p99
        line(f"{name}: {rate} req/s offered", f"p99 {p99:.1f} ms, {ok} ok, {failed} failed")
        if failed or p99 > 2 * base_p99:
            break
        sustained = rate
    line(
        f"{name}: sustained before p99 doubles",
        f"{sustained:.0f} req/s (p99 at low load {base_p99:.1f} ms)",
    )
    return sustained


def _serve(home: Path, base_url: str, database_url: str) -> AbstractContextManager[str]:
    (home / "arbiter.toml").write_text(openai_variants_toml(base_url))
    env = {
        "ARBITER_DATABASE_URL": database_url,
        "ARBITER_RAG_SAMPLE_CORPUS": "false",
        "ARBITER_ONLINE_METRICS": "",
        "ARBITER_EXAMPLE_USE_CASE": "false",
    }
    return arbiter_process(home, env=env)


def main() -> dict[str, float]:
    header("Gateway: overhead vs the provider directly, and capacity (SQLite, PostgreSQL)")
    results: dict[str, float] = {}
    with fake_openai_process(tokens=20) as base_url, tempfile.TemporaryDirectory() as tmp:
        sqlite_home = Path(tmp, "sqlite")
        sqlite_home.mkdir()
        with _serve(sqlite_home, base_url, f"sqlite:///{sqlite_home / 'a.db'}") as url:
            results |= overhead(base_url, url)
            results["sqlite_rps"] = capacity("SQLite", url)
        pg_home = Path(tmp, "pg")
        pg_home.mkdir()
        with scratch_postgres(PG_DB) as pg_url, _serve(pg_home, base_url, pg_url) as url:
            results["postgres_rps"] = capacity("PostgreSQL", url)
    return results


if __name__ == "__main__":
    print(json.dumps(main()))
