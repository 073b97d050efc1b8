"""Exports over HTTP: a dry-run summary, or the records as JSON lines."""

from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from service.access import audit
from service.api.deps import LabelFiltersDep, StoreDep, error_responses
from service.labels import ExportOptions, prepare

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
    dry_run: bool = Query(False, description="Only the summary: counts, balance, skips."),
) -> Response:
    """Labels as training data: one JSON record per line (Bedrock formats: the records
    only; their provenance is in the dry-run summary's rules and the CLI's sidecar)."""
    options = ExportOptions(
        format=format,
        filters=filters,
        variants=tuple(variant),
        exclude_ties=exclude_ties,
        min_agreement=min_agreement,
        redact=redact,
    )
    splits, summary = await asyncio.to_thread(prepare, store, options)
    if dry_run:
        return Response(json.dumps(summary.__dict__), media_type="application/json")
    await asyncio.to_thread(
        audit.record,
        store,
        request,
        "export",
        format,
        {"records": summary.records, "filters": str(options.filters), "redact": redact},
    )
    rows = [r.get("record", r) if "record" in r else r for r in splits.get("all", [])]
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    return Response(
        body,
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{format}.jsonl"'},
    )
