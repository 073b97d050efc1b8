"""Small helpers shared by the benchmarks: percentiles and a uniform printout."""

from __future__ import annotations

import statistics


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: list[float]) -> float:
    return statistics.median(values)


def header(title: str) -> None:
    print(f"\n## {title}")


def line(label: str, value: str) -> None:
    print(f"  {label:<46} {value}")


def verdict(ok: bool, goal: str) -> None:
    print(f"  goal: {goal} -> {'MET' if ok else 'NOT MET'}")
