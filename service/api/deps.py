"""What a route may ask for, through FastAPI's dependency injection: the runtime's parts
and who is calling. Every dependency is `async` on purpose: FastAPI runs plain functions in
a thread pool, a hop each request would pay for nothing here."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request

from rag import Library
from service.access import LOCAL_ADMIN, Principal, audit, rater_for
from service.app import Runtime
from service.schemas import ErrorResponse
from service.serving import CompareEngine, Gateway
from service.store import Filters, Store


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error responses a route documents in the OpenAPI schema."""
    return {status: {"model": ErrorResponse} for status in statuses}


async def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(_runtime)]


async def _store(runtime: RuntimeDep) -> Store:
    return runtime.store


async def _engine(runtime: RuntimeDep) -> CompareEngine:
    return runtime.engine


async def _library(runtime: RuntimeDep) -> Library:
    return runtime.library


async def _gateway(runtime: RuntimeDep) -> Gateway:
    return runtime.gateway


async def _principal(request: Request) -> Principal:
    """Who is calling, as the access middleware authenticated them."""
    principal: Principal = getattr(request.state, "principal", LOCAL_ADMIN)
    return principal


async def acting_rater(request: Request, on_behalf_of: str | None) -> str:
    """Whose label (or turn) this is: the authenticated caller's; an admin may name another
    rater in `on_behalf_of` (imports), which is written to the audit log."""
    return (await acting_raters(request, [on_behalf_of]))[0]


async def acting_raters(request: Request, on_behalf_of: list[str | None]) -> list[str]:
    """`acting_rater` for each label of a batch, with one audit event for the batch."""
    principal = await _principal(request)
    raters = [rater_for(principal, name) for name in on_behalf_of]
    others = sorted({r for r in raters if r != principal.name})
    if others:
        runtime = await _runtime(request)
        await asyncio.to_thread(
            audit.record,
            runtime.store,
            request,
            "label.on_behalf_of",
            others[0] if len(others) == 1 else f"{len(others)} raters",
            {"path": request.url.path, "labels": len(raters), "raters": others[:100]},
        )
    return raters


async def _label_filters(
    since: datetime | None = None,
    until: datetime | None = None,
    mode: Literal["arena", "named"] | None = None,
    rag: bool | None = Query(None, description="true: RAG turns only; false: without"),
    rater: str | None = None,
    campaign: str | None = None,
    tag: str | None = Query(None, description="Only turns with this tag (category)."),
    use_case: str | None = Query(None, description="Only conversations of this use case."),
) -> Filters:
    """Which labels a read counts, from the query string (leaderboard, exports)."""
    return Filters(
        since=since,
        until=until,
        mode=mode,
        rag=rag,
        rater=rater,
        campaign=campaign,
        tag=tag,
        use_case=use_case,
    )


StoreDep = Annotated[Store, Depends(_store)]
LabelFiltersDep = Annotated[Filters, Depends(_label_filters)]
EngineDep = Annotated[CompareEngine, Depends(_engine)]
LibraryDep = Annotated[Library, Depends(_library)]
GatewayDep = Annotated[Gateway, Depends(_gateway)]
PrincipalDep = Annotated[Principal, Depends(_principal)]
