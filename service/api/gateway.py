"""The OpenAI-compatible gateway (`/v1`) and the deployments it routes by (`/api/deployments`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from service.access import audit
from service.api.deps import GatewayDep, PrincipalDep, RuntimeDep, error_responses
from service.errors import ErrorCode, InvalidRequest
from service.labels import give_feedback
from service.schemas import AnswerOut
from service.serving import (
    ChatRequest,
    Deployment,
    answer_id,
    completion,
    failure,
    parse_deployment,
    sse,
)

_ERRORS = error_responses(404, 413, 422, 429, 502, 504)


class FeedbackIn(BaseModel):
    response_id: str = Field(description="The `id` of a chat completion.")
    positive: bool = Field(description="Thumbs up (true) or down (false).")
    user: str = Field(
        default="anonymous",
        min_length=1,
        max_length=128,
        description="Your application's end user; stored under your key's name "
        "(`<key>/<user>`), so one key cannot pose as another.",
    )


router = APIRouter(tags=["gateway"])


@router.get("/v1/models")
async def models(gateway: GatewayDep) -> dict[str, Any]:
    """Deployments and variants, as OpenAI lists models."""
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": "arbiter"}
            for name in gateway.deployments.names()
        ],
    }


@router.post("/v1/chat/completions", responses=_ERRORS, response_model=None)
async def chat_completions(
    runtime: RuntimeDep,
    gateway: GatewayDep,
    body: ChatRequest,
    request: Request,
    x_arbiter_session: str | None = Header(
        None, description="Sticky routing key (e.g. a conversation id); default: `user`."
    ),
) -> JSONResponse | StreamingResponse:
    """Answer with the deployment's variant (A/B split, sticky per user or session);
    shadows get a copy in the background. `stream: true` sends server-sent events."""
    call = await gateway.start(body, x_arbiter_session)
    principal = request.state.principal

    def spend(answer: AnswerOut) -> None:  # toward the caller's daily token budget
        runtime.limiter.spend(principal, (answer.tokens_in or 0) + (answer.tokens_out or 0))

    headers = {"x-arbiter-variant": call.variant, "x-arbiter-response-id": call.response_id}
    if body.stream:
        include_usage = bool((body.stream_options or {}).get("include_usage"))

        async def events() -> AsyncIterator[str]:
            async for event in sse(call, include_usage):
                yield event
            spend(await call.answer)

        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
    answer = await call.answer
    spend(answer)
    if answer.status != "ok":
        raise failure(answer, call.cooldown_s)
    return JSONResponse(completion(call, answer), headers=headers)


@router.post("/v1/feedback", responses=_ERRORS)
async def feedback(
    runtime: RuntimeDep, principal: PrincipalDep, body: FeedbackIn
) -> dict[str, Any]:
    """Thumbs up or down on a gateway response, by its id (stored responses only: see
    the deployment's `sample_rate`)."""
    out = await asyncio.to_thread(
        give_feedback,
        runtime.store,
        runtime.telemetry.emit,
        answer_id(body.response_id),
        body.positive,
        f"{principal.name}/{body.user}",
    )
    return {"response_id": body.response_id, **out}


@router.get("/api/deployments")
async def list_deployments(gateway: GatewayDep) -> list[Deployment]:
    return gateway.deployments.all()


@router.get("/api/deployments/{name}", responses=_ERRORS)
async def get_deployment(gateway: GatewayDep, name: str) -> Deployment:
    return gateway.deployments.get(name)


@router.put("/api/deployments/{name}", responses=_ERRORS)
async def put_deployment(
    runtime: RuntimeDep, gateway: GatewayDep, name: str, body: dict[str, Any], request: Request
) -> Deployment:
    """Create or change a deployment (admin). Takes effect on the next request; audited."""
    body.setdefault("name", name)
    d = parse_deployment(body)
    if d.name != name:
        raise InvalidRequest(
            f"the body names deployment {d.name!r} but the URL names {name!r}",
            code=ErrorCode.NAME_MISMATCH,
        )
    await asyncio.to_thread(gateway.deployments.refresh)  # "before" as stored, if changed elsewhere
    before = gateway.deployments.all()
    created = await asyncio.to_thread(gateway.deployments.put, d)
    old = next((b for b in before if b.name == name), None)
    await asyncio.to_thread(
        audit.record,
        runtime.store,
        request,
        "deployment.create" if created else "deployment.update",
        name,
        {"before": old.model_dump() if old else None, "after": d.model_dump()},
    )
    return d
