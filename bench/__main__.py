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


def main() -> int:
    selected = [b for b in BENCHMARKS if not sys.argv[1:] or any(arg in b for arg in sys.argv[1:])]
    for name in selected:
        importlib.import_module(name).main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
