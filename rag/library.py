"""Collections of documents: ingest, list, delete, re-index, retrieve.

Chunks and their embeddings are rows in the database; the vector index on disk
(`<index_dir>/<collection>/vectors.faiss`) and the in-memory BM25 index are caches of
them, tagged with the collection's `generation`, which every change bumps. A process that
finds its cache older than the database (another process ingested, or the file is missing
or damaged) rebuilds it from the rows — never by embedding again."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import structlog
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from rag import tables as t
from rag.chunking import ChunkDraft, ChunkSettings, split
from rag.embeddings import Embedder, EmbedderSpec, Vectors
from rag.errors import EmbedderMismatch, NotIngestible, RagError, UnknownCollection
from rag.knowledge_base import KnowledgeBaseSpec, kb_ref, retrieve_from_knowledge_base
from rag.lexical import LexicalIndex, reciprocal_rank_fusion
from rag.loaders import doc_type, load
from rag.vector_index import VectorIndex

log = structlog.get_logger(__name__)

Mode = Literal["hybrid", "vector", "lexical"]
IngestStatus = Literal["added", "replaced", "unchanged", "duplicate", "rejected"]
EXACT_SEARCH_BELOW = 4096  # filtered searches over fewer chunks than this are exact
CANDIDATES = 50  # per ranker, before fusion
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    kind: str
    embedder: EmbedderSpec
    chunking: ChunkSettings
    knowledge_base: KnowledgeBaseSpec | None
    documents: int
    chunks: int


@dataclass(frozen=True)
class DocumentInfo:
    id: int
    source: str
    title: str
    doc_type: str
    size_bytes: int
    chunks: int
    content_hash: str
    updated_at: datetime


@dataclass(frozen=True)
class IngestOutcome:
    source: str
    status: IngestStatus
    chunks: int = 0
    message: str = ""
    document_id: int | None = None


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


@dataclass(frozen=True)
class _Spec:
    """A collection's settings and generation: one row, no counts (the hot path reads it)."""

    id: int
    name: str
    kind: str
    embedder: EmbedderSpec
    chunking: ChunkSettings
    knowledge_base: KnowledgeBaseSpec | None
    generation: int


@dataclass
class _Cache:
    generation: int
    vectors: VectorIndex
    meta: dict[int, dict[str, Any]]  # chunk id -> filterable fields
    lexical: LexicalIndex | None = None
    unsaved: bool = False  # changed since the index file was written


def _now() -> datetime:
    return datetime.now(UTC)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise RagError(
            f"{name!r} is not a valid collection name",
            code="invalid_collection_name",
            hint="Use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.",
        )
    return name


