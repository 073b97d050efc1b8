import random
from collections import Counter

import pytest

from service.errors import ConfigError
from service.serving.arena import BattleCounts, choose_pair

NAMES = ["a", "b", "c", "d"]


def test_never_repeats_the_last_pair_and_randomises_sides() -> None:
    rng = random.Random(1)
    last = frozenset({"a", "b"})
    picks = [choose_pair(NAMES, {}, last=last, rng=rng) for _ in range(500)]
    assert all(frozenset(p) != last for p in picks)
    firsts = Counter(p[0] for p in picks if frozenset(p) == {"c", "d"})
    assert firsts["c"] > 20 and firsts["d"] > 20  # both orders happen


def test_under_sampled_pairs_are_preferred() -> None:
    rng = random.Random(2)
    counts = {
        frozenset(p): 50 for p in [("a", "b"), ("a", "c"), ("a", "d"), ("b", "c"), ("b", "d")]
    }
    picks = Counter(frozenset(choose_pair(NAMES, counts, rng=rng)) for _ in range(2000))
    # ("c", "d") has weight 1 against 1/51 for each other pair: ~91 % of draws.
    assert picks[frozenset({"c", "d"})] / 2000 > 0.85


def test_two_variants_always_battle_even_after_the_same_pair() -> None:
    assert set(choose_pair(["x", "y"], {}, last=frozenset({"x", "y"}))) == {"x", "y"}
    with pytest.raises(ConfigError, match="at least two"):
        choose_pair(["x"], {})


def test_battle_counts_are_read_at_most_every_max_age_and_count_draws_between() -> None:
    stored = {frozenset({"a", "b"}): 3}
    reads: list[float] = []
    now = [100.0]

    def read() -> dict[frozenset[str], int]:
        reads.append(now[0])
        return dict(stored)

    battles = BattleCounts(read, max_age_s=30, clock=lambda: now[0])
    assert battles.current() == {frozenset({"a", "b"}): 3}
    battles.drawn(("b", "a"))
    battles.drawn(("c", "d"))
    now[0] += 29.9
    # No new read yet: the store's count plus the pairs drawn since.
    assert battles.current() == {frozenset({"a", "b"}): 4, frozenset({"c", "d"}): 1}
    assert reads == [100.0]
    stored[frozenset({"a", "b"})] = 10  # other replicas' battles, seen at the next read
    now[0] += 0.1
    assert battles.current() == {frozenset({"a", "b"}): 10}
    assert reads == [100.0, 130.0]
