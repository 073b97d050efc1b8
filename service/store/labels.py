"""Rubric ratings, comments and ideal answers on a turn (append-only)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from service.errors import ErrorCode, InvalidRequest
from service.schemas import LabelsIn, LabelsOut
from service.store.engine import Store
from service.store.tables import AnswerRow, CommentRow, IdealAnswerRow, RatingRow
from service.store.votes import ended_turn


def turn_notes(store: Store, turn_id: str) -> list[tuple[str, str, str]]:
    """Comments and ideal answers on a turn, oldest first: (kind, rater, text)."""
    with store.session() as s:
        comments = s.execute(
            select(CommentRow.created_at, CommentRow.rater, CommentRow.text).where(
                CommentRow.turn_id == turn_id
            )
        ).all()
        ideals = s.execute(
            select(IdealAnswerRow.created_at, IdealAnswerRow.rater, IdealAnswerRow.text).where(
                IdealAnswerRow.turn_id == turn_id
            )
        ).all()
    notes = [(at, "comment", r, t) for at, r, t in comments]
    notes += [(at, "ideal answer", r, t) for at, r, t in ideals]
    return [(kind, rater, text) for _, kind, rater, text in sorted(notes)]


@dataclass(frozen=True)
class TurnRating:
    """One rater's rubric scores (1-5, each optional) for the answer in one pane."""

    pane: int
    rater: str
    helpfulness: int | None
    honesty: int | None
    harmlessness: int | None


def turn_ratings(store: Store, turn_id: str) -> list[TurnRating]:
    """Each rater's latest rubric rating of each answer of a turn (ratings are append-only:
    a later one corrects an earlier one), by pane, then rater."""
    with store.session() as s:
        rows = s.execute(
            select(
                RatingRow.created_at,
                RatingRow.id,
                AnswerRow.pane,
                RatingRow.rater,
                RatingRow.helpfulness,
                RatingRow.honesty,
                RatingRow.harmlessness,
            )
            .join(AnswerRow, AnswerRow.id == RatingRow.answer_id)
            .where(RatingRow.turn_id == turn_id)
            .order_by(RatingRow.created_at, RatingRow.id)
        ).all()
    latest = {
        (pane, rater): TurnRating(pane, rater, h, o, m) for _, _, pane, rater, h, o, m in rows
    }
    return [latest[key] for key in sorted(latest)]


def save_labels(store: Store, turn_id: str, labels: LabelsIn, *, rater: str) -> LabelsOut:
    """`rater`'s rubric ratings, comment and ideal answer, in one transaction (append-only)."""
    with store.session() as s:
        turn = ended_turn(s, turn_id, action="Rate")
        by_pane = {a.pane: a for a in turn.answers}
        for pane in [r.pane for r in labels.ratings] + (
            [labels.ideal_based_on_pane] if labels.ideal_based_on_pane is not None else []
        ):
            if pane not in by_pane:
                raise InvalidRequest(f"this turn has no pane {pane}", code=ErrorCode.INVALID_PANE)
        count = 0
        for rating in labels.ratings:
            if (
                rating.helpfulness is None
                and rating.honesty is None
                and rating.harmlessness is None
            ):
                continue
            s.add(
                RatingRow(
                    answer_id=by_pane[rating.pane].id,
                    turn_id=turn_id,
                    rater=rater,
                    helpfulness=rating.helpfulness,
                    honesty=rating.honesty,
                    harmlessness=rating.harmlessness,
                )
            )
            count += 1
        out = LabelsOut(ratings=count)
        if labels.comment and labels.comment.strip():
            comment = CommentRow(turn_id=turn_id, rater=rater, text=labels.comment)
            s.add(comment)
            s.flush()
            out.comment_id = comment.id
        if labels.ideal_answer and labels.ideal_answer.strip():
            based_on = (
                by_pane[labels.ideal_based_on_pane].id
                if labels.ideal_based_on_pane is not None
                else None
            )
            ideal = IdealAnswerRow(
                turn_id=turn_id,
                rater=rater,
                text=labels.ideal_answer,
                based_on_answer_id=based_on,
            )
            s.add(ideal)
            s.flush()
            out.ideal_answer_id = ideal.id
        return out
