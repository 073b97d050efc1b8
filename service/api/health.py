"""Health and metrics: `/healthz` (the process answers), `/readyz` (the store and every
variant's endpoint are reachable), `/metrics` (Prometheus text exposition)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from service.api.deps import RuntimeDep
from service.errors import ArbiterError, NotFound
from service.models import probe_model

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "not ready"}})
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    checks: dict[str, dict[str, Any]] = {}
    store = runtime.store
    try:
        await asyncio.to_thread(store.ping)
        checks["store"] = {"ok": True, "detail": store.engine.url.get_backend_name()}
    except ArbiterError as exc:
        checks["store"] = {"ok": False, "detail": exc.message}
    variants = runtime.catalog.all()
    probes = await asyncio.gather(*(asyncio.to_thread(probe_model, v) for v in variants))
    for v, probe in zip(variants, probes, strict=True):
        checks[f"variant:{v.name}"] = {"ok": probe.ok, "detail": probe.detail}
    ready = all(c["ok"] for c in checks.values())
    return JSONResponse(
        status_code=200 if ready else 503, content={"ready": ready, "checks": checks}
    )


@router.get("/metrics", include_in_schema=False)
async def metrics(runtime: RuntimeDep) -> Response:
    """Prometheus metrics (text exposition format)."""
    if runtime.prometheus is None:
        raise NotFound("Prometheus metrics are off", hint="Set ARBITER_PROMETHEUS=true.")
    return Response(runtime.prometheus.render(), media_type=CONTENT_TYPE_LATEST)
