"""The judge's OpenAI-compatible gateway, in process: `POST /v1/chat/completions` answered
by any variant of the catalog, reached by an OpenAI client over an ASGI transport (no
socket, no network hop). This is how ragas — which speaks only to OpenAI-style clients
through instructor — is judged by an Arbiter variant (Bedrock, SageMaker, OpenAI-compatible
or the local model).

It takes the public gateway's request model (`serving.ChatRequest`) and answers in the same
shape, but it is its own small app rather than the public `/v1` route: judge calls are not
traffic, so they must not be stored as gateway turns (the online scorer would then score
its own judge calls, and judge them again), nor count against an API key's budget. Each
variant judges on its own model instance, apart from the compare panes."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from service.errors import ArbiterError, ErrorCode
from service.ids import new_id
from service.models import Catalog, classify_error
from service.redact import redact
from service.serving import ChatRequest

if TYPE_CHECKING:
    from ragas.llms.base import InstructorBaseRagasLLM

JUDGE_SLOT = 100  # the judge gets its own model instance, apart from the compare panes
BASE_URL = "http://arbiter.judge/v1"  # never resolved: the ASGI transport answers


def _error(status: int, code: str, message: str) -> JSONResponse:
    """OpenAI's error shape. Redacted, as the public gateway's: a provider's message may
    quote a URL with credentials, and it ends up in a stored score's error."""
    error = {"message": redact(message), "type": code, "code": code, "param": None}
    return JSONResponse(status_code=status, content={"error": error})


def judge_app(catalog: Catalog) -> FastAPI:
    """An ASGI app answering chat completions with the named variant."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Any, exc: RequestValidationError) -> JSONResponse:
        return _error(422, ErrorCode.INVALID_REQUEST, str(exc.errors()))

    @app.post("/v1/chat/completions")
    async def chat_completions(body: ChatRequest) -> JSONResponse:
        try:
            text = await asyncio.to_thread(_answer, catalog, body)
        except ArbiterError as exc:
            message = f"{exc.message}. {exc.hint}" if exc.hint else exc.message
            return _error(exc.http_status, exc.code, message)
        return JSONResponse(
            {
                "id": f"chatcmpl-{new_id()}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
            }
        )

    return app


def _answer(catalog: Catalog, body: ChatRequest) -> str:
    variant = catalog.get(body.model)
    model = catalog.model(variant, JUDGE_SLOT)
    params = variant.params.merged(body.params())
    messages: list[tuple[str, str]] = []
    if variant.system_prompt:
        messages.append(("system", variant.system_prompt))
    for m in body.messages:
        role = {"developer": "system", "tool": "user"}.get(m.role, m.role)
        messages.append((role, m.text()))
    try:
        reply = model.invoke(messages, **params.call_kwargs())
    except Exception as exc:
        raise classify_error(exc) from exc
    return str(reply.text)


def ragas_llm(app: FastAPI, variant: str) -> InstructorBaseRagasLLM:
    """A ragas judge LLM (instructor over an OpenAI client) that reaches `variant` through
    the in-process gateway. A new client each call: it belongs to the caller's event loop.
    openai and ragas are imported here, not with the module: seconds that every CLI command
    would otherwise pay (see `evals.ragas_metrics`)."""
    import httpx2  # openai's own HTTP client library (openai 3 is built on it)
    from openai import AsyncOpenAI
    from ragas.llms.base import llm_factory

    client = AsyncOpenAI(
        base_url=BASE_URL,
        api_key="in-process",
        max_retries=0,  # the variant's own client already retries what is worth retrying
        http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=BASE_URL),
    )
    return llm_factory(variant, client=client)
