"""The OpenAI-compatible gateway: `POST /v1/chat/completions` answered by a deployment's
variant, with shadows and sampling to the store.

The live answer streams straight from the variant's model. Everything else — the turn and
answer rows, the shadow calls, scoring and telemetry — happens in background tasks that
the response never waits for, so a slow or failing shadow, or the database, adds no latency
or error to what the client sees."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field

from monitoring.records import TurnRecord
from service.errors import (
    ArbiterError,
    CircuitOpen,
    ErrorCode,
    InvalidRequest,
    PayloadTooLarge,
    ProviderError,
    ProviderTimeout,
    Throttled,
    TooManyRequests,
)
from service.ids import new_id, utcnow
from service.schemas import AnswerOut, GenerationParams, Message
from service.serving.compare import CompareEngine, CompareEvent, Pane
from service.serving.deployments import Deployment, Deployments
from service.store import FinishedTurn, Store, turns

log = structlog.get_logger(__name__)
GATEWAY_MODE = "gateway"
FINISH = {"ok": "stop", "length": "length"}


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: keep the text ones
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    """The OpenAI Chat Completions request. Parameters Arbiter does not use are ignored, as
    OpenAI-compatible servers do, so existing clients work unchanged."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=128)
    messages: list[ChatMessageIn] = Field(min_length=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1, le=32_768)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=32_768)
    stop: str | list[str] | None = None
    n: int = Field(default=1, ge=1, le=1, description="Only one choice per request.")
    user: str | None = Field(default=None, max_length=128)

    def params(self) -> GenerationParams | None:
        stop = [self.stop] if isinstance(self.stop, str) else self.stop
        values = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_completion_tokens or self.max_tokens,
            "stop": tuple(stop) if stop else None,
        }
        given = {k: v for k, v in values.items() if v is not None}
        return GenerationParams.model_validate(given) if given else None


@dataclass
class GatewayCall:
    """One request in flight: the live answer's id, its variant, and its token stream."""

    response_id: str
    deployment: Deployment
    variant: str
    created: int
    answer: asyncio.Task[AnswerOut]
    tokens: asyncio.Queue[CompareEvent]
    cooldown_s: float = 30.0  # the circuit breaker's, for Retry-After

    async def stream(self) -> AsyncIterator[str]:
        """The live answer's text as it comes."""
        while True:
            get = asyncio.ensure_future(self.tokens.get())
            done, _ = await asyncio.wait({get, self.answer}, return_when=asyncio.FIRST_COMPLETED)
            if get in done:
                yield get.result().data["text"]
                continue
            get.cancel()
            while not self.tokens.empty():
                yield self.tokens.get_nowait().data["text"]
            return


def response_id(answer_id: str) -> str:
    return f"chatcmpl-{answer_id}"


def answer_id(response: str) -> str:
    return response.removeprefix("chatcmpl-")


