"""What every metric shares: the `Sample` it looks at, the `MetricResult` it returns, the
`Metric` protocol, the `Embed` function type, and the answer normalisation (MLQA's, from
`evals.text`).

Every metric returns a `MetricResult`: a finite value in [0, 1], or an explicit error with
its reason (no reference, empty reference, ...) — never NaN, never a silently dropped row."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from evals.text import normalize_answer

__all__ = ["Embed", "Metric", "MetricResult", "Sample", "normalize_answer"]


@dataclass(frozen=True)
class Sample:
    """What a metric may look at: the answer, and the reference, question, retrieved
    contexts and reference contexts (the passages that hold the answer) when there are any.
    `language` (an ISO 639 code, from the dataset or the use case) tells the metrics that
    tokenize how to cut the text; without one they detect it from the script."""

    answer: str
    reference: str | None = None
    question: str = ""
    contexts: tuple[str, ...] = ()
    reference_contexts: tuple[str, ...] = ()
    language: str | None = None


@dataclass(frozen=True)
class MetricResult:
    metric: str
    version: str
    value: float | None
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


class Metric(Protocol):
    name: str
    version: str
    needs_reference: bool
    needs_context: bool
    needs_judge: bool

    def score(self, sample: Sample) -> MetricResult: ...


Embed = Callable[[Sequence[str]], NDArray[np.float32]]
