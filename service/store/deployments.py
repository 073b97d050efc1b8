"""Deployments as stored: seeded from the deployments file (`source` file) or set through
the admin API (`api`), which then wins over the file."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from service.ids import utcnow
from service.store.engine import Store
from service.store.tables import DeploymentRow


def _row(name: str, spec: dict[str, Any], source: str) -> DeploymentRow:
    now = utcnow()
    return DeploymentRow(name=name, spec=spec, source=source, created_at=now, updated_at=now)


def add_missing(store: Store, specs: dict[str, dict[str, Any]]) -> None:
    """The file's deployments that the store does not have yet."""
    with store.session() as s:
        stored = set(s.scalars(select(DeploymentRow.name)))
        for name, spec in specs.items():
            if name not in stored:
                s.add(_row(name, spec, "file"))


def all_specs(store: Store) -> dict[str, dict[str, Any]]:
    with store.session() as s:
        return {r.name: dict(r.spec) for r in s.scalars(select(DeploymentRow))}


def put_spec(store: Store, name: str, spec: dict[str, Any]) -> bool:
    """Create or replace (from the API); True when new."""
    with store.session() as s:
        row = s.scalar(select(DeploymentRow).where(DeploymentRow.name == name))
        if row is None:
            s.add(_row(name, spec, "api"))
            return True
        row.spec, row.source, row.updated_at = spec, "api", utcnow()
        return False
