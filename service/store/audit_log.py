"""The audit log as stored: append-only events, newest first when read."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select

from service.ids import new_id, utcnow
from service.store.engine import Store
from service.store.tables import AuditEventRow


def add_event(store: Store, actor: str, action: str, target: str, detail: dict[str, Any]) -> None:
    with store.session() as s:
        s.execute(
            insert(AuditEventRow),
            {
                "id": new_id(),
                "actor": actor,
                "action": action,
                "target": target,
                "detail": detail,
                "created_at": utcnow(),
            },
        )


def events(store: Store, *, limit: int = 200, action: str | None = None) -> list[dict[str, Any]]:
    query = select(AuditEventRow).order_by(AuditEventRow.created_at.desc(), AuditEventRow.id.desc())
    if action is not None:
        query = query.where(AuditEventRow.action == action)
    with store.session() as s:
        return [
            {
                "id": e.id,
                "actor": e.actor,
                "action": e.action,
                "target": e.target,
                "detail": e.detail,
                "created_at": e.created_at,
            }
            for e in s.scalars(query.limit(limit))
        ]
