"""The oracle of which votes count, decided in Python from plain reads of the tables (not
the store's queries): every vote, oldest first, less those a rater's later vote superseded
or whose latest review rejects them; and each turn's variants by pane."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from service.store import Store
from service.store.tables import AnswerRow, ConversationRow, LabelReviewRow, TurnRow, VoteRow


def live_votes_in_python(store: Store) -> list[Any]:
    """Rows (id, turn_id, outcome, ranking, rater, mode, use_case), oldest first."""
    with store.session() as s:
        rows = s.execute(
            sa.select(
                VoteRow.id,
                VoteRow.turn_id,
                VoteRow.outcome,
                VoteRow.ranking,
                VoteRow.rater,
                ConversationRow.mode,
                ConversationRow.use_case,
            )
            .join(TurnRow, TurnRow.id == VoteRow.turn_id)
            .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
            .order_by(VoteRow.created_at, VoteRow.id)
        ).all()
        superseded = set(
            s.scalars(sa.select(VoteRow.supersedes_id).where(VoteRow.supersedes_id.is_not(None)))
        )
        latest: dict[str, tuple[str, str]] = {}
        for review_id, label_id, status in s.execute(
            sa.select(LabelReviewRow.id, LabelReviewRow.label_id, LabelReviewRow.status).where(
                LabelReviewRow.label_kind == "vote"
            )
        ):
            if label_id not in latest or review_id > latest[label_id][0]:
                latest[label_id] = (review_id, status)
    return [
        r for r in rows if r.id not in superseded and latest.get(r.id, ("", ""))[1] != "rejected"
    ]


def panes_in_python(store: Store) -> dict[str, dict[int, str]]:
    """Each turn's variant names by pane."""
    panes: dict[str, dict[int, str]] = {}
    with store.session() as s:
        for turn_id, pane, name in s.execute(
            sa.select(AnswerRow.turn_id, AnswerRow.pane, AnswerRow.variant_name)
        ):
            panes.setdefault(turn_id, {})[pane] = name
    return panes
