"""Health and metrics: `/healthz` (the process answers), `/readyz` (the store and every
variant's endpoint are reachable), `/metrics` (Prometheus text exposition).

`/readyz` is open (load balancers call it without credentials) but says only whether the
service is ready; the checks, which name endpoints, are for an admin (any caller in `none`
mode), their details redacted."""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from service.access import Principal, check_scope
from service.api.deps import RuntimeDep
from service.app import Runtime
from service.errors import ArbiterError, NotFound, Unauthenticated
from service.models import probe_model
from service.redact import redact

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "not ready"}})
async def readyz(runtime: RuntimeDep, request: Request) -> JSONResponse:
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
    content: dict[str, Any] = {"ready": ready}
    if await _is_admin(runtime, request):
        content["checks"] = {
            name: {"ok": c["ok"], "detail": redact(c["detail"])} for name, c in checks.items()
        }
    return JSONResponse(status_code=200 if ready else 503, content=content)


async def _caller(runtime: Runtime, request: Request) -> Principal:
    """Who is asking, authenticated here rather than by the access middleware: these routes
    also answer callers without credentials (`/readyz` its short form, `/metrics` in `none`
    mode)."""
    client = request.client.host if request.client else None
    return await asyncio.to_thread(
        runtime.auth.authenticate, dict(request.scope["headers"]), client
    )


async def _is_admin(runtime: Runtime, request: Request) -> bool:
    try:
        principal = await _caller(runtime, request)
    except ArbiterError:
        return False
    return principal.allows("admin")


@router.get("/metrics", include_in_schema=False)
async def metrics(runtime: RuntimeDep, request: Request) -> Response:
    """Prometheus metrics (text exposition format). With authentication on, only for the
    scraper (ARBITER_METRICS_KEY) and admins: per-variant counters are not for raters."""
    if runtime.settings.auth != "none":
        await _check_scraper(runtime, request)
    if runtime.prometheus is None:
        raise NotFound("Prometheus metrics are off", hint="Set ARBITER_PROMETHEUS=true.")
    return Response(runtime.prometheus.render(), media_type=CONTENT_TYPE_LATEST)


async def _check_scraper(runtime: Runtime, request: Request) -> None:
    given = dict(request.scope["headers"]).get(b"authorization", b"").decode("latin-1")
    expected = runtime.settings.metrics_key
    if (
        expected is not None
        and given.lower().startswith("bearer ")
        and hmac.compare_digest(given[7:].strip().encode(), expected.get_secret_value().encode())
    ):
        return
    try:
        principal = await _caller(runtime, request)
    except Unauthenticated as exc:
        exc.hint = (
            "Scrape with `Authorization: Bearer <ARBITER_METRICS_KEY>` (Prometheus: "
            "`authorization: {credentials: ...}`), or use an admin key."
        )
        raise
    check_scope(principal, "admin", "read /metrics")