class Library:
    def __init__(
        self,
        engine: Engine,
        index_dir: Path,
        embedder_factory: Callable[[EmbedderSpec], Embedder],
        *,
        kb_client_factory: Callable[[KnowledgeBaseSpec], Any] | None = None,
        max_file_bytes: int = 20 * 1024 * 1024,
    ) -> None:
        self.engine = engine
        self.index_dir = index_dir
        self.max_file_bytes = max_file_bytes
        self._embedder_factory = embedder_factory
        self._kb_client_factory = kb_client_factory
        self._embedders: dict[EmbedderSpec, Embedder] = {}
        self._caches: dict[str, _Cache] = {}
        self._locks: dict[str, threading.RLock] = {}
        self._guard = threading.Lock()

    # -- collections -------------------------------------------------------------------

    def _lock(self, name: str) -> threading.RLock:
        with self._guard:
            return self._locks.setdefault(name, threading.RLock())

    def embedder(self, spec: EmbedderSpec) -> Embedder:
        with self._guard:
            found = self._embedders.get(spec)
        if found is None:
            found = self._embedder_factory(spec)
            if found.dim != spec.dimensions:
                raise EmbedderMismatch(
                    f"embedding model {spec.name} makes {found.dim}-dimensional vectors, "
                    f"the collection expects {spec.dimensions}"
                )
            with self._guard:
                found = self._embedders.setdefault(spec, found)
        return found

    def _row(self, conn: Connection, name: str) -> Any:
        row = conn.execute(select(t.collections).where(t.collections.c.name == name)).first()
        if row is None:
            raise UnknownCollection(name)
        return row

    def _spec(self, name: str) -> _Spec:
        with self.engine.connect() as conn:
            row = self._row(conn, name)
        return _Spec(
            id=row.id,
            name=row.name,
            kind=row.kind,
            embedder=EmbedderSpec.model_validate(row.embedder),
            chunking=ChunkSettings.model_validate(row.chunking),
            knowledge_base=(
                KnowledgeBaseSpec.model_validate(row.knowledge_base) if row.knowledge_base else None
            ),
            generation=int(row.generation),
        )

    def _info(self, conn: Connection, row: Any) -> CollectionInfo:
        docs = conn.scalar(select(func.count()).where(t.documents.c.collection_id == row.id))
        chunk_count = conn.scalar(select(func.count()).where(t.chunks.c.collection_id == row.id))
        return CollectionInfo(
            name=row.name,
            kind=row.kind,
            embedder=EmbedderSpec.model_validate(row.embedder),
            chunking=ChunkSettings.model_validate(row.chunking),
            knowledge_base=(
                KnowledgeBaseSpec.model_validate(row.knowledge_base) if row.knowledge_base else None
            ),
            documents=int(docs or 0),
            chunks=int(chunk_count or 0),
        )

    def collections(self) -> list[CollectionInfo]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.collections).order_by(t.collections.c.name)).all()
            return [self._info(conn, row) for row in rows]

    def collection(self, name: str) -> CollectionInfo:
        with self.engine.connect() as conn:
            return self._info(conn, self._row(conn, name))

    def create_collection(
        self,
        name: str,
        *,
        embedder: EmbedderSpec | None = None,
        chunking: ChunkSettings | None = None,
        knowledge_base: KnowledgeBaseSpec | None = None,
        exist_ok: bool = False,
    ) -> CollectionInfo:
        """A new collection; with `exist_ok`, the existing one, if its embedding model is
        the one asked for (mixing models in one index is refused)."""
        _check_name(name)
        with self.engine.begin() as conn:
            existing = conn.execute(
                select(t.collections).where(t.collections.c.name == name)
            ).first()
            if existing is not None:
                if not exist_ok:
                    raise RagError(
                        f"collection {name!r} already exists",
                        code="collection_exists",
                        hint="Pick another name, or ingest into it.",
                        status=409,
                    )
                have = EmbedderSpec.model_validate(existing.embedder)
                if embedder is not None and (have.name, have.dimensions) != (
                    embedder.name,
                    embedder.dimensions,
                ):
                    raise EmbedderMismatch(
                        f"collection {name!r} was built with {have.name} "
                        f"({have.dimensions} dimensions), not {embedder.name} "
                        f"({embedder.dimensions} dimensions)"
                    )
                return self._info(conn, existing)
            conn.execute(
                insert(t.collections).values(
                    name=name,
                    kind="knowledge_base" if knowledge_base else "local",
                    embedder=(embedder or EmbedderSpec()).model_dump(mode="json"),
                    chunking=(chunking or ChunkSettings()).model_dump(mode="json"),
                    knowledge_base=knowledge_base.model_dump(mode="json")
                    if knowledge_base
                    else None,
                    generation=0,
                    created_at=_now(),
                )
            )
            return self._info(conn, self._row(conn, name))

    def delete_collection(self, name: str) -> None:
        with self._lock(name), self.engine.begin() as conn:
            row = self._row(conn, name)
            conn.execute(delete(t.chunks).where(t.chunks.c.collection_id == row.id))
            conn.execute(delete(t.documents).where(t.documents.c.collection_id == row.id))
            conn.execute(delete(t.collections).where(t.collections.c.id == row.id))
            self._caches.pop(name, None)
        path = self._index_path(name)
        path.unlink(missing_ok=True)
        self._state_path(name).unlink(missing_ok=True)

    # -- documents ---------------------------------------------------------------------

    def documents(self, collection: str) -> list[DocumentInfo]:
        with self.engine.connect() as conn:
            row = self._row(conn, collection)
            docs = conn.execute(
                select(t.documents)
                .where(t.documents.c.collection_id == row.id)
                .order_by(t.documents.c.source)
            ).all()
        return [
            DocumentInfo(
                id=d.id,
                source=d.source,
                title=d.title,
                doc_type=d.doc_type,
                size_bytes=d.size_bytes,
                chunks=d.chunk_count,
                content_hash=d.content_hash,
                updated_at=d.updated_at,
            )
            for d in docs
        ]

    def ingest(
        self, collection: str, source: str, data: bytes, *, text_column: str | None = None
    ) -> IngestOutcome:
        """Add one file's content under `source` (a path or URI). Unchanged content is
        skipped, changed content replaces the document's chunks, identical content under
        another source is a duplicate. A file that cannot be read is `rejected` with the
        reason and leaves the collection as it was."""
        try:
            return self._ingest(collection, source, data, text_column)
        except NotIngestible as exc:
            return IngestOutcome(source, "rejected", message=exc.message)

    def _ingest(
        self, collection: str, source: str, data: bytes, text_column: str | None
    ) -> IngestOutcome:
        info = self._spec(collection)
        if info.kind != "local":
            raise RagError(
                f"collection {collection!r} is a Bedrock knowledge base; its documents are "
                "managed in AWS",
                code="read_only_collection",
                hint="Sync the knowledge base's data source in the Bedrock console instead.",
            )
        kind = doc_type(source)
        if len(data) > self.max_file_bytes:
            raise NotIngestible(
                f"{source} is {len(data) / 2**20:.1f} MiB; the limit is "
                f"{self.max_file_bytes / 2**20:.0f} MiB",
                hint="Split it into smaller files, or raise ARBITER_RAG_MAX_FILE_MB.",
                status=413,
            )
        content_hash = _sha256(data)
        cid = info.id
        with self.engine.connect() as conn:
            same_source = conn.execute(
                select(t.documents.c.id, t.documents.c.content_hash).where(
                    t.documents.c.collection_id == cid, t.documents.c.source == source
                )
            ).first()
            if same_source is not None and same_source.content_hash == content_hash:
                return IngestOutcome(source, "unchanged", document_id=same_source.id)
            twin = conn.execute(
                select(t.documents.c.source).where(
                    t.documents.c.collection_id == cid,
                    t.documents.c.content_hash == content_hash,
                    t.documents.c.source != source,
                )
            ).first()
            if twin is not None:
                return IngestOutcome(
                    source, "duplicate", message=f"same content as {twin.source}; skipped"
                )
        sections = load(source, data, text_column=text_column)
        embedder = self.embedder(info.embedder)
        drafts = split(sections, info.chunking, embedder.count_tokens)
        vectors = self._embed_reusing(cid, embedder, drafts)
        title = next((s.meta["title"] for s in sections if s.meta.get("title")), None)
        title = title or Path(source.rstrip("/")).name
        with self._lock(collection):
            document_id, replaced, new_keys = self._write(
                cid, source, title, kind, content_hash, len(data), drafts, vectors
            )
            self._after_write(collection, cid, removed=replaced, added=(new_keys, vectors))
        status: IngestStatus = "replaced" if replaced is not None else "added"
        log.info(
            "rag.ingested", collection=collection, source=source, status=status, chunks=len(drafts)
        )
        return IngestOutcome(source, status, chunks=len(drafts), document_id=document_id)

    def _embed_reusing(self, cid: int, embedder: Embedder, drafts: list[ChunkDraft]) -> Vectors:
        """Embeddings for the drafts, reusing those of identical chunk texts already in
        the collection (re-ingesting an edited file re-embeds only what changed)."""
        hashes = [_sha256(d.text.encode()) for d in drafts]
        known: dict[str, bytes] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(hashes), 500):
                for text_hash, blob in conn.execute(
                    select(t.chunks.c.text_hash, t.chunks.c.embedding).where(
                        t.chunks.c.collection_id == cid,
                        t.chunks.c.text_hash.in_(hashes[start : start + 500]),
                    )
                ):
                    known[text_hash] = blob
        vectors = np.empty((len(drafts), embedder.dim), dtype=np.float32)
        missing = [i for i, h in enumerate(hashes) if h not in known]
        if missing:
            vectors[missing] = embedder.embed_documents([drafts[i].text for i in missing])
        for i, h in enumerate(hashes):
            if h in known:
                vectors[i] = np.frombuffer(known[h], dtype="<f4")
        return vectors

    def _write(
        self,
        cid: int,
        source: str,
        title: str,
        kind: str,
        content_hash: str,
        size: int,
        drafts: list[ChunkDraft],
        vectors: Vectors,
    ) -> tuple[int, list[int] | None, list[int]]:
        """One transaction: the document row, its chunks, the generation bump. Returns the
        document id, the chunk ids it replaced (None if new) and the new chunk ids."""
        now = _now()
        with self.engine.begin() as conn:
            existing = conn.execute(
                select(t.documents.c.id).where(
                    t.documents.c.collection_id == cid, t.documents.c.source == source
                )
            ).first()
            replaced: list[int] | None = None
            fields = dict(
                title=title[:512],
                doc_type=kind,
                content_hash=content_hash,
                size_bytes=size,
                chunk_count=len(drafts),
                updated_at=now,
            )
            if existing is not None:
                document_id = existing.id
                replaced = list(
                    conn.scalars(select(t.chunks.c.id).where(t.chunks.c.document_id == document_id))
                )
                conn.execute(delete(t.chunks).where(t.chunks.c.document_id == document_id))
                conn.execute(
                    update(t.documents).where(t.documents.c.id == document_id).values(**fields)
                )
            else:
                document_id = conn.execute(
                    insert(t.documents)
                    .values(collection_id=cid, source=source, created_at=now, **fields)
                    .returning(t.documents.c.id)
                ).scalar_one()
            new_keys: list[int] = []
            if drafts:
                new_keys = list(
                    conn.scalars(
                        insert(t.chunks).returning(t.chunks.c.id, sort_by_parameter_order=True),
                        [
                            dict(
                                collection_id=cid,
                                document_id=document_id,
                                ordinal=d.ordinal,
                                text=d.text,
                                text_hash=_sha256(d.text.encode()),
                                page=d.page,
                                row=d.row,
                                start_offset=d.start,
                                end_offset=d.end,
                                meta=d.meta,
                                embedding=vectors[i].astype("<f4").tobytes(),
                            )
                            for i, d in enumerate(drafts)
                        ],
                    )
                )
            conn.execute(
                update(t.collections)
                .where(t.collections.c.id == cid)
                .values(generation=t.collections.c.generation + 1)
            )
        return document_id, replaced, new_keys

    def delete_document(self, collection: str, document_id: int) -> int:
        """Remove a document and its chunks from the collection and its index."""
        with self._lock(collection):
            with self.engine.begin() as conn:
                cid = self._row(conn, collection).id
                found = conn.execute(
                    select(t.documents.c.id).where(
                        t.documents.c.id == document_id, t.documents.c.collection_id == cid
                    )
                ).first()
                if found is None:
                    raise RagError(
                        f"collection {collection!r} has no document {document_id}",
                        code="unknown_document",
                        hint="List the documents with GET /api/collections/{name}/documents.",
                        status=404,
                    )
                keys = list(
                    conn.scalars(select(t.chunks.c.id).where(t.chunks.c.document_id == document_id))
                )
                conn.execute(delete(t.chunks).where(t.chunks.c.document_id == document_id))
                conn.execute(delete(t.documents).where(t.documents.c.id == document_id))
                conn.execute(
                    update(t.collections)
                    .where(t.collections.c.id == cid)
                    .values(generation=t.collections.c.generation + 1)
                )
            self._after_write(collection, cid, removed=keys, added=None)
            self.flush(collection)
        return len(keys)

    def reindex(self, collection: str) -> int:
        """Rebuild the collection's indexes from the stored chunks; returns the chunk count."""
        with self._lock(collection):
            self._caches.pop(collection, None)
            self._index_path(collection).unlink(missing_ok=True)
            cache = self._load(collection)
            return len(cache.vectors)

    # -- the on-disk cache -------------------------------------------------------------

    def _index_path(self, name: str) -> Path:
        return self.index_dir / name / "vectors.faiss"

    def _state_path(self, name: str) -> Path:
        return self.index_dir / name / "state.json"

    def _generation(self, name: str) -> int:
        return self._spec(name).generation

    def _after_write(
        self,
        name: str,
        cid: int,
        *,
        removed: list[int] | None,
        added: tuple[list[int], Vectors] | None,
    ) -> None:
        """Bring a loaded cache up to date in place (cheap), or drop it to be rebuilt."""
        cache = self._caches.get(name)
        generation = self._generation(name)
        if cache is None or cache.generation != generation - 1:
            self._caches.pop(name, None)
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
                    cache.meta.update(self._meta_rows(conn, t.chunks.c.id.in_(keys)))
        except ValueError:  # an id came back (cannot happen with AUTOINCREMENT): rebuild
            cache.vectors = VectorIndex(cache.vectors.dim)
            self._caches.pop(name, None)
            self._index_path(name).unlink(missing_ok=True)
            return
        if cache.vectors.needs_rebuild:  # too many tombstones: rebuild on the next query
            self._caches.pop(name, None)
            self._index_path(name).unlink(missing_ok=True)
            return
        cache.lexical = None  # rebuilt on the next query that needs it
        cache.generation = generation
        # Writing the index file costs O(collection) per call, so a batch saves once, at
        # `flush`; until then a restart finds the file older than the database and
        # rebuilds it from the stored embeddings (correct, only slower).
        cache.unsaved = True

    def _meta_rows(self, conn: Connection, where: Any) -> dict[int, dict[str, Any]]:
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

    def flush(self, collection: str | None = None) -> None:
        """Write changed vector indexes to disk (after a batch of ingests or deletes)."""
        names = [collection] if collection else list(self._caches)
        for name in names:
            with self._lock(name):
                cache = self._caches.get(name)
                if cache is not None and cache.unsaved:
                    self._save(name, cache)

    def _save(self, name: str, cache: _Cache) -> None:
        cache.vectors.save(self._index_path(name))
        self._state_path(name).write_text(json.dumps({"generation": cache.generation}))
        cache.unsaved = False

    def _load(self, name: str, spec: _Spec | None = None) -> _Cache:
        """The collection's cache, current with the database."""
        spec = spec or self._spec(name)
        generation, cid, dim = spec.generation, spec.id, spec.embedder.dimensions
        cache = self._caches.get(name)
        if cache is not None and cache.generation == generation:
            return cache
        with self.engine.connect() as conn:
            meta = self._meta_rows(conn, t.chunks.c.collection_id == cid)
            vectors: VectorIndex | None = None
            try:
                state = json.loads(self._state_path(name).read_text())
                if state.get("generation") == generation:
                    vectors = VectorIndex.load(self._index_path(name), dim, set(meta))
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
        cache = _Cache(generation=generation, vectors=vectors, meta=meta)
        self._caches[name] = cache
        if rebuilt:
            self._save(name, cache)
            log.info("rag.index_rebuilt", collection=name, chunks=len(meta))
        return cache

    def _lexical(self, cache: _Cache, cid: int) -> LexicalIndex:
        if cache.lexical is None:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(t.chunks.c.id, t.chunks.c.text)
                    .where(t.chunks.c.collection_id == cid)
                    .order_by(t.chunks.c.id)
                ).all()
            cache.lexical = LexicalIndex([r.id for r in rows], [r.text for r in rows])
        return cache.lexical

    # -- retrieval ---------------------------------------------------------------------

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
        info = self._spec(collection)
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

    def _retrieve_kb(self, info: _Spec, query: str, top_k: int) -> list[RetrievedChunk]:
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
        info: _Spec,
        query: str,
        top_k: int,
        mode: Mode,
        filters: dict[str, Any],
    ) -> list[RetrievedChunk]:
        # Embed before taking the collection's lock: it is the slow part.
        q = self.embedder(info.embedder).embed_query(query) if mode != "lexical" else None
        with self._lock(info.name):
            cache = self._load(info.name, info)
            allowed = self._allowed(cache, filters) if filters else None
            if allowed is not None and not allowed:
                return []
            rankings: list[list[tuple[int, float]]] = []
            if q is not None:
                rankings.append(self._vector_search(cache, q, CANDIDATES, allowed))
            if mode in ("hybrid", "lexical"):
                rankings.append(self._lexical(cache, info.id).search(query, CANDIDATES, allowed))
        if mode == "hybrid":
            ranked = reciprocal_rank_fusion(rankings)[:top_k]
        else:
            ranked = rankings[0][:top_k]
        return self._fetch([key for key, _ in ranked], dict(ranked))

    def _allowed(self, cache: _Cache, filters: dict[str, Any]) -> set[int]:
        wanted = {k: str(v) for k, v in filters.items()}
        return {
            key
            for key, meta in cache.meta.items()
            if all(str(meta.get(k)) == v for k, v in wanted.items())
        }

    def _vector_search(
        self, cache: _Cache, query: Vectors, k: int, allowed: set[int] | None
    ) -> list[tuple[int, float]]:
        if allowed is not None and len(allowed) <= EXACT_SEARCH_BELOW:
            keys = sorted(allowed)
            scores = cache.vectors.vectors(keys) @ query
            order = np.argsort(-scores)[:k]
            return [(keys[i], float(scores[i])) for i in order]
        return cache.vectors.search(query, k, allowed)

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