class Gateway:
    def __init__(
        self,
        engine: CompareEngine,
        deployments: Deployments,
        on_stored: Callable[[list[str]], None] | None = None,
    ) -> None:
        """`on_stored`: called (from the writer's thread) with the ids of stored turns."""
        self.engine = engine
        self.deployments = deployments
        self.inflight: set[asyncio.Task[Any]] = set()  # background work, awaited at shutdown
        self.writer = TurnWriter(engine.store, on_stored)

    def _messages(self, req: ChatRequest, system_prompt: str | None) -> list[Message]:
        out = [Message(role="system", content=system_prompt)] if system_prompt else []
        for m in req.messages:
            if m.role in ("system", "developer"):
                out.append(Message(role="system", content=m.text()))
            elif m.role in ("user", "tool"):
                out.append(Message(role="user", content=m.text()))
            else:
                out.append(Message(role="assistant", content=m.text()))
        return out

    def _check(self, req: ChatRequest) -> str:
        size = sum(len(m.text()) for m in req.messages)
        if size > self.engine.max_prompt_chars:
            raise PayloadTooLarge(
                f"the messages have {size:,} characters; the limit is "
                f"{self.engine.max_prompt_chars:,}",
                hint="Shorten the conversation, or raise ARBITER_MAX_PROMPT_CHARS.",
            )
        users = [m.text() for m in req.messages if m.role == "user"]
        if not users or not users[-1].strip():
            raise InvalidRequest(
                "the last user message is empty",
                code=ErrorCode.EMPTY_PROMPT,
                hint="Send at least one user message with text.",
            )
        return users[-1]

    def _pane(self, index: int, variant_name: str, req: ChatRequest) -> Pane:
        variant = self.engine.catalog.get(variant_name)
        return Pane(
            index=index,
            variant=variant,
            params=variant.params.merged(req.params()),
            messages=self._messages(req, variant.system_prompt),
            timeout_s=variant.timeout_s or self.engine.default_timeout_s,
        )

    async def start(self, req: ChatRequest, session: str | None) -> GatewayCall:
        """Route the request and start the live call (and, in the background, the shadows
        and the store writes). Raises for a bad request or an unknown model."""
        deployment = self.deployments.get(req.model)
        prompt = self._check(req)
        variant = deployment.choose(session or req.user)
        panes = [self._pane(0, variant, req)]
        panes += [self._pane(i + 1, s, req) for i, s in enumerate(deployment.shadows)]
        rid = response_id(new_id())
        tokens: asyncio.Queue[CompareEvent] = asyncio.Queue()
        live = asyncio.create_task(
            self.engine.call_pane(panes[0], 0, tokens, answer_id=answer_id(rid))
        )
        call = GatewayCall(
            rid,
            deployment,
            variant,
            int(time.time()),
            live,
            tokens,
            self.engine.breakers.cooldown_s,
        )
        shadows = [
            asyncio.create_task(self.engine.call_pane(p, p.index, asyncio.Queue()))
            for p in panes[1:]
        ]
        self._background(self._record(call, panes, shadows, prompt, req, deployment.sampled()))
        return call

    def _background(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self.inflight.add(task)
        task.add_done_callback(self.inflight.discard)

    async def _record(
        self,
        call: GatewayCall,
        panes: list[Pane],
        shadows: list[asyncio.Task[AnswerOut]],
        prompt: str,
        req: ChatRequest,
        sampled: bool,
    ) -> None:
        """Once the live answer and the shadows' are in: telemetry for every call, and
        (when sampled) the whole turn to the batched writer."""
        started = time.time()
        answers = await asyncio.gather(call.answer, *shadows, return_exceptions=True)
        turn_id = new_id()
        done = [
            (pane, answer)
            for pane, answer in zip(panes, answers, strict=True)
            if isinstance(answer, AnswerOut)
        ]
        for pane, answer in done:
            self.engine.record_call(pane.variant, answer, turn_id if sampled else None)
        if not sampled or not done:
            return
        now = utcnow()
        conversation_id = new_id()
        turn = FinishedTurn(
            conversation={
                "id": conversation_id,
                "variant_names": [p.variant.name for p in panes],
                "mode": GATEWAY_MODE,
                "rater": req.user,
                "use_case": call.deployment.use_case,
                "created_at": now,
            },
            turn={
                "id": turn_id,
                "conversation_id": conversation_id,
                "position": 0,
                "prompt": prompt,
                "status": "done",
                "retrieval": None,
                "created_at": now,
            },
            answers=[answer_row(pane, answer, turn_id, now) for pane, answer in done],
            tags=(f"deployment:{call.deployment.name}"[:64],),
        )
        await self.writer.put(turn)
        if self.engine.emit is not None:
            names = tuple(p.variant.name for p in panes)
            self.engine.emit(TurnRecord(turn_id, started, time.time(), names, GATEWAY_MODE))

    async def drain(self, timeout_s: float) -> None:
        """At shutdown: wait for answers in flight, shadows and the writer."""
        if self.inflight:
            await asyncio.wait(set(self.inflight), timeout=timeout_s)
        await asyncio.to_thread(self.writer.close, timeout_s)


def answer_row(pane: Pane, answer: AnswerOut, turn_id: str, now: datetime) -> dict[str, Any]:
    row = answer.model_dump(exclude={"variant"})
    row.update(
        turn_id=turn_id,
        created_at=now,
        variant_name=pane.variant.name,
        variant_spec=pane.variant.model_dump(mode="json"),
    )
    return row


class TurnWriter:
    """Stores finished gateway turns from one thread, many per transaction: a busy gateway
    commits once per batch rather than once per request, and the writes stay off the
    request's path. Full queue: the caller waits (nothing accepted is dropped)."""

    def __init__(
        self,
        store: Store,
        on_stored: Callable[[list[str]], None] | None = None,
        *,
        max_batch: int = 500,
        max_queue: int = 10_000,
    ) -> None:
        self.store = store
        self.on_stored = on_stored
        self.max_batch = max_batch
        self._queue: queue.Queue[FinishedTurn | None] = queue.Queue(max_queue)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.failures = 0

    def _ensure_running(self) -> None:
        with self._lock:  # started on first use, and again after a close (server restart)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="gateway-writer", daemon=True
                )
                self._thread.start()

    async def put(self, turn: FinishedTurn) -> None:
        self._ensure_running()
        try:
            self._queue.put_nowait(turn)
        except queue.Full:
            await asyncio.to_thread(self._queue.put, turn)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            turns = [t for t in batch if t is not None]
            if turns:
                self._write(turns)
            if None in batch:
                return

    def _write(self, batch: list[FinishedTurn]) -> None:
        """The batch in one transaction; if it fails, retried with backoff (the store may be
        restarting), then turn by turn, so one bad row cannot sink the others."""
        stored: list[FinishedTurn] = []
        for attempt in range(4):
            try:
                turns.save_finished_turns(self.store, batch)
                stored = batch
                break
            except Exception as exc:
                self.failures += 1
                log.warning("gateway.write_failed", turns=len(batch), error=str(exc))
                time.sleep(min(5.0, 0.2 * 2**attempt))
        else:
            for turn in batch:
                try:
                    turns.save_finished_turns(self.store, [turn])
                    stored.append(turn)
                except Exception as exc:
                    log.error("gateway.turn_lost", turn=turn.turn["id"], error=str(exc))
        if stored and self.on_stored is not None:
            self.on_stored([t.turn["id"] for t in stored])

    def close(self, timeout_s: float = 30.0) -> None:
        """Write what is queued, then stop."""
        with self._lock:
            thread = self._thread
            if thread is not None and thread.is_alive():
                self._queue.put(None)
                thread.join(timeout_s)


