"""Variants as stored: those of the config file (kept in sync at start-up) and those
created through the API (which live only here)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from service.errors import Conflict
from service.ids import utcnow
from service.models import Variant
from service.store.engine import Store
from service.store.tables import VariantRow
from service.store.upsert import insert_new
from service.text import scrub


def sync_variants(store: Store, variants: list[Variant], *, source: str = "file") -> None:
    """Record the variants declared in the config file (insert new, update changed)."""
    with store.session() as s:
        existing = {r.name: r for r in s.scalars(select(VariantRow))}
        new = []
        for v in variants:
            spec = v.model_dump(mode="json")
            row = existing.get(v.name)
            if row is None:
                new.append({"name": v.name, "spec": spec, "source": source})
            elif row.spec != spec:
                row.spec, row.source, row.updated_at = spec, source, utcnow()
        insert_new(s, VariantRow, new, "name")


def add_variant(store: Store, variant: Variant) -> None:
    try:
        with store.session() as s:
            s.add(VariantRow(name=variant.name, spec=variant.model_dump(mode="json"), source="api"))
    except IntegrityError:
        raise Conflict(
            f"a variant named {variant.name!r} already exists", hint="Pick another name."
        ) from None


def api_variants(store: Store) -> list[Variant]:
    """Text stored before lone surrogates were refused reads back with U+FFFD in their place
    (such a variant would make every listing fail to encode)."""
    with store.session() as s:
        rows = s.scalars(
            select(VariantRow).where(VariantRow.source == "api").order_by(VariantRow.created_at)
        )
        return [Variant.model_validate(scrub(r.spec)) for r in rows]


def api_version(store: Store) -> tuple[int, datetime | None]:
    """A cheap fingerprint of the variants created through the API (how many, the latest
    change): when it moves, `api_variants` has something new."""
    with store.session() as s:
        count, latest = s.execute(
            select(func.count(), func.max(VariantRow.updated_at)).where(VariantRow.source == "api")
        ).one()
        return int(count), latest
