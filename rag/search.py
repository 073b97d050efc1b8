"""Retrieval from one collection. Local collections are searched by vector, lexically (BM25)
or both fused by reciprocal rank, optionally narrowed by metadata filters. Knowledge Base
collections are searched through Bedrock's `Retrieve` API. Chunks can also be fetched by id."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from sqlalchemy import select
from sqlalchemy.engine import Engine

from rag import tables as t
from rag.collections import Collections, CollectionSpec
from rag.embeddings import EmbedderCache, Vectors
from rag.errors import RagError
from rag.index_cache import CollectionIndex, IndexCache
from rag.knowledge_base import KnowledgeBaseSpec, kb_ref, retrieve_from_knowledge_base
from rag.lexical import reciprocal_rank_fusion

Mode = Literal["hybrid", "vector", "lexical"]
EXACT_SEARCH_BELOW = 4096  # filtered searches over fewer chunks than this are exact
CANDIDATES = 50  # per ranker, before fusion


@dataclass(frozen=True)
class RetrievedChunk:
    """One piece of context. `ref` names it in stored answers: `chunk:<id>` for a local
    chunk, `kb:<knowledge base>:<hash>` for a Knowledge Bases result."""

    ref: str
    text: str
    source: str
    title: str
    score: float
    chunk_id: int | None = None
    document_id: int | None = None
    page: int | None = None
    row: int | None = None
    start: int | None = None
    end: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Retrieval:
    collection: str
    query: str
    mode: str
    top_k: int
    chunks: list[RetrievedChunk]
    latency_ms: float
    filters: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["chunks"] = [c.to_dict() for c in self.chunks]
        return data


def _allowed(cache: CollectionIndex, filters: dict[str, Any]) -> set[int]:
    """The chunk ids whose fields equal every filter's value (compared as strings)."""
    wanted = {k: str(v) for k, v in filters.items()}
    return {
        key
        for key, meta in cache.meta.items()
        if all(str(meta.get(k)) == v for k, v in wanted.items())
    }


def _vector_search(
    cache: CollectionIndex, query: Vectors, k: int, allowed: set[int] | None
) -> list[tuple[int, float]]:
    if allowed is not None and len(allowed) <= EXACT_SEARCH_BELOW:
        keys = sorted(allowed)
        scores = cache.vectors.vectors(keys) @ query
        order = np.argsort(-scores)[:k]
        return [(keys[i], float(scores[i])) for i in order]
    return cache.vectors.search(query, k, allowed)


def _chunk(row: Any, score: float) -> RetrievedChunk:
    return RetrievedChunk(
        ref=f"chunk:{row.id}",
        text=row.text,
        source=row.source,
        title=row.title,
        score=score,
        chunk_id=row.id,
        document_id=row.document_id,
        page=row.page,
        row=row.row,
        start=row.start_offset,
        end=row.end_offset,
    )


class Retriever:
    def __init__(
        self,
        engine: Engine,
        collections: Collections,
        embedders: EmbedderCache,
        indexes: IndexCache,
        kb_client_factory: Callable[[KnowledgeBaseSpec], Any] | None = None,
    ) -> None:
        self.engine = engine
        self._collections = collections
        self._embedders = embedders
        self._indexes = indexes
        self._kb_client_factory = kb_client_factory

    def retrieve(
        self,
        collection: str,
        query: str,
        *,
        top_k: int = 4,
        mode: Mode = "hybrid",
        filters: dict[str, Any] | None = None,
    ) -> Retrieval:
        started = time.perf_counter()
        if not query.strip():
            raise RagError("the query is empty", code="empty_query", hint="Type a question.")
        filters = dict(filters or {})
        info = self._collections.spec(collection)
        if info.kind == "knowledge_base":
            chunks = self._retrieve_kb(info, query, top_k)
        else:
            chunks = self._retrieve_local(info, query, top_k, mode, filters)
        return Retrieval(
            collection=collection,
            query=query,
            mode=mode if info.kind == "local" else "knowledge_base",
            top_k=top_k,
            chunks=chunks,
            latency_ms=(time.perf_counter() - started) * 1000,
            filters=filters,
        )

    def _retrieve_kb(self, info: CollectionSpec, query: str, top_k: int) -> list[RetrievedChunk]:
        spec = info.knowledge_base
        if spec is None or self._kb_client_factory is None:
            raise RagError(f"collection {info.name!r} has no knowledge base configured")
        client = self._kb_client_factory(spec)
        results = retrieve_from_knowledge_base(spec, client, query, top_k)
        return [
            RetrievedChunk(
                ref=kb_ref(spec.knowledge_base_id, r["source"], r["text"]),
                text=r["text"],
                source=r["source"],
                title=Path(r["source"]).name or r["source"],
                score=r["score"],
            )
            for r in results
        ]

    def _retrieve_local(
        self,
        info: CollectionSpec,
        query: str,
        top_k: int,
        mode: Mode,
        filters: dict[str, Any],
    ) -> list[RetrievedChunk]:
        # Embed before taking the collection's lock: it is the slow part.
        q = self._embedders.get(info.embedder).embed_query(query) if mode != "lexical" else None
        with self._indexes.lock(info.name):
            cache = self._indexes.load(info.name, info)
            allowed = _allowed(cache, filters) if filters else None
            if allowed is not None and not allowed:
                return []
            rankings: list[list[tuple[int, float]]] = []
            if q is not None:
                rankings.append(_vector_search(cache, q, CANDIDATES, allowed))
            if mode in ("hybrid", "lexical"):
                lexical = self._indexes.lexical(cache, info.id)
                rankings.append(lexical.search(query, CANDIDATES, allowed))
        if mode == "hybrid":
            ranked = reciprocal_rank_fusion(rankings)[:top_k]
        else:
            ranked = rankings[0][:top_k]
        return self._fetch([key for key, _ in ranked], dict(ranked))

    def _fetch(self, keys: list[int], scores: dict[int, float]) -> list[RetrievedChunk]:
        if not keys:
            return []
        with self.engine.connect() as conn:
            rows = {
                r.id: r
                for r in conn.execute(
                    select(t.chunks, t.documents.c.source, t.documents.c.title)
                    .join(t.documents, t.documents.c.id == t.chunks.c.document_id)
                    .where(t.chunks.c.id.in_(keys))
                )
            }
        return [_chunk(rows[k], scores.get(k, 0.0)) for k in keys if k in rows]

    def chunk(self, chunk_id: int) -> RetrievedChunk:
        found = self._fetch([chunk_id], {})
        if not found:
            raise RagError(
                f"chunk {chunk_id} does not exist (its document may have been re-ingested or "
                "deleted)",
                code="unknown_chunk",
                status=404,
            )
        return found[0]
