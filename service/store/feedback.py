"""Thumbs up / down on answers, append-only: a rater's latest thumb on an answer counts."""

from __future__ import annotations

from sqlalchemy import insert

from service.errors import NotFound
from service.ids import new_id, utcnow
from service.store.engine import Store
from service.store.tables import AnswerRow, FeedbackRow


def add_feedback(store: Store, answer_id: str, positive: bool, rater: str) -> tuple[str, str]:
    """The new row's id and the answer's variant."""
    with store.session() as s:
        answer = s.get(AnswerRow, answer_id)
        if answer is None:
            raise NotFound(f"there is no answer {answer_id}", hint="Answer ids are in the turn.")
        feedback_id = new_id()
        s.execute(
            insert(FeedbackRow),
            {
                "id": feedback_id,
                "answer_id": answer_id,
                "turn_id": answer.turn_id,
                "variant_name": answer.variant_name,
                "rater": rater,
                "positive": positive,
                "created_at": utcnow(),
            },
        )
        return feedback_id, answer.variant_name
