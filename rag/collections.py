"""Collections as the database records them: one row each, with its settings (embedding
model, chunking, Knowledge Base) and its `generation`; create, describe, list and delete
them, and list the documents they hold."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection, Engine

from rag import tables as t
from rag.chunking import ChunkSettings
from rag.embeddings import EmbedderSpec
from rag.errors import EmbedderMismatch, RagError, UnknownCollection
from rag.knowledge_base import KnowledgeBaseSpec

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
class CollectionSpec:
    """A collection's settings and generation: one row, no counts (the hot path reads it)."""

    id: int
    name: str
    kind: str
    embedder: EmbedderSpec
    chunking: ChunkSettings
    knowledge_base: KnowledgeBaseSpec | None
    generation: int


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise RagError(
            f"{name!r} is not a valid collection name",
            code="invalid_collection_name",
            hint="Use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.",
        )
    return name


def collection_row(conn: Connection, name: str) -> Any:
    """The collection's row, read on the caller's connection (inside its transaction)."""
    row = conn.execute(select(t.collections).where(t.collections.c.name == name)).first()
    if row is None:
        raise UnknownCollection(name)
    return row


def _knowledge_base(row: Any) -> KnowledgeBaseSpec | None:
    return KnowledgeBaseSpec.model_validate(row.knowledge_base) if row.knowledge_base else None


def _describe(conn: Connection, row: Any) -> CollectionInfo:
    docs = conn.scalar(select(func.count()).where(t.documents.c.collection_id == row.id))
    chunk_count = conn.scalar(select(func.count()).where(t.chunks.c.collection_id == row.id))
    return CollectionInfo(
        name=row.name,
        kind=row.kind,
        embedder=EmbedderSpec.model_validate(row.embedder),
        chunking=ChunkSettings.model_validate(row.chunking),
        knowledge_base=_knowledge_base(row),
        documents=int(docs or 0),
        chunks=int(chunk_count or 0),
    )


class Collections:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def spec(self, name: str) -> CollectionSpec:
        with self.engine.connect() as conn:
            row = collection_row(conn, name)
        return CollectionSpec(
            id=row.id,
            name=row.name,
            kind=row.kind,
            embedder=EmbedderSpec.model_validate(row.embedder),
            chunking=ChunkSettings.model_validate(row.chunking),
            knowledge_base=_knowledge_base(row),
            generation=int(row.generation),
        )

    def describe_all(self) -> list[CollectionInfo]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.collections).order_by(t.collections.c.name)).all()
            return [_describe(conn, row) for row in rows]

    def describe(self, name: str) -> CollectionInfo:
        with self.engine.connect() as conn:
            return _describe(conn, collection_row(conn, name))

    def create(
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
        check_name(name)
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
                return _describe(conn, existing)
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
                    created_at=datetime.now(UTC),
                )
            )
            return _describe(conn, collection_row(conn, name))

    def delete(self, name: str) -> None:
        """Remove the collection's rows: its chunks, its documents, itself (one transaction)."""
        with self.engine.begin() as conn:
            row = collection_row(conn, name)
            conn.execute(delete(t.chunks).where(t.chunks.c.collection_id == row.id))
            conn.execute(delete(t.documents).where(t.documents.c.collection_id == row.id))
            conn.execute(delete(t.collections).where(t.collections.c.id == row.id))

    def documents(self, name: str) -> list[DocumentInfo]:
        with self.engine.connect() as conn:
            row = collection_row(conn, name)
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
