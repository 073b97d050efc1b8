"""A mergeable quantile sketch for durations: a sparse histogram over log-spaced bins (the
DDSketch idea, hand-written because the rollups need a compact, stable byte encoding that
SQL can store and numpy can merge in bulk).

Bin i >= 1 holds the values in (V_MIN*G^(i-1), V_MIN*G^i] with G = (1+ALPHA)/(1-ALPHA), and
is read back as 2*V_MIN*G^i/(G+1): every value read back is within a relative error ALPHA = 1%
of the true one, and so is a percentile with linear interpolation between order statistics (as
numpy's default), since it interpolates two values each within 1%. Bin 0 holds zeros and
negatives (read as 0). Values below V_MIN (1 µs, in milliseconds) are read as V_MIN."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

ALPHA = 0.01
GAMMA = (1 + ALPHA) / (1 - ALPHA)
V_MIN = 1e-3
MAX_BIN = 65535
ENTRY = np.dtype([("bin", "<u2"), ("n", "<u4")])
_LOG_GAMMA = math.log(GAMMA)


def bin_of(value: float) -> int:
    if value <= 0:
        return 0
    return min(MAX_BIN, max(1, math.ceil(math.log(value / V_MIN) / _LOG_GAMMA)))


def values_of(bins: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """The value each bin is read back as."""
    out: npt.NDArray[np.float64] = np.where(
        bins == 0, 0.0, 2 * V_MIN * np.power(GAMMA, bins.astype(np.float64)) / (GAMMA + 1)
    )
    return out


def encode(counts: Counter[int]) -> bytes:
    entries = np.array(sorted(counts.items()), dtype=np.int64).reshape(-1, 2)
    out = np.empty(len(entries), dtype=ENTRY)
    out["bin"], out["n"] = entries[:, 0], entries[:, 1]
    return out.tobytes()


def decode(blob: bytes) -> Counter[int]:
    entries = np.frombuffer(blob or b"", dtype=ENTRY)
    return Counter(dict(zip(entries["bin"].tolist(), entries["n"].tolist(), strict=True)))


def add(blob: bytes, values: Iterable[float]) -> bytes:
    counts = decode(blob)
    counts.update(bin_of(v) for v in values)
    return encode(counts)


def merge_groups(
    blobs: list[bytes], groups: npt.NDArray[np.int64]
) -> dict[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """Per group (blobs[i] belongs to groups[i]): its bins in ascending order, with counts.
    One pass over all the bytes, whatever the number of blobs."""
    if not blobs:
        return {}
    lengths = np.fromiter(map(len, blobs), dtype=np.int64, count=len(blobs)) // ENTRY.itemsize
    entries = np.frombuffer(b"".join(blobs), dtype=ENTRY)
    owner = np.repeat(groups, lengths)
    key = owner * (MAX_BIN + 1) + entries["bin"].astype(np.int64)
    keys, inverse = np.unique(key, return_inverse=True)
    counts = np.bincount(inverse, weights=entries["n"].astype(np.float64)).astype(np.int64)
    key_groups = keys // (MAX_BIN + 1)
    out = {}
    bounds = np.flatnonzero(np.diff(key_groups)) + 1
    for part_keys, part_counts in zip(
        np.split(keys, bounds), np.split(counts, bounds), strict=True
    ):
        if len(part_keys):
            out[int(part_keys[0] // (MAX_BIN + 1))] = (part_keys % (MAX_BIN + 1), part_counts)
    return out


def percentile(bins: npt.NDArray[np.int64], counts: npt.NDArray[np.int64], q: float) -> float:
    """numpy's default (linear) percentile of the values the histogram holds, each read back
    as its bin's value."""
    n = int(counts.sum())
    rank = (n - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, n - 1)
    ends = np.cumsum(counts)  # order statistic k lies in the first bin whose end > k
    x_low, x_high = values_of(bins[np.searchsorted(ends, [low, high], side="right")])
    return float(x_low + (rank - low) * (x_high - x_low))
