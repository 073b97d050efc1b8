"""Raters and their roles, and reviewers' decisions on labels. A rejected label stays
stored and is left out of exports and rankings; the latest decision on a label counts."""

from __future__ import annotations

from typing import Any, Literal

from service.errors import Forbidden, InvalidRequest
from service.store import Store, label_reviews, raters

Role = Literal["rater", "reviewer", "admin"]
LabelKind = Literal["vote", "rating"]
ROLES = ("rater", "reviewer", "admin")


def set_rater(store: Store, name: str, role: Role = "rater") -> dict[str, Any]:
    """Create a rater, or change their role."""
    if role not in ROLES:
        raise InvalidRequest(f"unknown role {role!r}", hint=f"Use one of: {', '.join(ROLES)}.")
    raters.upsert_rater(store, name, role)
    return {"name": name, "role": role}


def review(
    store: Store,
    kind: LabelKind,
    label_id: str,
    status: Literal["accepted", "rejected"],
    reviewer: str,
    note: str | None = None,
    *,
    check_role: bool = True,
) -> dict[str, Any]:
    """Record `reviewer`'s decision. `check_role=False` when the caller's `review` scope was
    checked already (the API); the CLI checks the named person's role."""
    if check_role and raters.role_of(store, reviewer) not in ("reviewer", "admin"):
        raise Forbidden(
            f"{reviewer!r} may not review labels",
            hint="An admin gives the reviewer role: POST /api/raters {name, role: reviewer}.",
        )
    row = label_reviews.add_review(store, kind, label_id, status, reviewer, note)
    return row