# ---- OpenAI wire format -----------------------------------------------------------------------


def usage(answer: AnswerOut) -> dict[str, int]:
    prompt, completion = answer.tokens_in or 0, answer.tokens_out or 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def failure(answer: AnswerOut, cooldown_s: float = 30.0) -> ArbiterError:
    """The live answer failed: an error with the HTTP status a client expects (429 with
    Retry-After when the provider throttles, 503 while its circuit is open, 504 on timeout,
    else 502)."""
    message = answer.error_message or answer.status
    if answer.error_code == CircuitOpen.code:
        return CircuitOpen(message, retry_after_s=cooldown_s)
    if answer.error_code == Throttled.code:
        return TooManyRequests(
            f"the provider is throttling: {message}", code=ErrorCode.THROTTLED, retry_after_s=2
        )
    if answer.status == "timeout":
        return ProviderTimeout(message)
    known = {c.value for c in ErrorCode}
    return ProviderError(
        message, code=ErrorCode(answer.error_code) if answer.error_code in known else None
    )


def completion(call: GatewayCall, answer: AnswerOut) -> dict[str, Any]:
    return {
        "id": call.response_id,
        "object": "chat.completion",
        "created": call.created,
        "model": call.deployment.name,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.text},
                "finish_reason": FINISH.get(answer.finish_reason or "ok", "stop"),
            }
        ],
        "usage": usage(answer),
    }


def chunk(call: GatewayCall, delta: dict[str, Any], finish: str | None = None) -> str:
    body = {
        "id": call.response_id,
        "object": "chat.completion.chunk",
        "created": call.created,
        "model": call.deployment.name,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return json.dumps(body, separators=(",", ":"))


async def sse(call: GatewayCall, include_usage: bool) -> AsyncIterator[str]:
    """Server-sent events as OpenAI sends them, ending with `[DONE]`. A failure after the
    stream started is sent as an `error` event, which OpenAI clients raise."""
    yield f"data: {chunk(call, {'role': 'assistant', 'content': ''})}\n\n"
    async for text in call.stream():
        yield f"data: {chunk(call, {'content': text})}\n\n"
    answer = await call.answer
    if answer.status != "ok":
        err = failure(answer, call.cooldown_s)
        body = {"error": {"message": err.message, "type": err.code, "code": err.code}}
        yield f"data: {json.dumps(body)}\n\n"
    else:
        reason = FINISH.get(answer.finish_reason or "ok", "stop")
        yield f"data: {chunk(call, {}, reason)}\n\n"
        if include_usage:
            body = json.loads(chunk(call, {}))
            body["choices"], body["usage"] = [], usage(answer)
            yield f"data: {json.dumps(body, separators=(',', ':'))}\n\n"
    yield "data: [DONE]\n\n"
