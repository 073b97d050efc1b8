"""`Library`, the one entry point to the document collections: it puts together the parts over
one database engine and one index folder. The parts are collections (`rag.collections`),
ingest (`rag.ingest`), the in-memory index cache (`rag.index_cache`) and retrieval
(`rag.search`). Reading files and S3 prefixes into a collection is `rag.sources`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from rag.chunking import ChunkSettings
from rag.collections import CollectionInfo, Collections, CollectionSpec, DocumentInfo
from rag.embeddings import Embedder, EmbedderCache, EmbedderSpec
from rag.index_cache import IndexCache
from rag.ingest import Ingester, IngestOutcome
from rag.knowledge_base import KnowledgeBaseSpec
from rag.loaders import ParseLimits
from rag.parsing import Parser
from rag.search import Mode, Retrieval, RetrievedChunk, Retriever

__all__ = ["Library"]


class Library:
    def __init__(
        self,
        engine: Engine,
        index_dir: Path,
        embedder_factory: Callable[[EmbedderSpec], Embedder],
        *,
        kb_client_factory: Callable[[KnowledgeBaseSpec], Any] | None = None,
        max_file_bytes: int = 20 * 1024 * 1024,
        parse_limits: ParseLimits = ParseLimits(),
    ) -> None:
        self.engine = engine
        self.index_dir = index_dir
        self.max_file_bytes = max_file_bytes  # read at each ingest: it may be changed
        self._collections = Collections(engine)
        self._embedders = EmbedderCache(embedder_factory)
        self._indexes = IndexCache(engine, index_dir, self._collections)
        self.parser = Parser(parse_limits)
        self._ingester = Ingester(
            engine, self._collections, self._embedders, self._indexes, self.parser
        )
        self._retriever = Retriever(
            engine, self._collections, self._embedders, self._indexes, kb_client_factory
        )

    def embedder(self, spec: EmbedderSpec) -> Embedder:
        return self._embedders.get(spec)

    # -- collections -------------------------------------------------------------------

    def collections(self) -> list[CollectionInfo]:
        return self._collections.describe_all()

    def collection(self, name: str) -> CollectionInfo:
        return self._collections.describe(name)

    def _spec(self, name: str) -> CollectionSpec:
        return self._collections.spec(name)

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
        return self._collections.create(
            name,
            embedder=embedder,
            chunking=chunking,
            knowledge_base=knowledge_base,
            exist_ok=exist_ok,
        )

    def delete_collection(self, name: str) -> None:
        with self._indexes.lock(name):
            self._collections.delete(name)
            self._indexes.forget(name)
        self._indexes.remove_files(name)

    def documents(self, collection: str) -> list[DocumentInfo]:
        return self._collections.documents(collection)

    # -- writes ------------------------------------------------------------------------

    def ingest(
        self, collection: str, source: str, data: bytes, *, text_column: str | None = None
    ) -> IngestOutcome:
        """Add one file's content under `source` (a path or URI). Unchanged content is
        skipped, changed content replaces the document's chunks, identical content under
        another source is a duplicate. A file that cannot be read is `rejected` with the
        reason and leaves the collection as it was."""
        return self._ingester.ingest(
            collection, source, data, text_column=text_column, max_bytes=self.max_file_bytes
        )

    def ingest_many(
        self,
        collection: str,
        files: Sequence[tuple[str, bytes]],
        *,
        text_column: str | None = None,
    ) -> list[IngestOutcome]:
        """Several files (source, content) at once: all are read first, then those that
        could be read are added; a rejected file leaves the collection as it was. One
        outcome per file, in order."""
        return self._ingester.ingest_many(
            collection, files, text_column=text_column, max_bytes=self.max_file_bytes
        )

    def delete_document(self, collection: str, document_id: int) -> int:
        """Remove a document and its chunks from the collection and its index."""
        return self._ingester.delete_document(collection, document_id)

    # -- indexes -----------------------------------------------------------------------

    def reindex(self, collection: str) -> int:
        """Rebuild the collection's indexes from the stored chunks; returns the chunk count."""
        return self._indexes.rebuild(collection)

    def flush(self, collection: str | None = None) -> None:
        """Write changed vector indexes to disk (after a batch of ingests or deletes)."""
        self._indexes.flush(collection)

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
        return self._retriever.retrieve(collection, query, top_k=top_k, mode=mode, filters=filters)

    def chunk(self, chunk_id: int) -> RetrievedChunk:
        return self._retriever.chunk(chunk_id)
