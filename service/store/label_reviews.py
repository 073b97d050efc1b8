"""Reviewers' decisions on labels (append-only; the latest decision on a label counts). A
decision that rejects a live vote, or restores one, changes the leaderboard's cells in the
same transaction; a decision on a superseded vote changes nothing there (it counts nowhere
either way)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, insert, select
from sqlalchemy.orm import Session, aliased

from service.errors import NotFound
from service.ids import new_id, utcnow
from service.store.among import among
from service.store.engine import Store
from service.store.tables import LabelReviewRow, RatingRow, VoteRow
from service.store.turn_locks import lock_turns
from service.store.vote_cells import CellDeltas, turn_facts


def add_review(
    store: Store, kind: str, label_id: str, status: str, reviewer: str, note: str | None
) -> dict[str, Any]:
    table = {"vote": VoteRow, "rating": RatingRow}[kind]
    turn_id = None
    if kind == "vote":
        # A vote's turn never changes: read it first, so the review's transaction can begin
        # by locking that turn, like every write that changes which of its votes count.
        with store.session() as s:
            turn_id = s.scalar(select(VoteRow.turn_id).where(VoteRow.id == label_id))
    with store.session() as s:
        if turn_id is not None:
            lock_turns(s, {turn_id})
        if s.get(table, label_id) is None:
            raise NotFound(f"there is no {kind} {label_id}")
        was_rejected = kind == "vote" and bool(rejected_among(s, {label_id}))
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
        # Asked again rather than assumed from `status`: the latest decision is the one
        # with the greatest id, which a decision from another process made in the same
        # millisecond may hold.
        if kind == "vote" and was_rejected != bool(rejected_among(s, {label_id})):
            _recount(s, label_id, restored=was_rejected)
    return row


def _recount(s: Session, vote_id: str, *, restored: bool) -> None:
    """A vote's rejection changed: its cells change if it is live (not superseded)."""
    if s.scalar(select(exists().where(VoteRow.supersedes_id == vote_id))):
        return
    vote = s.get_one(VoteRow, vote_id)
    deltas = CellDeltas()
    facts = turn_facts(s, {vote.turn_id})[vote.turn_id]
    deltas.count(facts, vote.outcome, vote.ranking, vote.created_at, +1 if restored else -1)
    # The dashboard's rows, the cells and the shapes in the order a vote writes them: two
    # writers that took them in opposite orders could deadlock on PostgreSQL.
    deltas.apply(s)


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


def rejected_among(s: Session, vote_ids: set[str]) -> set[str]:
    """Which of these votes (a bounded set: one vote's or one batch's) their latest review
    rejects."""
    if not vote_ids:
        return set()
    query = rejected("vote").where(among(s, LabelReviewRow.label_id, vote_ids))
    return set(s.scalars(query))
