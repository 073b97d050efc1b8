"""Raters and their roles, and reviewers' decisions on labels. A rejected label stays
stored and is left out of exports and rankings; the latest decision on a label counts."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import exists, insert, select, update
from sqlalchemy.orm import aliased

from service.errors import Forbidden, InvalidRequest, NotFound
from service.ids import new_id, utcnow
from service.store import Store
from service.store.tables import LabelReviewRow, RaterRow, RatingRow, VoteRow

Role = Literal["rater", "reviewer", "admin"]
LabelKind = Literal["vote", "rating"]
ROLES = ("rater", "reviewer", "admin")


def set_rater(store: Store, name: str, role: Role = "rater") -> dict[str, Any]:
    """Create a rater, or change their role."""
    if role not in ROLES:
        raise InvalidRequest(f"unknown role {role!r}", hint=f"Use one of: {', '.join(ROLES)}.")
    with store.session() as s:
        row = s.scalar(select(RaterRow).where(RaterRow.name == name))
        if row is None:
            s.execute(
                insert(RaterRow),
                {"id": new_id(), "name": name, "role": role, "created_at": utcnow()},
            )
        else:
            s.execute(update(RaterRow).where(RaterRow.id == row.id).values(role=role))
    return {"name": name, "role": role}


def role_of(store: Store, name: str) -> str | None:
    with store.session() as s:
        return s.scalar(select(RaterRow.role).where(RaterRow.name == name))


def list_raters(store: Store) -> list[dict[str, Any]]:
    with store.session() as s:
        return [
            {"name": r.name, "role": r.role}
            for r in s.scalars(select(RaterRow).order_by(RaterRow.name))
        ]


def review(
    store: Store,
    kind: LabelKind,
    label_id: str,
    status: Literal["accepted", "rejected"],
    reviewer: str,
    note: str | None = None,
) -> dict[str, Any]:
    if role_of(store, reviewer) not in ("reviewer", "admin"):
        raise Forbidden(
            f"{reviewer!r} may not review labels",
            hint="An admin gives the reviewer role: POST /api/raters {name, role: reviewer}.",
        )
    table = {"vote": VoteRow, "rating": RatingRow}[kind]
    with store.session() as s:
        if s.get(table, label_id) is None:
            raise NotFound(f"there is no {kind} {label_id}")
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
    return row


def rejected(kind: LabelKind) -> Any:
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
