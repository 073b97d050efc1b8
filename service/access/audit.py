"""The audit log: who did what, when — admin actions (variants, deployments, keys, use
cases) and exports. Append-only; read with `GET /api/audit` or `arbiter audit`."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy import insert, select

from service.ids import new_id, utcnow
from service.store import Store
from service.store.tables import AuditEventRow


def actor_of(request: Request | None) -> str:
    """The authenticated principal's name, or `local` in the default single-admin mode."""
    principal = getattr(request.state, "principal", None) if request is not None else None
    return getattr(principal, "name", "local")


def record(
    store: Store,
    request: Request | None,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
    *,
    actor: str | None = None,
) -> None:
    with store.session() as s:
        s.execute(
            insert(AuditEventRow),
            {
                "id": new_id(),
                "actor": actor or actor_of(request),
                "action": action,
                "target": target,
                "detail": detail or {},
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
