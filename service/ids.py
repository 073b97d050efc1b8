"""Time-ordered ids (UUIDv7, as strings) and UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime

import uuid6


def new_id() -> str:
    return str(uuid6.uuid7())


def utcnow() -> datetime:
    return datetime.now(UTC)
