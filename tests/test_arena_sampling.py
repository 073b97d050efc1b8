import random
from collections import Counter

import pytest

from service.arena import choose_pair
from service.errors import ConfigError

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
