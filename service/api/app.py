"""The FastAPI application: access control and error handling around one router per
feature, and the lifespan that runs the background work beside the requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service.api import (
    admin,
    campaigns,
    compare,
    discover,
    documents,
    evals,
    exports,
    gateway,
    health,
    keys,
    labels,
    leaderboard,
    tunings,
    usecases,
    variants,
)
from service.api.access import AccessControl
from service.api.errors import install_error_handlers
from service.app import Runtime, running

ROUTERS = [
    health.router,
    variants.router,
    discover.router,
    admin.router,
    compare.router,
    labels.router,
    documents.router,
    evals.router,
    leaderboard.router,
    exports.router,
    campaigns.router,
    tunings.router,
    usecases.router,
    gateway.router,
    keys.router,
    documents.chunk_pages,
]


def create_app(runtime: Runtime) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with running(runtime):
            yield

    app = FastAPI(
        title="Arbiter",
        version="0.1.0",
        description="Compare generative models side by side, collect preference labels, watch quality.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    app.add_middleware(
        AccessControl,
        auth=runtime.auth,
        limiter=runtime.limiter,
        max_body_bytes=runtime.settings.max_request_mb * 2**20,
        links=runtime.links,
    )
    for router in ROUTERS:
        app.include_router(router)
    return app
