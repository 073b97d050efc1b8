"""`make bench`: run every benchmark; each prints its ratio against a baseline measured in
the same run, plus absolute figures."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = [
    "bench.bench_overhead",
    "bench.bench_concurrency",
    "bench.bench_local_model",
    "bench.bench_page",
    "bench.bench_rag",
    "bench.bench_metrics",
    "bench.bench_batch",
    "bench.bench_batch_jobs",
    "bench.bench_leaderboard",
    "bench.bench_votes",
    "bench.bench_counts",
    "bench.bench_exports",
    "bench.bench_telemetry",
    "bench.bench_gateway",
    "bench.bench_scale",
    "bench.bench_dashboard",
    "bench.bench_replicas",
    "bench.bench_aggregates",
    "bench.bench_variant_sync",
]


def select(args: list[str]) -> list[str]:
    """The benchmarks named before the first option (the options are the benchmark's own:
    `batch --backend bedrock-batch`): a full name picks that one alone, a part of a name
    every benchmark containing it; none named, all of them."""
    names = []
    for arg in args:
        if arg.startswith("-"):
            break
        names.append(arg)
    if not names:
        return list(BENCHMARKS)
    return [
        b
        for b in BENCHMARKS
        if any(b == f"bench.bench_{n}" for n in names)
        or any(n in b and f"bench.bench_{n}" not in BENCHMARKS for n in names)
    ]


def main() -> int:
    selected = select(sys.argv[1:])
    for name in selected:
        importlib.import_module(name).main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
