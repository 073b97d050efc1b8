"""Each collection's search indexes, held in memory per process: the FAISS vector index, the
BM25 index and the chunks' filterable fields; and the per-collection lock that keeps them in
step with the database.

Chunks and their embeddings are rows in the database; the vector index on disk
(`<index_dir>/<collection>/vectors.faiss`) and the in-memory BM25 index are caches of
them, tagged with the collection's `generation`, which every change bumps. A process that
finds its cache older than the database (another process ingested, or the file is missing
or damaged) rebuilds it from the rows — never by embedding again."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import structlog
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from rag import tables as t
from rag.collections import Collections, CollectionSpec
from rag.embeddings import Vectors
from rag.lexical import LexicalIndex
from rag.vector_index import VectorIndex

log = structlog.get_logger(__name__)


@dataclass
class CollectionIndex:
    generation: int
    vectors: VectorIndex
    meta: dict[int, dict[str, Any]]  # chunk id -> filterable fields
    lexical: LexicalIndex | None = None
    unsaved: bool = False  # changed since the index file was written


def _filterable_fields(conn: Connection, where: Any) -> dict[int, dict[str, Any]]:
    query = (
        select(
            t.chunks.c.id,
            t.chunks.c.document_id,
            t.chunks.c.page,
            t.chunks.c.row,
            t.chunks.c.meta,
            t.documents.c.source,
            t.documents.c.title,
            t.documents.c.doc_type,
        )
        .join(t.documents, t.documents.c.id == t.chunks.c.document_id)
        .where(where)
    )
    return {
        r.id: {
            **(r.meta or {}),
            "document_id": r.document_id,
            "page": r.page,
            "row": r.row,
            "source": r.source,
            "title": r.title,
            "doc_type": r.doc_type,
        }
        for r in conn.execute(query)
    }


class IndexCache:
    def __init__(self, engine: Engine, index_dir: Path, collections: Collections) -> None:
        self.engine = engine
        self.index_dir = index_dir
        self._collections = collections
        self._indexes: dict[str, CollectionIndex] = {}
        self._locks: dict[str, threading.RLock] = {}
        self._guard = threading.Lock()

    def lock(self, name: str) -> threading.RLock:
        """The collection's lock: held while its indexes are read or changed, and around
        the database writes they must follow."""
        with self._guard:
            return self._locks.setdefault(name, threading.RLock())

    def index_path(self, name: str) -> Path:
        return self.index_dir / name / "vectors.faiss"

    def state_path(self, name: str) -> Path:
        return self.index_dir / name / "state.json"

    def forget(self, name: str) -> None:
        """Drop the collection's indexes from memory (the next use loads them again)."""
        self._indexes.pop(name, None)

    def remove_files(self, name: str) -> None:
        self.index_path(name).unlink(missing_ok=True)
        self.state_path(name).unlink(missing_ok=True)

    def after_write(
        self,
        name: str,
        cid: int,
        *,
        removed: list[int] | None,
        added: tuple[list[int], Vectors] | None,
    ) -> None:
        """Bring a loaded cache up to date in place (cheap), or drop it to be rebuilt."""
        cache = self._indexes.get(name)
        generation = self._collections.spec(name).generation
        if cache is None or cache.generation != generation - 1:
            self._indexes.pop(name, None)
            return
        try:
            if removed:
                cache.vectors.remove(removed)
                for key in removed:
                    cache.meta.pop(key, None)
            if added and added[0]:
                keys, vectors = added
                cache.vectors.add(np.asarray(keys, dtype=np.int64), vectors)
                with self.engine.connect() as conn:
                    cache.meta.update(_filterable_fields(conn, t.chunks.c.id.in_(keys)))
        except ValueError:  # an id came back (cannot happen with AUTOINCREMENT): rebuild
            cache.vectors = VectorIndex(cache.vectors.dim)
            self._indexes.pop(name, None)
            self.index_path(name).unlink(missing_ok=True)
            return
        if cache.vectors.needs_rebuild:  # too many tombstones: rebuild on the next query
            self._indexes.pop(name, None)
            self.index_path(name).unlink(missing_ok=True)
            return
        cache.lexical = None  # rebuilt on the next query that needs it
        cache.generation = generation
        # Writing the index file costs O(collection) per call, so a batch saves once, at
        # `flush`; until then a restart finds the file older than the database and
        # rebuilds it from the stored embeddings (correct, only slower).
        cache.unsaved = True

    def flush(self, collection: str | None = None) -> None:
        """Write changed vector indexes to disk (after a batch of ingests or deletes)."""
        names = [collection] if collection else list(self._indexes)
        for name in names:
            with self.lock(name):
                cache = self._indexes.get(name)
                if cache is not None and cache.unsaved:
                    self._save(name, cache)

    def _save(self, name: str, cache: CollectionIndex) -> None:
        cache.vectors.save(self.index_path(name))
        self.state_path(name).write_text(json.dumps({"generation": cache.generation}))
        cache.unsaved = False

    def rebuild(self, name: str) -> int:
        """Rebuild the collection's indexes from the stored chunks; returns the chunk count."""
        with self.lock(name):
            self._indexes.pop(name, None)
            self.index_path(name).unlink(missing_ok=True)
            cache = self.load(name)
            return len(cache.vectors)

    def load(self, name: str, spec: CollectionSpec | None = None) -> CollectionIndex:
        """The collection's cache, current with the database."""
        spec = spec or self._collections.spec(name)
        generation, cid, dim = spec.generation, spec.id, spec.embedder.dimensions
        cache = self._indexes.get(name)
        if cache is not None and cache.generation == generation:
            return cache
        with self.engine.connect() as conn:
            meta = _filterable_fields(conn, t.chunks.c.collection_id == cid)
            vectors: VectorIndex | None = None
            try:
                state = json.loads(self.state_path(name).read_text())
                if state.get("generation") == generation:
                    vectors = VectorIndex.load(self.index_path(name), dim, set(meta))
                    if vectors.needs_rebuild:
                        vectors = None
            except (OSError, ValueError, RuntimeError):
                vectors = None  # missing or damaged: rebuild below
            rebuilt = vectors is None
            if vectors is None:
                vectors = VectorIndex(dim)
                batch_keys: list[int] = []
                batch_vectors: list[Vectors] = []
                rows = conn.execution_options(yield_per=5000).execute(
                    select(t.chunks.c.id, t.chunks.c.embedding).where(
                        t.chunks.c.collection_id == cid
                    )
                )
                for key, blob in rows:
                    batch_keys.append(key)
                    batch_vectors.append(np.frombuffer(blob, dtype="<f4"))
                    if len(batch_keys) == 5000:
                        vectors.add(np.asarray(batch_keys), np.stack(batch_vectors))
                        batch_keys, batch_vectors = [], []
                if batch_keys:
                    vectors.add(np.asarray(batch_keys), np.stack(batch_vectors))
        cache = CollectionIndex(generation=generation, vectors=vectors, meta=meta)
        self._indexes[name] = cache
        if rebuilt:
            self._save(name, cache)
            log.info("rag.index_rebuilt", collection=name, chunks=len(meta))
        return cache

    def lexical(self, cache: CollectionIndex, cid: int) -> LexicalIndex:
        """The BM25 index of the collection, built from its chunk texts on first use."""
        if cache.lexical is None:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(t.chunks.c.id, t.chunks.c.text)
                    .where(t.chunks.c.collection_id == cid)
                    .order_by(t.chunks.c.id)
                ).all()
            cache.lexical = LexicalIndex([r.id for r in rows], [r.text for r in rows])
        return cache.lexical
