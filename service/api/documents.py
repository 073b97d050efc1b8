"""Document collections for RAG: create, upload, list, delete, re-index, retrieve."""

from __future__ import annotations

import asyncio
import html
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Path, Query, Response, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from rag import (
    ChunkSettings,
    CollectionInfo,
    DocumentInfo,
    EmbedderSpec,
    IngestOutcome,
    KnowledgeBaseSpec,
    NotIngestible,
)
from service.api.deps import LibraryDep, error_responses
from service.documents import call
from service.errors import ArbiterError, ErrorCode

_ERRORS = error_responses(404, 409, 413, 415, 422, 502)

# Database row ids (32-bit integers in PostgreSQL): larger numbers are no id.
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class CollectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    embedder: EmbedderSpec = EmbedderSpec()
    chunking: ChunkSettings = ChunkSettings()
    knowledge_base: KnowledgeBaseSpec | None = Field(
        default=None, description="Retrieve from this Bedrock knowledge base instead."
    )


class RetrieveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=8000)
    top_k: int = Field(default=4, ge=1, le=50)
    mode: Literal["hybrid", "vector", "lexical"] = "hybrid"
    filters: dict[str, str | int] = Field(default_factory=dict)


async def _read_upload(upload: UploadFile, limit: int) -> bytes:
    """The upload's bytes, refusing as soon as it passes the limit (never all in memory)."""
    parts, size = [], 0
    while chunk := await upload.read(1024 * 1024):
        size += len(chunk)
        if size > limit:
            raise NotIngestible(
                f"{upload.filename} is larger than {limit / 2**20:.0f} MiB",
                hint="Split it into smaller files, or raise ARBITER_RAG_MAX_FILE_MB.",
                status=413,
            )
        parts.append(chunk)
    return b"".join(parts)


router = APIRouter(prefix="/api", tags=["documents"])


async def run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(call, fn, *args, **kwargs)


@router.get("/collections")
async def list_collections(library: LibraryDep) -> list[CollectionInfo]:
    return list(await run(library.collections))


@router.post("/collections", status_code=201, responses=_ERRORS)
async def create_collection(library: LibraryDep, body: CollectionIn) -> CollectionInfo:
    info: CollectionInfo = await run(
        library.create_collection,
        body.name,
        embedder=body.embedder,
        chunking=body.chunking,
        knowledge_base=body.knowledge_base,
    )
    return info


@router.delete("/collections/{name}", status_code=204, responses=_ERRORS)
async def delete_collection(library: LibraryDep, name: str) -> Response:
    await run(library.delete_collection, name)
    return Response(status_code=204)


@router.get("/collections/{name}/documents", responses=_ERRORS)
async def list_documents(library: LibraryDep, name: str) -> list[DocumentInfo]:
    return list(await run(library.documents, name))


@router.post(
    "/collections/{name}/documents",
    response_model=list[IngestOutcome],
    responses={
        **_ERRORS,
        207: {"description": "Some files were added, some rejected: each file's outcome."},
    },
)
async def upload_documents(
    library: LibraryDep,
    name: str,
    files: list[UploadFile] = File(description="One or more documents."),
    text_column: str | None = Form(None, description="CSV/JSONL: the column with the text."),
    create: bool = Query(False, description="Create the collection if it does not exist."),
) -> Any:
    """Ingest uploaded files. Every file is read first (within the parsing limits), then the
    good ones are added: a rejected file leaves the collection as it was. The answer lists
    each file's outcome (with the code, message and hint of a rejection): 200 when none was
    rejected, 207 when some were, 422 (an error with `files`) when all were."""
    if create:
        await run(library.create_collection, name, exist_ok=True)
    else:
        await run(library.collection, name)
    read: list[IngestOutcome | tuple[str, bytes]] = []
    for upload in files:
        source = PurePosixPath((upload.filename or "upload").replace("\\", "/")).name
        try:
            read.append((source, await _read_upload(upload, library.max_file_bytes)))
        except NotIngestible as exc:
            read.append(IngestOutcome.rejected(source, exc))
    readable = [f for f in read if isinstance(f, tuple)]
    added = iter(await run(library.ingest_many, name, readable, text_column=text_column))
    outcomes = [f if isinstance(f, IngestOutcome) else next(added) for f in read]
    await run(library.flush, name)  # one index write for the whole upload
    return _upload_response(outcomes)


def _upload_response(outcomes: list[IngestOutcome]) -> Any:
    rejected = [o for o in outcomes if o.status == "rejected"]
    if not rejected:
        return outcomes
    files = jsonable_encoder(outcomes)
    if len(rejected) < len(outcomes):
        return JSONResponse(status_code=207, content=files)
    codes = {o.code for o in rejected}
    first, one = rejected[0], len(rejected) == 1
    error = {  # the API's error, as everywhere, with every file's outcome beside it
        "code": ErrorCode(codes.pop() if len(codes) == 1 else ErrorCode.NOT_INGESTIBLE),
        "message": first.message if one else f"none of the {len(rejected)} files could be read",
        "hint": first.hint if one else "See each file's reason under `files`.",
    }
    return JSONResponse(status_code=422, content={"error": error, "files": files})


@router.delete("/collections/{name}/documents/{document_id}", responses=_ERRORS)
async def delete_document(library: LibraryDep, name: str, document_id: RowId) -> dict[str, int]:
    return {"removed_chunks": await run(library.delete_document, name, document_id)}


@router.post("/collections/{name}/reindex", responses=_ERRORS)
async def reindex(library: LibraryDep, name: str) -> dict[str, int]:
    """Rebuild the collection's search indexes from its stored chunks."""
    return {"chunks": await run(library.reindex, name)}


@router.post("/collections/{name}/retrieve", responses=_ERRORS)
async def retrieve(library: LibraryDep, name: str, body: RetrieveIn) -> dict[str, Any]:
    """What a comparison with RAG on would give the models for this query."""
    result = await run(
        library.retrieve,
        name,
        body.query,
        top_k=body.top_k,
        mode=body.mode,
        filters=dict(body.filters),
    )
    return dict(result.to_dict())


@router.get("/chunks/{chunk_id}", responses=_ERRORS)
async def get_chunk(library: LibraryDep, chunk_id: RowId) -> dict[str, Any]:
    return dict((await run(library.chunk, chunk_id)).to_dict())


chunk_pages = APIRouter(tags=["documents"])


"""`/chunks/{id}`: a chunk as a small page, where the citations in answers link."""


@chunk_pages.get("/chunks/{chunk_id}", response_class=HTMLResponse, include_in_schema=False)
async def chunk_page(library: LibraryDep, chunk_id: RowId) -> HTMLResponse:
    try:
        chunk = await asyncio.to_thread(call, library.chunk, chunk_id)
    except ArbiterError as exc:
        return HTMLResponse(
            f"<p>{html.escape(exc.message)}</p>", status_code=getattr(exc, "http_status", 500)
        )
    where = html.escape(chunk.source) + (f", page {chunk.page}" if chunk.page else "")
    where += f", row {chunk.row}" if chunk.row else ""
    return HTMLResponse(
        "<!doctype html><meta charset=utf-8><title>Source</title>"
        "<body style='font-family:system-ui;max-width:48rem;margin:2rem auto;line-height:1.5'>"
        f"<p><b>{html.escape(chunk.title)}</b> — {where} "
        f"(characters {chunk.start} to {chunk.end}, chunk {chunk.chunk_id})</p>"
        f"<pre style='white-space:pre-wrap'>{html.escape(chunk.text)}</pre></body>"
    )
