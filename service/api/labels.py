"""Labels over HTTP: votes (one, or up to 1,000 in one transaction), rubric ratings with a
comment and an ideal answer, thumbs on answers, and a turn's vote history."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from service.api.deps import (
    EngineDep,
    PrincipalDep,
    RuntimeDep,
    StoreDep,
    acting_rater,
    acting_raters,
    error_responses,
)
from service.app import Runtime
from service.labels import give_feedback, record_votes
from service.schemas import (
    FeedbackIn,
    LabelsIn,
    LabelsOut,
    VoteBatchIn,
    VoteBatchOut,
    VoteIn,
    VoteOut,
)
from service.store import labels, turns, votes

router = APIRouter(tags=["votes"])
_ERRORS = error_responses(404, 409, 413, 422, 502, 503)


def _to_telemetry(runtime: Runtime, stored: list[VoteOut]) -> None:
    """New votes to telemetry, after the response (a replayed vote is not counted again)."""
    fresh = [v for v in stored if not v.replayed]
    if fresh:
        task = asyncio.create_task(
            asyncio.to_thread(record_votes, runtime.store, runtime.engine, fresh)
        )
        runtime.background.add(task)
        task.add_done_callback(runtime.background.discard)


@router.post("/api/turns/{turn_id}/labels", status_code=201, responses=_ERRORS)
async def save_labels(
    engine: EngineDep, store: StoreDep, turn_id: str, body: LabelsIn, request: Request
) -> LabelsOut:
    """Your rubric ratings (1-5) per answer, a comment and an ideal answer."""
    rater = await acting_rater(request, body.on_behalf_of)
    await engine.turn_stored(turn_id)
    return await asyncio.to_thread(labels.save_labels, store, turn_id, body, rater=rater)


@router.post("/api/turns/{turn_id}/votes", status_code=201, responses=_ERRORS)
async def cast_vote(runtime: RuntimeDep, turn_id: str, vote: VoteIn, request: Request) -> VoteOut:
    """Your vote; a new one replaces your earlier vote on a named turn. On a blind (arena)
    turn you vote once: your vote reveals the models."""
    rater = await acting_rater(request, vote.on_behalf_of)
    await runtime.engine.turn_stored(turn_id)
    stored = await asyncio.to_thread(votes.cast_vote, runtime.store, turn_id, vote, rater=rater)
    _to_telemetry(runtime, [stored])
    return stored


@router.post("/api/votes", status_code=201, responses=_ERRORS)
async def cast_votes(runtime: RuntimeDep, batch: VoteBatchIn, request: Request) -> VoteBatchOut:
    """Up to 1,000 votes on any turns in one transaction (all or nothing; a bad vote
    is named by its index). Same rules as one vote; idempotency keys make retries safe."""
    raters = await acting_raters(request, [v.on_behalf_of for v in batch.votes])
    for turn_id in {v.turn_id for v in batch.votes}:
        await runtime.engine.turn_stored(turn_id)
    stored = await asyncio.to_thread(votes.cast_votes, runtime.store, batch.votes, raters)
    _to_telemetry(runtime, stored)
    return VoteBatchOut(votes=stored)


@router.post("/api/answers/{answer_id}/feedback", status_code=201, responses=_ERRORS)
async def feedback(
    runtime: RuntimeDep, answer_id: str, body: FeedbackIn, request: Request
) -> dict[str, Any]:
    """Your thumbs up or down on one answer (the page's like buttons send this too)."""
    rater = await acting_rater(request, body.on_behalf_of)
    return await asyncio.to_thread(
        give_feedback,
        runtime.store,
        runtime.telemetry.emit,
        answer_id,
        body.value == "up",
        rater,
    )


@router.get("/api/turns/{turn_id}/votes", responses=_ERRORS)
async def vote_history(
    engine: EngineDep, store: StoreDep, principal: PrincipalDep, turn_id: str
) -> list[VoteOut]:
    """The turn's votes, oldest first: every rater's for reviewers, else your own (another
    rater's vote would tell you how a blind battle went before you vote)."""
    await engine.turn_stored(turn_id)
    await asyncio.to_thread(turns.get_turn, store, turn_id)
    history = await asyncio.to_thread(votes.vote_history, store, turn_id)
    if principal.allows("review"):
        return history
    return [v for v in history if v.rater == principal.name]
