"""Comparisons over HTTP: one prompt to 2-4 variants (JSON when every pane has ended, or
Server-Sent Events as they stream), and the stored turns (list, read, cancel)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Query, Request
from sse_starlette.sse import EventSourceResponse

from service.access import Principal
from service.api.deps import EngineDep, PrincipalDep, StoreDep, acting_rater, error_responses
from service.errors import ArbiterError, ErrorCode, Forbidden, InvalidRequest, NotFound
from service.schemas import CompareRequest, TurnOut, TurnPageOut
from service.serving import CompareEvent, blind, blind_answer
from service.store import turns

router = APIRouter()
_ERRORS = error_responses(404, 409, 413, 422, 502, 503)


def _spend(request: Request, answer: dict[str, Any]) -> None:
    """An answer's tokens toward the caller's daily budget."""
    principal = getattr(request.state, "principal", None)
    if principal is not None:
        tokens = (answer.get("tokens_in") or 0) + (answer.get("tokens_out") or 0)
        request.app.state.runtime.limiter.spend(principal, tokens)


@router.post("/api/compare", tags=["compare"], responses=_ERRORS)
async def compare(
    engine: EngineDep, store: StoreDep, req: CompareRequest, request: Request
) -> TurnOut:
    """Run a comparison and answer when every pane has finished (or failed). An arena
    turn's answers are anonymous (no model, cost, tokens or timings) until you vote."""
    rater = await acting_rater(request, req.on_behalf_of)
    turn_id = None
    async for event in engine.run(req, rater=rater):
        if event.kind == "turn":
            turn_id = event.data["turn_id"]
        elif event.kind == "answer":
            _spend(request, event.data)
    assert turn_id is not None
    turn = await asyncio.to_thread(turns.get_turn, store, turn_id, voter=rater)
    return blind(turn, rater)


@router.post(
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
async def compare_stream(
    engine: EngineDep, req: CompareRequest, request: Request
) -> EventSourceResponse:
    """Server-Sent Events: `turn`, then `token` and `answer` events as panes progress, then
    `done`. In an arena turn they name no model and show no cost, tokens or timings."""
    rater = await acting_rater(request, req.on_behalf_of)
    events = engine.run(req, rater=rater)
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


def _sse(event: CompareEvent, arena: bool) -> dict[str, str]:
    data = event.data
    if arena and event.kind == "turn":
        data = {**data, "panes": [{"pane": p["pane"]} for p in data["panes"]]}
    elif arena and event.kind == "answer":
        data = blind_answer(data)
    return {"event": event.kind, "data": json.dumps(data)}


@router.get("/api/turns", tags=["turns"])
async def list_turns(
    store: StoreDep,
    principal: PrincipalDep,
    limit: int = Query(50, ge=1, le=500),
    after: str | None = Query(
        None, max_length=200, description="The `next` cursor of the previous page."
    ),
    rater: str | None = Query(None, description="Only this rater's turns."),
    q: str | None = Query(None, max_length=200, description="Text in the prompt or an answer."),
    use_case: str | None = Query(None, description="Only conversations of this use case."),
    offset: str | None = Query(None, include_in_schema=False),
) -> TurnPageOut:
    """Turns, newest first: your own, or (reviewers and admins) anyone's. A page at a time:
    pass its `next` as `after` for the next one (`next` is null on the last page)."""
    if offset is not None:
        raise InvalidRequest(
            "`offset` is no longer supported: turns are listed a page at a time by cursor",
            code=ErrorCode.INVALID_CURSOR,
            hint="Leave out `offset`; pass the previous page's `next` as `after`.",
        )
    if not principal.allows("review"):
        if rater not in (None, principal.name):
            raise Forbidden(
                f"{principal.name} may list only their own turns",
                hint="Leave out `rater`; reviewers and admins may list anyone's.",
            )
        rater = principal.name
    page = await asyncio.to_thread(
        turns.turn_page,
        store,
        limit=limit,
        after=after,
        rater=rater,
        query=q,
        use_case=use_case,
        voter=principal.name,
    )
    return TurnPageOut(turns=[blind(t, principal.name) for t in page.turns], next=page.next)


@router.get("/api/turns/{turn_id}", tags=["turns"], responses=_ERRORS)
async def get_turn(
    engine: EngineDep, store: StoreDep, principal: PrincipalDep, turn_id: str
) -> TurnOut:
    """A turn you asked, voted on, or rate in a campaign (reviewers and admins: any); an
    arena turn is anonymous until your own vote on it is stored."""
    await engine.turn_stored(turn_id)
    turn = await asyncio.to_thread(turns.get_turn, store, turn_id, voter=principal.name)
    if not may_read(principal, turn):
        raise NotFound(f"turn {turn_id} does not exist")
    return blind(turn, principal.name)


def may_read(principal: Principal, turn: TurnOut) -> bool:
    """Someone else's turn holds their prompt, which is theirs to show."""
    return (
        principal.allows("review")
        or turn.rater == principal.name
        or turn.vote is not None  # voted on it: `turn.vote` is the caller's own
        or (turn.rater or "").startswith("campaign:")
    )


@router.post("/api/turns/{turn_id}/cancel", tags=["turns"], responses=_ERRORS)
async def cancel_turn(engine: EngineDep, turn_id: str) -> dict[str, int]:
    return {"cancelled_panes": engine.cancel(turn_id)}
