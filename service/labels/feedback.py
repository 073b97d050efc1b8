"""Thumbs up / down on answers: stored (append-only) and sent to the telemetry streams,
where they become a satisfaction rate per variant."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from monitoring.records import FeedbackRecord, Record
from service.store import Store, feedback


def give_feedback(
    store: Store, emit: Callable[[Record], None], answer_id: str, positive: bool, rater: str
) -> dict[str, Any]:
    feedback_id, variant = feedback.add_feedback(store, answer_id, positive, rater)
    emit(FeedbackRecord(variant, positive))
    return {"id": feedback_id, "answer_id": answer_id, "positive": positive}
