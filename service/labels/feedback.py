"""Thumbs up / down on answers: stored (append-only) and sent to the telemetry streams,
where they become a satisfaction rate per variant."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert

from monitoring.records import FeedbackRecord
from service.app.runtime import Runtime
from service.errors import NotFound
from service.ids import new_id, utcnow
from service.store.tables import AnswerRow, FeedbackRow


def give_feedback(runtime: Runtime, answer_id: str, positive: bool, rater: str) -> dict[str, Any]:
    with runtime.store.session() as s:
        answer = s.get(AnswerRow, answer_id)
        if answer is None:
            raise NotFound(f"there is no answer {answer_id}", hint="Answer ids are in the turn.")
        row = {
            "id": new_id(),
            "answer_id": answer_id,
            "turn_id": answer.turn_id,
            "variant_name": answer.variant_name,
            "rater": rater,
            "positive": positive,
            "created_at": utcnow(),
        }
        s.execute(insert(FeedbackRow), row)
        variant = answer.variant_name
    runtime.telemetry.emit(FeedbackRecord(variant, positive))
    return {"id": row["id"], "answer_id": answer_id, "positive": positive}
