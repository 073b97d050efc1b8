"""Time-ordered ids (UUIDv7, as strings) and UTC timestamps."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime

_RANDOM_BITS = 62  # what UUIDv7 leaves random once its 12 rand_a bits hold a counter
_COUNTER_MAX = 0xFFF
_lock = threading.Lock()
_last = (0, _COUNTER_MAX)  # (Unix ms, counter) of the last id made in this process


def uuid7_text(ms: int, rand: int) -> str:
    """The UUIDv7 of a Unix time in milliseconds and 74 further bits (12 of rand_a, then 62
    of rand_b), as text."""
    value = (
        ((ms & 0xFFFF_FFFF_FFFF) << 80)
        | (0x7 << 76)  # version
        | ((rand >> 62 & 0xFFF) << 64)
        | (0b10 << 62)  # variant
        | (rand & ((1 << 62) - 1))
    )
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _stamps(n: int) -> list[tuple[int, int]]:
    """(ms, counter) for `n` new ids, RFC 9562's method 1: ids made in the same millisecond
    count up in rand_a's 12 bits, so 4,096 ids fit in each millisecond before one borrows the
    next; a burst runs ahead of the clock by n / 4,096 ms, not by n ms."""
    global _last
    with _lock:
        now = time.time_ns() // 1_000_000
        ms, counter = _last if _last[0] >= now else (now, -1)
        stamps = []
        for _ in range(n):
            if counter == _COUNTER_MAX:
                ms, counter = ms + 1, -1
            counter += 1
            stamps.append((ms, counter))
        if stamps:
            _last = stamps[-1]
    return stamps


def new_ids(n: int) -> list[str]:
    """`n` new ids, each greater than every id made before it in this process (the time,
    then a counter within the millisecond, then random bits). The random bits come from one
    read of the system's source for all of them."""
    size = (_RANDOM_BITS + 7) // 8
    spare = size * 8 - _RANDOM_BITS
    random = os.urandom(size * n)
    return [
        uuid7_text(
            ms,
            counter << _RANDOM_BITS | int.from_bytes(random[k * size : (k + 1) * size]) >> spare,
        )
        for k, (ms, counter) in enumerate(_stamps(n))
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