def iter_files(paths: Iterable[Path]) -> list[Path]:
    """Files under the given paths (folders walked recursively, hidden files skipped), in a
    stable order; unsupported files are kept so they can be reported, not silently skipped."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        else:
            found.append(path)
    return found


def read_limited(path: Path, limit: int) -> bytes:
    """The file's bytes, refusing before reading when it is over the limit."""
    size = path.stat().st_size
    if size > limit:
        raise NotIngestible(
            f"{path} is {size / 2**20:.1f} MiB; the limit is {limit / 2**20:.0f} MiB",
            hint="Split it into smaller files, or raise ARBITER_RAG_MAX_FILE_MB.",
            status=413,
        )
    return path.read_bytes()


def ingest_sources(
    library: Library,
    collection: str,
    sources: Sequence[str],
    *,
    text_column: str | None = None,
    s3_client_factory: Callable[[], Any] | None = None,
    on_progress: Callable[[IngestOutcome, int, int], None] | None = None,
) -> list[IngestOutcome]:
    """Ingest local files, folders and `s3://bucket/prefix` URIs, one outcome per file."""
    from rag.s3 import list_s3

    plan: list[tuple[str, Callable[[], bytes]]] = []
    for source in sources:
        if source.startswith("s3://"):
            if s3_client_factory is None:
                raise RagError("S3 sources need AWS credentials configured", code="no_s3")
            client = s3_client_factory()
            for uri, size in list_s3(client, source):
                plan.append((uri, _s3_reader(client, uri, size, library.max_file_bytes)))
        else:
            path = Path(source)
            if not path.exists():
                plan.append((source, _missing(source)))
                continue
            for file in iter_files([path]):
                plan.append((str(file), _file_reader(file, library.max_file_bytes)))
    outcomes = []
    for done, (source, read) in enumerate(plan, start=1):
        try:
            outcome = library.ingest(collection, source, read(), text_column=text_column)
        except NotIngestible as exc:
            outcome = IngestOutcome(source, "rejected", message=exc.message)
        outcomes.append(outcome)
        if on_progress:
            on_progress(outcome, done, len(plan))
    library.flush(collection)
    return outcomes


def _file_reader(path: Path, limit: int) -> Callable[[], bytes]:
    return lambda: read_limited(path, limit)


def _s3_reader(client: Any, uri: str, size: int, limit: int) -> Callable[[], bytes]:
    from rag.s3 import read_s3

    def read() -> bytes:
        if size > limit:
            raise NotIngestible(
                f"{uri} is {size / 2**20:.1f} MiB; the limit is {limit / 2**20:.0f} MiB",
                status=413,
            )
        return read_s3(client, uri)

    return read


def _missing(source: str) -> Callable[[], bytes]:
    def read() -> bytes:
        raise NotIngestible(f"{source} does not exist", hint="Check the path.", status=404)

    return read
