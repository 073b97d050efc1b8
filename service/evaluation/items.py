"""What every eval run shares, whichever backend answers: its progress as reported to the
CLI and the page, and the scoring of one answered item."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evals.base import Metric, Sample
from evals.datasets import Example
from evals.judges import RubricJudge
from rag import RetrievedChunk


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    skipped: int
    errors: int
    note: str = ""  # batch backends: the jobs' statuses


def score_item(
    scorers: list[Metric],
    judge: RubricJudge | None,
    example: Example,
    fields: dict[str, Any],
    chunks: list[RetrievedChunk] | None,
    language: str | None = None,
) -> list[dict[str, Any]]:
    if fields["status"] != "ok":
        return []  # a failed answer is counted in the error rate, not scored as 0
    sample = Sample(
        answer=fields["answer"],
        reference=example.reference,
        question=example.prompt,
        contexts=tuple(c.text for c in chunks or ()),
        reference_contexts=example.contexts,
        language=example.language or language,
    )
    results = [m.score(sample) for m in scorers]
    if judge is not None:
        results += judge.score(sample)
    return [
        {"metric": r.metric, "version": r.version, "value": r.value, "error": r.error}
        for r in results
    ]
