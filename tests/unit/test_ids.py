"""Ids: UUIDv7 text, each greater than the one made before it, one at a time or many."""

from __future__ import annotations

import itertools
import time
import uuid

from service.ids import new_id, new_ids, uuid7_text


def test_ids_made_one_by_one_or_in_batches_keep_increasing_and_are_uuid7() -> None:
    made = [new_id(), *new_ids(1000), new_id(), *new_ids(3), *new_ids(0)]
    assert made == sorted(made) and len(set(made)) == len(made) == 1005
    for text in made[:5] + made[-5:]:
        parsed = uuid.UUID(text)
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122 and str(parsed) == text


def test_uuid7_text_carries_the_time_and_the_random_bits() -> None:
    text = uuid7_text(0x0123_4567_89AB, (0xABC << 62) | 0x1234)
    assert text == "01234567-89ab-7abc-8000-000000001234"


def _ms_and_counter(text: str) -> tuple[int, int]:
    hexed = text.replace("-", "")
    return int(hexed[:12], 16), int(hexed[13:16], 16)


def test_a_burst_of_ids_keeps_to_the_clock_by_counting_within_each_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    made = new_ids(40_000)
    after = time.time_ns() // 1_000_000
    stamps = [_ms_and_counter(text) for text in made]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    # 4,096 ids fit in a millisecond: the burst may borrow at most 40,000 / 4,096 ms ahead
    assert before <= stamps[0][0] and stamps[-1][0] <= after + 10
    for (ms, counter), (next_ms, next_counter) in itertools.pairwise(stamps):
        assert (next_ms, next_counter) == (ms, counter + 1) or (next_ms > ms and next_counter == 0)
