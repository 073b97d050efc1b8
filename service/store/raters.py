"""Raters (people who label, review or administer): their role and password hash."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, insert, select, update

from service.ids import new_id, utcnow
from service.store.engine import Store
from service.store.tables import RaterRow


def upsert_rater(store: Store, name: str, role: str) -> None:
    """Create a rater with this role, or change their role."""
    with store.session() as s:
        row = s.scalar(select(RaterRow).where(RaterRow.name == name))
        if row is None:
            s.execute(
                insert(RaterRow),
                {"id": new_id(), "name": name, "role": role, "created_at": utcnow()},
            )
        else:
            s.execute(update(RaterRow).where(RaterRow.id == row.id).values(role=role))


def role_of(store: Store, name: str) -> str | None:
    with store.session() as s:
        return s.scalar(select(RaterRow.role).where(RaterRow.name == name))


def list_raters(store: Store) -> list[dict[str, Any]]:
    with store.session() as s:
        return [
            {"name": r.name, "role": r.role}
            for r in s.scalars(select(RaterRow).order_by(RaterRow.name))
        ]


def password_hash_of(store: Store, name: str) -> str | None:
    with store.session() as s:
        return s.scalar(select(RaterRow.password_hash).where(RaterRow.name == name))


def set_password_hash(store: Store, name: str, password_hash: str) -> bool:
    """False when there is no such person."""
    with store.session() as s:
        done = s.execute(
            update(RaterRow).where(RaterRow.name == name).values(password_hash=password_hash)
        )
        return bool(cast(CursorResult[Any], done).rowcount)
