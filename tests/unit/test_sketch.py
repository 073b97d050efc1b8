"""The latency sketch of the dashboard's rollups: percentiles within its stated 1% of
numpy's exact ones, whatever the data and however the sketches are split and merged."""

from collections import Counter

import numpy as np
import pytest

from service.store import sketch


@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(1).lognormal(7, 1.2, 5_000),  # ms: ~1 s, long tail
        np.random.default_rng(2).uniform(0.01, 600_000, 2_000),
        np.array([250.0]),
        np.array([0.0, 0.0, 120.0, 4_000.0]),
        np.array([3.0, 3.0, 3.0, 3.0, 3.0, 90_000.0]),
    ],
)
def test_percentiles_are_within_one_percent_of_numpy(values: np.ndarray) -> None:
    # Split into three sketches (three minutes), merged as the dashboard merges them.
    parts = np.array_split(values, 3)
    blobs = [sketch.add(b"", part.tolist()) for part in parts]
    merged = sketch.merge_groups(blobs, np.array([7, 7, 7]))
    bins, counts = merged[7]
    assert int(counts.sum()) == len(values)
    for q in (0, 1, 50, 90, 99, 100):
        exact = float(np.percentile(values, q))
        estimate = sketch.percentile(bins, counts, q)
        assert abs(estimate - exact) <= sketch.ALPHA * abs(exact) + 1e-12, (q, exact, estimate)


def test_encoding_round_trips_and_adds() -> None:
    blob = sketch.add(b"", [1.0, 1.0, 2_000.0])
    blob = sketch.add(blob, [1.0])
    assert sketch.decode(blob) == Counter({sketch.bin_of(1.0): 3, sketch.bin_of(2_000.0): 1})
    assert sketch.decode(b"") == Counter()


def test_groups_stay_apart() -> None:
    blobs = [sketch.add(b"", [10.0]), sketch.add(b"", [1_000.0]), sketch.add(b"", [10.0])]
    merged = sketch.merge_groups(blobs, np.array([0, 1, 0]))
    assert sketch.percentile(*merged[0], 50) == pytest.approx(10.0, rel=sketch.ALPHA)
    assert sketch.percentile(*merged[1], 50) == pytest.approx(1_000.0, rel=sketch.ALPHA)
    assert int(merged[0][1].sum()) == 2
