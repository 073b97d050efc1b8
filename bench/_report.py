"""Small helpers shared by the benchmarks: percentiles and a uniform printout."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from contextlib import contextmanager


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


@contextmanager
def scratch_postgres(name: str) -> Iterator[str]:
    """A fresh PostgreSQL database on 127.0.0.1 for one benchmark; its URL. Dropped after."""
    import sqlalchemy as sa

    admin = sa.create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
