"""A use case's datasets as files, and which eval runs count toward it.

An eval run counts toward a use case when it was started for it (`arbiter usecase run`, the
Use cases page's Run button), or when it was started for no use case on a dataset file with
the same content (SHA-256 of its bytes, as the run stored it), such as a run from the
Evaluations page: the same examples. Only its items of the use case's variants count, and
each of their scores counts under its metric's name (the version computed is stored beside
it, not compared)."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from evals.datasets import EXAMPLE_DATASET
from service.evaluation.usecases.spec import EXAMPLE_DATASET_NAME, UseCaseSpec


def dataset_path(name: str) -> Path:
    """`example` is the bundled evals/data/lumen_qa.jsonl; anything else is a path."""
    return EXAMPLE_DATASET if name == EXAMPLE_DATASET_NAME else Path(name)


def dataset_hashes(spec: UseCaseSpec) -> list[str]:
    """The SHA-256 of each of the use case's dataset files that can be read (a missing one
    is left out: its runs then count only when started for the use case)."""
    out = []
    for name in spec.datasets:
        path = dataset_path(name)
        try:
            stat = path.stat()
        except OSError:
            continue
        digest = _sha256(str(path), stat.st_mtime_ns, stat.st_size)
        if digest is not None:
            out.append(digest)
    return out


@lru_cache(maxsize=256)
def _sha256(path: str, mtime_ns: int, size: int) -> str | None:
    """Read once per version of the file (its modification time and size are the key)."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None
