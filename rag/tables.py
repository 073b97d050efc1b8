"""Where collections, documents and chunks live: the same database as the rest of Arbiter
(SQLite or PostgreSQL). Chunk rows keep their embedding, so the on-disk vector index is a
cache that can always be rebuilt without calling the embedding model again. `service`
creates these tables in its migrations."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

collections = Table(
    "rag_collections",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),  # local | knowledge_base
    Column("embedder", JSON, nullable=False),  # EmbedderSpec
    Column("chunking", JSON, nullable=False),  # ChunkSettings
    Column("knowledge_base", JSON),  # KnowledgeBaseSpec when kind == knowledge_base
    Column("generation", Integer, nullable=False, default=0),  # bumped on every change
    Column("created_at", DateTime(timezone=True), nullable=False),
)

documents = Table(
    "rag_documents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("collection_id", ForeignKey("rag_collections.id"), nullable=False, index=True),
    Column("source", String(1024), nullable=False),  # path or URI, as given
    Column("title", String(512), nullable=False),
    Column("doc_type", String(16), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("chunk_count", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("collection_id", "source"),
)

chunks = Table(
    "rag_chunks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # also the vector-index key
    Column("collection_id", ForeignKey("rag_collections.id"), nullable=False, index=True),
    Column("document_id", ForeignKey("rag_documents.id"), nullable=False, index=True),
    Column("ordinal", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("text_hash", String(64), nullable=False, index=True),
    Column("page", Integer),
    Column("row", Integer),
    Column("start_offset", Integer, nullable=False),
    Column("end_offset", Integer, nullable=False),
    Column("meta", JSON, nullable=False),
    Column("embedding", LargeBinary, nullable=False),  # float32, little-endian
    sqlite_autoincrement=True,  # ids are never reused: the vector index keys on them
)
