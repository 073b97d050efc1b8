"""`make bench` runs every benchmark: each `bench/bench_*.py` is in `bench.__main__`'s list
(one was missing: `bench_batch_jobs` ran only when called by hand)."""

from __future__ import annotations

from pathlib import Path

from bench.__main__ import BENCHMARKS, select

ROOT = Path(__file__).resolve().parents[2]


def test_make_bench_runs_every_benchmark_module() -> None:
    modules = {f"bench.{p.stem}" for p in (ROOT / "bench").glob("bench_*.py")}
    assert modules == set(BENCHMARKS)
    assert len(BENCHMARKS) == len(set(BENCHMARKS))


def test_a_name_picks_that_benchmark_and_its_options_pick_none() -> None:
    # `batch` is a whole name: not bench_batch_jobs too (it would run the Bedrock run twice,
    # once delegated by bench_batch and once itself).
    assert select(["batch", "--backend", "bedrock-batch"]) == ["bench.bench_batch"]
    assert select(["batch_jobs"]) == ["bench.bench_batch_jobs"]
    assert select(["dash"]) == ["bench.bench_dashboard"]  # a part of a name
    assert select(["scale", "--sizes=10k"]) == ["bench.bench_scale"]
    assert select([]) == BENCHMARKS
