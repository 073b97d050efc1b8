"""`make bench` runs every benchmark: each `bench/bench_*.py` is in `bench.__main__`'s list
(one was missing: `bench_batch_jobs` ran only when called by hand)."""

from __future__ import annotations

from pathlib import Path

from bench.__main__ import BENCHMARKS

ROOT = Path(__file__).resolve().parents[2]


def test_make_bench_runs_every_benchmark_module() -> None:
    modules = {f"bench.{p.stem}" for p in (ROOT / "bench").glob("bench_*.py")}
    assert modules == set(BENCHMARKS)
    assert len(BENCHMARKS) == len(set(BENCHMARKS))
