"""What admins look at: the audit log and the background jobs' counts."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query

from service.api.deps import RuntimeDep, StoreDep
from service.store import audit_log

router = APIRouter()


@router.get("/api/audit", tags=["admin"])
async def audit_events(
    store: StoreDep, limit: int = Query(200, ge=1, le=5000), action: str | None = None
) -> list[dict[str, Any]]:
    """Admin actions and exports, newest first: who, what, when."""
    return await asyncio.to_thread(audit_log.events, store, limit=limit, action=action)


@router.get("/api/jobs", tags=["jobs"])
async def job_counts(runtime: RuntimeDep) -> dict[str, int]:
    """Background jobs (online scoring) by state: queued, running, done, failed."""
    return await asyncio.to_thread(runtime.jobs.counts)
