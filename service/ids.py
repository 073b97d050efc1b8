"""Time-ordered ids (UUIDv7, as strings) and UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime

import uuid6


def new_id() -> str:
    return str(uuid6.uuid7())


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(when: datetime) -> datetime:
    """Aware, in UTC (SQLite gives stored times back naive, in UTC)."""
    return when.astimezone(UTC) if when.tzinfo is not None else when.replace(tzinfo=UTC)


def id_floor(at: datetime) -> str:
    """The smallest id `new_id` makes at or after `at`: UUIDv7 strings begin with their
    48-bit Unix time in milliseconds, so ids compare as their times do."""
    ms = f"{int(at.timestamp() * 1000):012x}"
    return f"{ms[:8]}-{ms[8:]}-0000-0000-000000000000"
