"""Storing fine-tuning jobs (`TuningRow`): one row per job holds its whole lineage, so any
question about a tuned variant is one query."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from service.errors import Conflict, ErrorCode, NotFound
from service.ids import new_id, utcnow
from service.store.engine import Store
from service.store.tables import TuningRow

ACTIVE = ("training", "deploying", "comparing")  # states a refresh may advance


def _out(row: TuningRow) -> dict[str, Any]:
    return {c.name: getattr(row, c.name) for c in TuningRow.__table__.columns}


def add_tuning(store: Store, **fields: Any) -> str:
    tuning_id = new_id()
    now = utcnow()
    try:
        with store.session() as s:
            s.add(TuningRow(id=tuning_id, created_at=now, updated_at=now, **fields))
    except IntegrityError:
        raise Conflict(
            f"a tuning job named {fields.get('name')!r} already exists",
            hint="Give another --name.",
        ) from None
    return tuning_id


def get_tuning(store: Store, key: str) -> dict[str, Any]:
    """A tuning by id, job name or tuned variant name (one query)."""
    with store.session() as s:
        row = s.scalars(
            select(TuningRow).where(
                or_(TuningRow.id == key, TuningRow.name == key, TuningRow.variant_name == key)
            )
        ).first()
        if row is None:
            raise NotFound(
                f"no tuning job or tuned variant named {key!r}",
                code=ErrorCode.UNKNOWN_TUNING,
                hint="List them with `arbiter tune status`.",
            )
        return _out(row)


def update_tuning(store: Store, tuning_id: str, **fields: Any) -> dict[str, Any]:
    with store.session() as s:
        row = s.get(TuningRow, tuning_id)
        if row is None:
            raise NotFound(f"no tuning job {tuning_id}", code=ErrorCode.UNKNOWN_TUNING)
        for key, value in fields.items():
            setattr(row, key, value)
        row.updated_at = utcnow()
        s.flush()
        return _out(row)


def list_tunings(store: Store, *, active_only: bool = False) -> list[dict[str, Any]]:
    with store.session() as s:
        query = select(TuningRow).order_by(TuningRow.created_at.desc())
        if active_only:
            query = query.where(TuningRow.state.in_(ACTIVE))
        return [_out(r) for r in s.scalars(query)]
