"""BM25 over chunk texts (bm25s: sparse matrices, fast to build and query) with words cut
per script (`rag.words`). Rebuilt from the chunk texts when a collection changes; cheap
next to embedding."""

from __future__ import annotations

import bm25s
import numpy as np

from rag.words import words


class LexicalIndex:
    def __init__(self, keys: list[int], texts: list[str]) -> None:
        self.keys = np.asarray(keys, dtype=np.int64)
        self._position = {k: i for i, k in enumerate(keys)}
        self._bm25: bm25s.BM25 | None = None
        if texts:
            self._bm25 = bm25s.BM25()
            self._bm25.index([words(text) for text in texts], show_progress=False)

    def search(
        self, query: str, k: int, allowed: set[int] | None = None
    ) -> list[tuple[int, float]]:
        if self._bm25 is None or k <= 0:
            return []
        tokens = words(query)
        if not tokens:  # only stop words: nothing to match on
            return []
        mask = None
        if allowed is not None:
            mask = np.zeros(len(self.keys), dtype=np.float32)
            for key in allowed:
                if key in self._position:
                    mask[self._position[key]] = 1.0
        k = min(k, len(self.keys))
        docs, scores = self._bm25.retrieve(
            [tokens], k=k, weight_mask=mask, show_progress=False, n_threads=1
        )
        return [
            (int(self.keys[i]), float(s)) for i, s in zip(docs[0], scores[0], strict=True) if s > 0
        ]


def reciprocal_rank_fusion(
    rankings: list[list[tuple[int, float]]], k: int = 60
) -> list[tuple[int, float]]:
    """Merge ranked lists by summing 1 / (k + rank): robust to scores on different scales
    (Cormack et al., 2009)."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, (key, _) in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda item: item[1], reverse=True)
