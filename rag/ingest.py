"""Writing to a local collection. Ingesting a file reads it into sections (`prepare`: in a
worker, within the parsing limits, touching nothing), then splits them into chunks, embeds
them (reusing the stored vectors of identical chunk texts), stores the document and its
chunks in one transaction and updates the index cache (`commit`). An upload of several
files prepares them all before it commits the good ones. Deleting a document removes it
the same way."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
import structlog
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine

from rag import tables as t
from rag.chunking import ChunkDraft, split
from rag.collections import Collections, collection_row
from rag.embeddings import Embedder, EmbedderCache, Vectors
from rag.errors import NotIngestible, RagError
from rag.index_cache import IndexCache
from rag.loaders import Section, doc_type
from rag.parsing import Parser

log = structlog.get_logger(__name__)

IngestStatus = Literal["added", "replaced", "unchanged", "duplicate", "rejected"]


@dataclass(frozen=True)
class IngestOutcome:
    source: str
    status: IngestStatus
    chunks: int = 0
    message: str = ""
    document_id: int | None = None
    code: str = ""  # why it was rejected (an error code), and what to do about it
    hint: str = ""

    @classmethod
    def rejected(cls, source: str, exc: NotIngestible) -> IngestOutcome:
        return cls(source, "rejected", message=exc.message, code=exc.code, hint=exc.hint)


@dataclass(frozen=True)
class Prepared:
    """A file read into sections, not yet in the collection."""

    source: str
    kind: str
    content_hash: str
    size: int
    sections: list[Section]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Ingester:
    def __init__(
        self,
        engine: Engine,
        collections: Collections,
        embedders: EmbedderCache,
        indexes: IndexCache,
        parser: Parser,
    ) -> None:
        self.engine = engine
        self._collections = collections
        self._embedders = embedders
        self._indexes = indexes
        self._parser = parser

    def ingest(
        self,
        collection: str,
        source: str,
        data: bytes,
        *,
        text_column: str | None,
        max_bytes: int,
    ) -> IngestOutcome:
        """Add one file's content under `source` (a path or URI). Unchanged content is
        skipped, changed content replaces the document's chunks, identical content under
        another source is a duplicate. A file that cannot be read is `rejected` with the
        reason and leaves the collection as it was."""
        return self.ingest_many(collection, [(source, data)], text_column, max_bytes)[0]

    def ingest_many(
        self,
        collection: str,
        files: Sequence[tuple[str, bytes]],
        text_column: str | None,
        max_bytes: int,
    ) -> list[IngestOutcome]:
        """Read every file first, then add those that could be read: a rejected file
        touches nothing. One outcome per file, in order."""
        prepared = [
            self.prepare(collection, source, data, text_column, max_bytes) for source, data in files
        ]
        return [p if isinstance(p, IngestOutcome) else self.commit(collection, p) for p in prepared]

    def prepare(
        self, collection: str, source: str, data: bytes, text_column: str | None, max_bytes: int
    ) -> Prepared | IngestOutcome:
        """The file read into sections; or its outcome already (rejected with the reason,
        unchanged, a duplicate). Writes nothing."""
        info = self._collections.spec(collection)
        if info.kind != "local":
            raise RagError(
                f"collection {collection!r} is a Bedrock knowledge base; its documents are "
                "managed in AWS",
                code="read_only_collection",
                hint="Sync the knowledge base's data source in the Bedrock console instead.",
            )
        try:
            kind = doc_type(source)
            if len(data) > max_bytes:
                raise NotIngestible(
                    f"{source} is {len(data) / 2**20:.1f} MiB; the limit is "
                    f"{max_bytes / 2**20:.0f} MiB",
                    hint="Split it into smaller files, or raise ARBITER_RAG_MAX_FILE_MB.",
                    status=413,
                )
            content_hash = _sha256(data)
            known = self._known(info.id, source, content_hash)
            if known is not None:
                return known
            sections = self._parser.parse(source, data, text_column=text_column)
        except NotIngestible as exc:
            return IngestOutcome.rejected(source, exc)
        return Prepared(source, kind, content_hash, len(data), sections)

    def _known(self, cid: int, source: str, content_hash: str) -> IngestOutcome | None:
        """`unchanged` or `duplicate` when the collection has this content already."""
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
        return None

    def commit(self, collection: str, file: Prepared) -> IngestOutcome:
        """Chunk, embed and store a prepared file (unless an earlier file of the same
        upload had the same content)."""
        info = self._collections.spec(collection)
        cid, source = info.id, file.source
        known = self._known(cid, source, file.content_hash)
        if known is not None:
            return known
        embedder = self._embedders.get(info.embedder)
        drafts = split(file.sections, info.chunking, embedder.count_tokens)
        vectors = self._embed_reusing(cid, embedder, drafts)
        title = next((s.meta["title"] for s in file.sections if s.meta.get("title")), None)
        title = title or Path(source.rstrip("/")).name
        with self._indexes.lock(collection):
            document_id, replaced, new_keys = self._write(
                cid, source, title, file.kind, file.content_hash, file.size, drafts, vectors
            )
            self._indexes.after_write(collection, cid, removed=replaced, added=(new_keys, vectors))
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
        now = datetime.now(UTC)
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
        with self._indexes.lock(collection):
            with self.engine.begin() as conn:
                cid = collection_row(conn, collection).id
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
            self._indexes.after_write(collection, cid, removed=keys, added=None)
            self._indexes.flush(collection)
        return len(keys)
