"""Documents for retrieval: the `rag` library wired to the settings (the store's database,
embedding models, AWS clients), its errors as Arbiter errors, and the bundled sample corpus."""

from service.documents.library import (
    SAMPLE_COLLECTION,
    SAMPLE_CORPORA,
    build_library,
    call,
    embed_texts,
    ingest_sample_corpus,
    rag_errors,
    retrieve,
    s3_client,
)

__all__ = [
    "SAMPLE_COLLECTION",
    "SAMPLE_CORPORA",
    "build_library",
    "call",
    "embed_texts",
    "ingest_sample_corpus",
    "rag_errors",
    "retrieve",
    "s3_client",
]
