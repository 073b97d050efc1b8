"""The approximate nearest-neighbour index: FAISS HNSW over inner product of normalised
vectors (= cosine), keyed by chunk id, saved to one file.

Why FAISS: well kept, answers in well under a millisecond at 100k vectors on two cores
(see `bench/bench_rag.py`), and its searches take an id selector, which gives metadata
filters and deletions without a rebuild. usearch was the first choice (it removes by key),
but its extension breaks llama.cpp's model loading in the same process (`std::bad_cast`
in the tokenizer); hnswlib has had no release since 2023; sqlite-vec searches by brute
force and would not serve a PostgreSQL store.

HNSW graphs cannot delete, so removed ids are tombstones, excluded from every search;
the caller rebuilds from the database when they pile up (`needs_rebuild`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faiss
import numpy as np
from numpy.typing import NDArray

M = 32  # graph neighbours per node
EF_CONSTRUCTION = 80
EF_SEARCH = 96  # candidates kept while searching: higher = better recall, slower


class VectorIndex:
    def __init__(self, dim: int, index: Any = None) -> None:
        self.dim = dim
        if index is None:
            hnsw = faiss.IndexHNSWFlat(dim, M, faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efConstruction = EF_CONSTRUCTION
            index = faiss.IndexIDMap2(hnsw)
        self._index = index
        self._ids: set[int] = {int(i) for i in faiss.vector_to_array(index.id_map)}
        self._dead: set[int] = set()

    def __len__(self) -> int:
        return len(self._ids) - len(self._dead)

    def keys(self) -> set[int]:
        return self._ids - self._dead

    @property
    def needs_rebuild(self) -> bool:
        return len(self._dead) > max(1000, len(self._ids) // 4)

    def add(self, keys: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        if not len(keys):
            return
        reused = self._ids.intersection(int(k) for k in keys)
        if reused:
            raise ValueError(f"ids already in the index: {sorted(reused)[:5]}")
        self._index.add_with_ids(
            np.ascontiguousarray(vectors, dtype=np.float32), keys.astype(np.int64)
        )
        self._ids.update(int(k) for k in keys)

    def remove(self, keys: list[int]) -> None:
        self._dead.update(k for k in keys if k in self._ids)

    def search(
        self, query: NDArray[np.float32], k: int, allowed: set[int] | None = None
    ) -> list[tuple[int, float]]:
        if len(self) == 0 or k <= 0:
            return []
        selector: Any = None
        if allowed is not None:
            selector = faiss.IDSelectorBatch(np.fromiter(allowed - self._dead, dtype=np.int64))
        elif self._dead:
            selector = faiss.IDSelectorNot(
                faiss.IDSelectorBatch(np.fromiter(self._dead, dtype=np.int64))
            )
        params = faiss.SearchParametersHNSW(  # type: ignore[attr-defined]  # missing from its stubs
            efSearch=max(EF_SEARCH, k), sel=selector
        )
        scores, ids = self._index.search(
            np.asarray(query, dtype=np.float32).reshape(1, -1), min(k, len(self)), params=params
        )
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def vectors(self, keys: list[int]) -> NDArray[np.float32]:
        out = np.empty((len(keys), self.dim), dtype=np.float32)
        for row, key in enumerate(keys):
            out[row] = self._index.reconstruct(int(key))
        return out

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        faiss.write_index(self._index, str(tmp))
        tmp.replace(path)  # a crash mid-save leaves the previous file intact

    @classmethod
    def load(cls, path: Path, dim: int, live: set[int]) -> VectorIndex:
        """The saved index, with every id not in `live` (deleted since) as a tombstone."""
        index = faiss.read_index(str(path))
        if index.d != dim:
            raise ValueError(f"{path} holds {index.d}-dimensional vectors, not {dim}")
        loaded = cls(dim, index)
        if not live <= loaded._ids:
            raise ValueError(f"{path} is missing chunks")
        loaded._dead = loaded._ids - live
        return loaded
