"""Telemetry records: one per model call, per automatic score, per human vote. Labels are
bounded by design: variant, provider, metric, outcome — never prompt text or user ids."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModelCall:
    variant: str
    provider: str
    model: str
    status: str  # ok | error | timeout | cancelled
    error: str | None  # the error code when status is not ok
    latency_s: float
    ttft_s: float | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost_usd: float | None = None
    source: str = "compare"  # compare | batch
    at: float = field(default_factory=time.time)  # when the call ended (epoch seconds)
    turn_id: str | None = None  # the comparison it belongs to, if any


@dataclass(frozen=True)
class TurnRecord:
    """A comparison ended: its calls (sent before it) become one trace."""

    turn_id: str
    started_at: float
    ended_at: float
    variants: tuple[str, ...]
    mode: str


@dataclass(frozen=True)
class ScoreRecord:
    metric: str
    variant: str
    value: float | None  # None: scoring failed
    source: str = "online"  # online | batch
    at: float = field(default_factory=time.time)
    version: str = ""
    explanation: str | None = None


@dataclass(frozen=True)
class VoteRecord:
    """One variant's result in one vote: win, loss, tie or both_bad."""

    variant: str
    outcome: str
    mode: str  # arena | named
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class FeedbackRecord:
    """Thumbs up (positive) or down on one answer of a variant."""

    variant: str
    positive: bool
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class GoalRecord:
    """A use case's target for one variant, evaluated over its window: met (True / False)
    or None when there is not enough data; the value with its 95% CI."""

    usecase: str
    variant: str
    target: str  # e.g. "p90_latency_s <= 2.5"
    met: bool | None
    value: float | None
    low: float | None = None
    high: float | None = None
    samples: int = 0
    at: float = field(default_factory=time.time)


Record = ModelCall | TurnRecord | ScoreRecord | VoteRecord | FeedbackRecord | GoalRecord
