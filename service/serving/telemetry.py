"""Telemetry records of model calls (one per answer, from comparisons, the gateway and
batch runs)."""

from __future__ import annotations

from monitoring.records import ModelCall
from service.models import Variant
from service.schemas import AnswerOut


def model_call(
    variant: Variant, answer: AnswerOut, *, source: str = "compare", turn_id: str | None = None
) -> ModelCall:
    return ModelCall(
        variant=variant.name,
        provider=variant.provider,
        model=variant.model_label,
        status=answer.status,
        error=answer.error_code,
        latency_s=(answer.latency_ms or 0.0) / 1000,
        ttft_s=None if answer.ttft_ms is None else answer.ttft_ms / 1000,
        tokens_in=answer.tokens_in,
        tokens_out=answer.tokens_out,
        cost_usd=answer.cost_usd,
        source=source,
        turn_id=turn_id,
    )
