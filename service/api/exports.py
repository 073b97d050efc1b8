"""Exports over HTTP: a dry-run summary, or the records as JSON lines, streamed."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import iterate_in_threadpool

from service.access import audit
from service.api.deps import LabelFiltersDep, StoreDep, error_responses
from service.labels import ExportOptions, detailed_dry_run, dry_run, jsonl_chunks

_ERRORS = error_responses(422)


router = APIRouter(prefix="/api/exports", tags=["exports"])


@router.get("/{format}", responses=_ERRORS)
async def export(
    store: StoreDep,
    request: Request,
    format: str,
    filters: LabelFiltersDep,
    variant: list[str] = Query(default_factory=list),
    exclude_ties: bool = False,
    min_agreement: float | None = Query(None, ge=0, le=1),
    redact: bool = True,
    dry_run_: bool = Query(
        False,
        alias="dry_run",
        description="Only the summary, counted from aggregates: records (before exact "
        "repeats are dropped), skips, balance.",
    ),
    detail: bool = Query(
        False,
        description="With dry_run: also count duplicates and redactions (reads every record).",
    ),
) -> Response:
    """Labels as training data: one JSON record per line, streamed as they are read (Bedrock
    formats: the records only; their provenance is in the CLI's sidecar file)."""
    options = ExportOptions(
        format=format,
        filters=filters,
        variants=tuple(variant),
        exclude_ties=exclude_ties,
        min_agreement=min_agreement,
        redact=redact,
    )
    options.check()
    if dry_run_:
        count = detailed_dry_run if detail else dry_run
        summary = await asyncio.to_thread(count, store, options)
        return JSONResponse(dataclasses.asdict(summary))
    await asyncio.to_thread(
        audit.record,
        store,
        request,
        "export",
        format,
        {"filters": str(options.filters), "redact": redact, "streamed": True},
    )
    chunks = jsonl_chunks(store, options)
    # The first chunk is read before the response starts, so an error there (the store
    # down, a bad filter) is an error response, not a 200 with a cut body.
    first = await asyncio.to_thread(next, chunks, b"")
    return StreamingResponse(
        _body(first, chunks),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{format}.jsonl"'},
    )


async def _body(first: bytes, rest: Iterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in iterate_in_threadpool(rest):
        yield chunk
