"""Reviewers' decisions on labels (append-only; the latest decision on a label counts)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, insert, select
from sqlalchemy.orm import aliased

from service.errors import NotFound
from service.ids import new_id, utcnow
from service.store import rollups
from service.store.engine import Store
from service.store.tables import LabelReviewRow, RatingRow, VoteRow
from service.store.turn_locks import lock_turns


def add_review(
    store: Store, kind: str, label_id: str, status: str, reviewer: str, note: str | None
) -> dict[str, Any]:
    table = {"vote": VoteRow, "rating": RatingRow}[kind]
    with store.session() as s:
        label = s.get(table, label_id)
        if label is None:
            raise NotFound(f"there is no {kind} {label_id}")
        counted_before = counted_after = False
        if isinstance(label, VoteRow):
            # The turn's lock orders this review against a vote superseding this one.
            lock_turns(s, {label.turn_id})
            live = not rollups.is_superseded(s, label_id)
            counted_before = live and not rollups.rejected_among(s, [label_id])
            counted_after = live and status != "rejected"
        row = {
            "id": new_id(),
            "label_kind": kind,
            "label_id": label_id,
            "status": status,
            "reviewer": reviewer,
            "note": note,
            "created_at": utcnow(),
        }
        s.execute(insert(LabelReviewRow), row)
        if counted_before != counted_after:
            changed = [label_id]
            rollups.count_votes(
                s, changed if counted_after else [], changed if counted_before else []
            )
    return row


def rejected(kind: str) -> Any:
    """A subquery of the ids of labels whose latest review rejects them."""
    later = aliased(LabelReviewRow)
    return select(LabelReviewRow.label_id).where(
        LabelReviewRow.label_kind == kind,
        LabelReviewRow.status == "rejected",
        ~exists().where(
            later.label_kind == LabelReviewRow.label_kind,
            later.label_id == LabelReviewRow.label_id,
            later.id > LabelReviewRow.id,  # ids are time-ordered (UUIDv7)
        ),
    )
