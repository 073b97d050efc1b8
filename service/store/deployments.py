"""Deployments as stored: seeded from the deployments file (`source` file) or set through
the admin API (`api`), which then wins over the file."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from service.ids import utcnow
from service.store.engine import Store
from service.store.tables import DeploymentRow
from service.store.upsert import insert_new


def _values(name: str, spec: dict[str, Any], source: str) -> dict[str, Any]:
    now = utcnow()
    return {"name": name, "spec": spec, "source": source, "created_at": now, "updated_at": now}


def add_missing(store: Store, specs: dict[str, dict[str, Any]]) -> None:
    """The file's deployments that the store does not have yet."""
    with store.session() as s:
        stored = set(s.scalars(select(DeploymentRow.name)))
        new = [_values(n, spec, "file") for n, spec in specs.items() if n not in stored]
        insert_new(s, DeploymentRow, new, "name")


def all_specs(store: Store) -> dict[str, dict[str, Any]]:
    with store.session() as s:
        return {r.name: dict(r.spec) for r in s.scalars(select(DeploymentRow))}


def version(store: Store) -> tuple[int, datetime | None]:
    """A cheap fingerprint of the stored deployments (how many, the latest change): when it
    moves, another process created or changed one. Deployments are never deleted."""
    with store.session() as s:
        count, latest = s.execute(select(func.count(), func.max(DeploymentRow.updated_at))).one()
        return int(count), latest


def put_spec(store: Store, name: str, spec: dict[str, Any]) -> bool:
    """Create or replace (from the API); True when new."""
    with store.session() as s:
        row = s.scalar(select(DeploymentRow).where(DeploymentRow.name == name))
        if row is None:
            s.add(DeploymentRow(**_values(name, spec, "api")))
            return True
        row.spec, row.source, row.updated_at = spec, "api", utcnow()
        return False
