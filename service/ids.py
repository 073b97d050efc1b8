"""Time-ordered ids (UUIDv7, as strings) and UTC timestamps."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime

_RANDOM_BITS = 74  # what UUIDv7 leaves random besides its version and variant
_lock = threading.Lock()
_last_ms = 0


def uuid7_text(ms: int, rand: int) -> str:
    """The UUIDv7 of a Unix time in milliseconds and 74 random bits, as text."""
    value = (
        ((ms & 0xFFFF_FFFF_FFFF) << 80)
        | (0x7 << 76)  # version
        | ((rand >> 62 & 0xFFF) << 64)
        | (0b10 << 62)  # variant
        | (rand & ((1 << 62) - 1))
    )
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_ids(n: int) -> list[str]:
    """`n` new ids, each greater than every id made before it in this process: as uuid6's
    `uuid7()`, an id made in the same millisecond as the last takes the next millisecond.
    Their random bits come from one read of the system's source for all of them."""
    global _last_ms
    with _lock:
        now = time.time_ns() // 1_000_000
        first = now if now > _last_ms else _last_ms + 1
        _last_ms = first + n - 1
    size = (_RANDOM_BITS + 7) // 8
    random = os.urandom(size * n)
    return [
        uuid7_text(first + k, int.from_bytes(random[k * size : (k + 1) * size]) >> 6)
        for k in range(n)
    ]


def new_id() -> str:
    return new_ids(1)[0]


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
