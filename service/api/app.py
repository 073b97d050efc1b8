"""FastAPI application: compare (SSE and JSON), turns, votes, variants, health."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sse_starlette.sse import EventSourceResponse

from service.access import audit
from service.api.access import AccessControl
from service.api.campaigns import campaigns_router
from service.api.documents import chunk_page_router, documents_router
from service.api.errors import install_error_handlers
from service.api.evals import evals_router
from service.api.exports import exports_router
from service.api.gateway import gateway_router
from service.api.keys import keys_router
from service.api.leaderboard import leaderboard_router
from service.api.usecases import usecases_router
from service.app.runtime import Runtime
from service.errors import ArbiterError, Conflict, NotFound
from service.labels.feedback import give_feedback
from service.models.providers import probe_model
from service.models.variants import Variant
from service.schemas import (
    CompareRequest,
    ErrorResponse,
    FeedbackIn,
    LabelsIn,
    LabelsOut,
    TurnOut,
    VariantOut,
    VoteBatchIn,
    VoteBatchOut,
    VoteIn,
    VoteOut,
)
from service.serving.arena import blind
from service.serving.compare import CompareEvent
from service.store import labels, turns, variants, votes

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (404, 409, 413, 422, 502, 503)
}


def _variant_out(runtime: Runtime, v: Variant) -> VariantOut:
    return VariantOut(
        name=v.name,
        description=v.description,
        provider=v.provider,
        model=v.model_label,
        params=v.params,
        system_prompt=v.system_prompt,
        uses_context=v.rag.use_context,
        source=runtime.catalog.source(v.name),
    )


def _spend(request: Request, answer: dict[str, Any]) -> None:
    """An answer's tokens toward the caller's daily budget."""
    principal = getattr(request.state, "principal", None)
    if principal is not None:
        tokens = (answer.get("tokens_in") or 0) + (answer.get("tokens_out") or 0)
        request.app.state.runtime.limiter.spend(principal, tokens)


def create_app(runtime: Runtime) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if runtime.settings.worker:
            await runtime.start_worker()
        runtime.start_goal_monitor()
        runtime.start_limits_sync()
        try:
            yield
        finally:
            # Answers in flight are stored (and shadows finish) before the worker stops.
            await runtime.gateway.drain(timeout_s=30)
            await runtime.stop_goal_monitor()
            await runtime.stop_limits_sync()
            await runtime.stop_worker()  # the job under way finishes; queued ones wait in the store

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
    )
    engine = runtime.engine
    store = runtime.store

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: {"description": "not ready"}})
    async def readyz() -> JSONResponse:
        checks: dict[str, dict[str, Any]] = {}
        try:
            await asyncio.to_thread(store.ping)
            checks["store"] = {"ok": True, "detail": store.engine.url.get_backend_name()}
        except ArbiterError as exc:
            checks["store"] = {"ok": False, "detail": exc.message}
        probes = await asyncio.gather(
            *(asyncio.to_thread(probe_model, v) for v in runtime.catalog.all())
        )
        for v, probe in zip(runtime.catalog.all(), probes, strict=True):
            checks[f"variant:{v.name}"] = {"ok": probe.ok, "detail": probe.detail}
        ready = all(c["ok"] for c in checks.values())
        return JSONResponse(
            status_code=200 if ready else 503, content={"ready": ready, "checks": checks}
        )

    @app.get("/api/jobs", tags=["jobs"])
    async def job_counts() -> dict[str, int]:
        """Background jobs (online scoring) by state: queued, running, done, failed."""
        return await asyncio.to_thread(runtime.jobs.counts)

    @app.get("/api/variants", tags=["variants"])
    async def list_variants() -> list[VariantOut]:
        return [_variant_out(runtime, v) for v in runtime.catalog.all()]

    @app.post("/api/variants", tags=["variants"], status_code=201, responses=_ERRORS)
    async def create_variant(variant: Variant, request: Request) -> VariantOut:
        """Add a variant (admin; audited)."""
        if variant.name in runtime.catalog.names():
            raise Conflict(
                f"a variant named {variant.name!r} already exists", hint="Pick another name."
            )
        await asyncio.to_thread(variants.add_variant, store, variant)
        runtime.catalog.add(variant)
        runtime.gateway.deployments.known_variant(variant.name)
        await asyncio.to_thread(
            audit.record,
            store,
            request,
            "variant.create",
            variant.name,
            {"provider": variant.provider, "model": variant.model_label},
        )
        return _variant_out(runtime, variant)

    @app.get("/api/audit", tags=["admin"])
    async def audit_log(
        limit: int = Query(200, ge=1, le=5000), action: str | None = None
    ) -> list[dict[str, Any]]:
        """Admin actions and exports, newest first: who, what, when."""
        return await asyncio.to_thread(audit.events, store, limit=limit, action=action)

    @app.post("/api/compare", tags=["compare"], responses=_ERRORS)
    async def compare(req: CompareRequest, request: Request) -> TurnOut:
        """Run a comparison and answer when every pane has finished (or failed)."""
        turn_id = None
        async for event in engine.run(req):
            if event.kind == "turn":
                turn_id = event.data["turn_id"]
            elif event.kind == "answer":
                _spend(request, event.data)
        assert turn_id is not None
        return blind(await asyncio.to_thread(turns.get_turn, store, turn_id))

    @app.post(
        "/api/compare/stream",
        tags=["compare"],
        responses={
            **_ERRORS,
            200: {
                "content": {"text/event-stream": {}},
                "description": "SSE: turn, token, answer, done",
            },
        },
    )
    async def compare_stream(req: CompareRequest, request: Request) -> EventSourceResponse:
        """Server-Sent Events: `turn`, then `token` and `answer` events as panes progress, then `done`."""
        events = engine.run(req)
        first = await anext(events)  # validation and store errors surface here as JSON errors

        async def body() -> AsyncIterator[dict[str, str]]:
            arena = req.mode == "arena"
            yield _sse(first, arena)
            try:
                async for event in events:
                    if event.kind == "answer":
                        _spend(request, event.data)
                    yield _sse(event, arena)
            except ArbiterError as exc:
                yield {"event": "error", "data": json.dumps(exc.to_dict())}

        return EventSourceResponse(body(), ping=15)

    @app.get("/api/turns", tags=["turns"])
    async def list_turns(
        limit: int = Query(50, ge=1, le=500),
        offset: int = Query(0, ge=0, le=1_000_000_000),
        rater: str | None = Query(None, description="Only this rater's turns."),
        q: str | None = Query(None, max_length=200, description="Text in the prompt or an answer."),
        use_case: str | None = Query(None, description="Only conversations of this use case."),
    ) -> list[TurnOut]:
        found = await asyncio.to_thread(
            turns.list_turns,
            store,
            limit=limit,
            offset=offset,
            rater=rater,
            query=q,
            use_case=use_case,
        )
        return [blind(t) for t in found]

    @app.get("/api/turns/{turn_id}", tags=["turns"], responses=_ERRORS)
    async def get_turn(turn_id: str) -> TurnOut:
        await engine.turn_stored(turn_id)
        return blind(await asyncio.to_thread(turns.get_turn, store, turn_id))

    @app.post("/api/turns/{turn_id}/labels", tags=["votes"], status_code=201, responses=_ERRORS)
    async def save_labels(turn_id: str, body: LabelsIn) -> LabelsOut:
        """Rubric ratings (1-5) per answer, a comment and an ideal answer."""
        await engine.turn_stored(turn_id)
        return await asyncio.to_thread(labels.save_labels, store, turn_id, body)

    @app.post("/api/turns/{turn_id}/cancel", tags=["turns"], responses=_ERRORS)
    async def cancel_turn(turn_id: str) -> dict[str, int]:
        return {"cancelled_panes": engine.cancel(turn_id)}

    @app.post("/api/turns/{turn_id}/votes", tags=["votes"], status_code=201, responses=_ERRORS)
    async def cast_vote(turn_id: str, vote: VoteIn) -> VoteOut:
        await engine.turn_stored(turn_id)
        stored = await asyncio.to_thread(votes.cast_vote, store, turn_id, vote)
        record_votes([stored])
        return stored

    @app.post("/api/votes", tags=["votes"], status_code=201, responses=_ERRORS)
    async def cast_votes(batch: VoteBatchIn) -> VoteBatchOut:
        """Up to 1,000 votes on any turns in one transaction (all or nothing; a bad vote
        is named by its index). Same rules as one vote; idempotency keys make retries safe."""
        for turn_id in {v.turn_id for v in batch.votes}:
            await engine.turn_stored(turn_id)
        stored = await asyncio.to_thread(votes.cast_votes, store, batch.votes)
        record_votes(stored)
        return VoteBatchOut(votes=stored)

    def record_votes(stored: list[VoteOut]) -> None:
        """New votes to telemetry, after the response (a replayed vote is not counted again)."""
        fresh = [v for v in stored if not v.replayed]
        if fresh:
            task = asyncio.create_task(asyncio.to_thread(runtime.record_votes, fresh))
            runtime.background.add(task)
            task.add_done_callback(runtime.background.discard)

    @app.post(
        "/api/answers/{answer_id}/feedback", tags=["votes"], status_code=201, responses=_ERRORS
    )
    async def feedback(answer_id: str, body: FeedbackIn) -> dict[str, Any]:
        """Thumbs up or down on one answer (the page's like buttons send this too)."""
        return await asyncio.to_thread(
            give_feedback, runtime, answer_id, body.value == "up", body.rater
        )

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        """Prometheus metrics (text exposition format)."""
        if runtime.prometheus is None:
            raise NotFound("Prometheus metrics are off", hint="Set ARBITER_PROMETHEUS=true.")
        return Response(runtime.prometheus.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/turns/{turn_id}/votes", tags=["votes"], responses=_ERRORS)
    async def vote_history(turn_id: str) -> list[VoteOut]:
        await engine.turn_stored(turn_id)
        await asyncio.to_thread(turns.get_turn, store, turn_id)
        return await asyncio.to_thread(votes.vote_history, store, turn_id)

    app.include_router(documents_router(runtime.library))
    app.include_router(evals_router(runtime))
    app.include_router(leaderboard_router(runtime.store))
    app.include_router(exports_router(runtime.store))
    app.include_router(campaigns_router(runtime))
    app.include_router(usecases_router(runtime))
    app.include_router(gateway_router(runtime, runtime.gateway))
    app.include_router(keys_router(runtime))
    app.include_router(chunk_page_router(runtime.library))
    return app


def _sse(event: CompareEvent, arena: bool) -> dict[str, str]:
    data = event.data
    if arena and event.kind == "turn":
        data = {**data, "panes": [{"pane": p["pane"]} for p in data["panes"]]}
    elif arena and event.kind == "answer":
        data = {k: v for k, v in data.items() if k not in ("variant", "context_refs")}
    return {"event": event.kind, "data": json.dumps(data)}
