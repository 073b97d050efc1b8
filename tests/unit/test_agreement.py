"""Agreement statistics against hand-computed and textbook cases."""

from __future__ import annotations

import numpy as np
import pytest

from evals.agreement import agreement


def test_perfect_agreement() -> None:
    labels = [(i, r, "ab"[i % 2]) for i in range(6) for r in ("x", "y", "z")]
    result = agreement(labels)
    assert result.fleiss_kappa == pytest.approx(1.0) and result.alpha == pytest.approx(1.0)
    assert all(r.kappa == pytest.approx(1.0) and not r.flagged for r in result.per_rater)
    assert (result.items, result.raters, result.labels) == (6, 3, 18)


def test_two_raters_cohen_by_hand() -> None:
    # Table [[20, 5], [10, 15]]: p_o = 0.7, p_e = 0.5, kappa = 0.4.
    cells = [("a", "a", 20), ("a", "b", 5), ("b", "a", 10), ("b", "b", 15)]
    labels, item = [], 0
    for mine, theirs, n in cells:
        for _ in range(n):
            labels += [(item, "ann", mine), (item, "bob", theirs)]
            item += 1
    result = agreement(labels)
    kappas = {r.rater: r.kappa for r in result.per_rater}
    assert kappas["ann"] == pytest.approx(0.4) and kappas["bob"] == pytest.approx(0.4)
    ann = next(r for r in result.per_rater if r.rater == "ann")
    assert ann.agreement == pytest.approx(0.7) and ann.compared == 50


def test_fleiss_textbook_example() -> None:
    # Fleiss (1971) as in the usual worked example: 10 subjects, 14 raters, 5 categories.
    table = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    labels = []
    for item, counts in enumerate(table):
        rater = 0
        for category, n in enumerate(counts):
            for _ in range(n):
                labels.append((item, f"r{rater}", category + 1))
                rater += 1
    assert agreement(labels).fleiss_kappa == pytest.approx(0.210, abs=5e-4)


def test_krippendorff_alpha_with_missing_values() -> None:
    # Krippendorff's reliability data example (4 observers, 12 units, nominal): 0.743.
    nan = np.nan
    data = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ]
    labels = [
        (unit, f"o{obs}", int(v))
        for obs, row in enumerate(data)
        for unit, v in enumerate(row)
        if not np.isnan(v)
    ]
    assert agreement(labels).alpha == pytest.approx(0.743, abs=5e-4)


def test_a_rater_far_below_the_rest_is_flagged() -> None:
    truth = ["a", "b", "tie", "a", "b", "a", "b", "tie", "a", "b"]
    labels = [(i, r, v) for i, v in enumerate(truth) for r in ("p", "q", "s", "t")]
    contrarian = {"a": "b", "b": "a", "tie": "a"}
    labels += [(i, "odd", contrarian[v]) for i, v in enumerate(truth)]
    rows = {r.rater: r for r in agreement(labels).per_rater}
    assert rows["odd"].flagged and rows["odd"].kappa is not None and rows["odd"].kappa < 0
    assert not any(rows[r].flagged for r in ("p", "q", "s", "t"))


def test_undefined_statistics_are_none_not_nan() -> None:
    one_category = agreement([(i, r, "a") for i in range(3) for r in ("x", "y")])
    assert one_category.fleiss_kappa is None and one_category.alpha is None
    empty = agreement([])
    assert (empty.items, empty.fleiss_kappa, empty.alpha, empty.per_rater) == (0, None, None, [])
    latest = agreement([(0, "x", "a"), (0, "x", "b"), (0, "y", "b"), (1, "x", "a"), (1, "y", "a")])
    assert latest.labels == 4  # x's second label on item 0 replaced the first
