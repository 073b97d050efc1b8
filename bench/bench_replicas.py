"""Replicas: gateway capacity with one `arbiter serve` and with three, each on one
PostgreSQL database behind a real HAProxy (Debian's package), measured in the same run.

Capacity is open-loop load at rising rates (requests start on a fixed schedule, whatever
the answers do) through the proxy; the highest rate whose p99 stays within twice the p99 at
the lowest rate, with no failures. Goal: three replicas >= 2.5x one.

Everything — the load generator, the fake provider, HAProxy, PostgreSQL and the replicas —
shares this machine's cores, so the machine's CPU use during each step and its load
average are printed: with every core busy, more replicas cannot add capacity."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from bench._report import header, line, scratch_postgres, verdict
from bench.bench_gateway import RATES, _step
from tests.support.processes import (
    fake_openai_process,
    haproxy,
    openai_variants_toml,
    start_arbiter,
    stop,
    wait_healthy,
)

PG_DB = "arbiter_bench_replicas"


def _cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    fields = [float(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min, {os.cpu_count()} cores)"


def capacity(name: str, url: str) -> float:
    base_p99 = None
    sustained = 0.0
    asyncio.run(_step(url, RATES[0]))  # warm-up: connections, caches, the first writes
    for rate in RATES:
        busy0, total0 = _cpu_times()
        p99, ok, failed = asyncio.run(_step(url, rate))
        busy1, total1 = _cpu_times()
        cpu = 100 * (busy1 - busy0) / max(total1 - total0, 1)
        base_p99 = base_p99 or p99
        line(
            f"{name}: {rate} req/s offered",
            f"p99 {p99:.1f} ms, {ok} ok, {failed} failed, machine CPU {cpu:.0f}%",
        )
        if failed or p99 > 2 * base_p99:
            break
        sustained = rate
    line(
        f"{name}: sustained before p99 doubles",
        f"{sustained:.0f} req/s (p99 at low load {base_p99:.1f} ms)",
    )
    return sustained


def _replicas(n: int, tmp: Path, base_url: str, database_url: str) -> float:
    env = {
        "ARBITER_DATABASE_URL": database_url,
        "ARBITER_RAG_SAMPLE_CORPUS": "false",
        "ARBITER_ONLINE_METRICS": "",
        "ARBITER_EXAMPLE_USE_CASE": "false",
        "ARBITER_WORKER": "false",
    }
    with ExitStack() as stack:
        servers = []
        for i in range(n):
            home = tmp / f"r{n}-{i}"
            home.mkdir()
            (home / "arbiter.toml").write_text(openai_variants_toml(base_url))
            server = start_arbiter(home, env=env)
            stack.callback(stop, server)
            servers.append(server)
        for server in servers:
            wait_healthy(server, timeout_s=600)  # a busy shared machine starts them slowly
        proxy = stack.enter_context(haproxy([s.url for s in servers], tmp))
        return capacity(f"{n} replica{'s' if n > 1 else ''}", proxy)


def main() -> dict[str, float]:
    header("Replicas: gateway capacity, 1 vs 3 `arbiter serve` on PostgreSQL behind HAProxy")
    line("load average at start", _load())
    results: dict[str, float] = {}
    started = time.perf_counter()
    with (
        fake_openai_process(tokens=20) as base_url,
        tempfile.TemporaryDirectory() as tmp,
        scratch_postgres(PG_DB) as pg_url,
    ):
        results["one_replica_rps"] = _replicas(1, Path(tmp), base_url, pg_url)
        line("load average after one replica", _load())
        results["three_replicas_rps"] = _replicas(3, Path(tmp), base_url, pg_url)
    line("load average at the end", _load())
    ratio = results["three_replicas_rps"] / max(results["one_replica_rps"], 1e-9)
    results["ratio"] = ratio
    line("ratio (3 replicas / 1)", f"{ratio:.2f}x")
    line("wall time", f"{time.perf_counter() - started:.0f} s")
    verdict(ratio >= 2.5, "3 replicas >= 2.5x one replica")
    return results


if __name__ == "__main__":
    print(json.dumps(main()))
