"""The compare engine: one prompt to N variants at once.

Each pane runs as its own task; tokens go to the caller as they arrive from any pane. A
slow, failing or timed-out pane never blocks the others. Every answer is stored as soon as
its pane ends, with the exact request, timings, tokens, cost and error. Panes keep running
(and are stored) if the caller goes away; they stop on timeout or an explicit cancel."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import structlog
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from monitoring.records import Record, TurnRecord
from rag import Library, Retrieval, citations, render
from service.documents import retrieve
from service.errors import (
    ArbiterError,
    ErrorCode,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    ProviderError,
)
from service.ids import new_id
from service.models import (
    Breakers,
    Catalog,
    PriceTable,
    StreamingChatModel,
    Variant,
    classify_error,
)
from service.schemas import AnswerOut, AnswerStatus, CompareRequest, GenerationParams, Message
from service.serving.telemetry import BlindHold, model_call
from service.store import Store, turns, usecases

log = structlog.get_logger(__name__)

RETRIES_BEFORE_FIRST_TOKEN = 3


@dataclass(frozen=True)
class CompareEvent:
    """`turn` (ids and panes), `token` (pane, text), `answer` (a pane ended), `done`;
    `error` only when the turn itself could not be stored (then `run` raises it)."""

    kind: str
    data: dict[str, Any]
    error: ArbiterError | None = None


@dataclass
class Pane:
    index: int
    variant: Variant
    params: GenerationParams
    messages: list[Message]
    timeout_s: float
    context_refs: list[str] | None = None  # None: the turn has no retrieval


@dataclass
class _Outcome:
    text: list[str] = field(default_factory=list)
    ttft_ms: float | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    finish_reason: str | None = None
    provider_latency_ms: float | None = None
    emitted: bool = False


def _to_langchain(messages: list[Message]) -> list[BaseMessage]:
    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    return [kinds[m.role](content=m.content) for m in messages]


class CompareEngine:
    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        prices: PriceTable,
        *,
        max_prompt_chars: int = 32_000,
        min_panes: int = 2,
        max_panes: int = 4,
        default_timeout_s: float = 120.0,
        library: Library | None = None,
        after_turn: Callable[[str], Awaitable[None]] | None = None,
        emit: Callable[[Record], None] | None = None,
        breakers: Breakers | None = None,
        blind_hold: BlindHold | None = None,
    ) -> None:
        self.breakers = breakers or Breakers()
        self.emit = emit  # telemetry: one record per answer
        # A blind turn's telemetry waits for its vote (see BlindHold).
        self.blind_hold = blind_hold or BlindHold(emit)
        self.library = library
        # Called with the id of every finished turn (online scoring), off the request path.
        self.after_turn = after_turn
        self.store = store
        self.catalog = catalog
        self.prices = prices
        self.max_prompt_chars = max_prompt_chars
        self.min_panes = min_panes
        self.max_panes = max_panes
        self.default_timeout_s = default_timeout_s
        self._running: dict[str, list[asyncio.Task[AnswerOut]]] = {}
        self._turn_rows: dict[str, asyncio.Future[Any]] = {}
        self._background: set[asyncio.Task[Any]] = set()

    # -- validation --------------------------------------------------------------------

    def validate(self, req: CompareRequest) -> list[Variant]:
        if not req.prompt.strip():
            raise InvalidRequest(
                "the prompt is empty",
                hint="Type a question or instruction.",
                code=ErrorCode.EMPTY_PROMPT,
            )
        if len(req.prompt) > self.max_prompt_chars:
            raise PayloadTooLarge(
                f"the prompt has {len(req.prompt):,} characters; the limit is {self.max_prompt_chars:,}",
                hint="Shorten it, or raise ARBITER_MAX_PROMPT_CHARS.",
            )
        if not self.min_panes <= len(req.variants) <= self.max_panes:
            raise InvalidRequest(
                f"compare takes {self.min_panes} to {self.max_panes} variants; got {len(req.variants)}",
                code=ErrorCode.BAD_PANE_COUNT,
            )
        if req.overrides is not None and len(req.overrides) != len(req.variants):
            raise InvalidRequest(
                f"`overrides` has {len(req.overrides)} entries for {len(req.variants)} panes",
                hint="Give one entry (or null) per pane.",
            )
        if req.rag is not None and self.library is None:
            raise InvalidRequest(
                "retrieval is not available on this server", code=ErrorCode.RAG_UNAVAILABLE
            )
        if req.use_case is not None and not usecases.has_use_case(self.store, req.use_case):
            raise NotFound(
                f"use case {req.use_case!r} does not exist",
                code=ErrorCode.UNKNOWN_USE_CASE,
                hint="List them with GET /api/usecases or `arbiter usecase list`; define one "
                "with `arbiter usecase apply FILE`.",
            )
        return [self.catalog.get(name) for name in req.variants]

    # -- running -----------------------------------------------------------------------

    async def run(
        self, req: CompareRequest, *, rater: str | None = None
    ) -> AsyncIterator[CompareEvent]:
        """Stream one turn. `rater`: who asks (from authentication, never from the request)."""
        variants = self.validate(req)
        started_at = time.time()
        # Retrieval runs once per turn: every pane that uses context gets the same chunks.
        retrieval: Retrieval | None = None
        if req.rag is not None and self.library is not None:
            retrieval = await retrieve(self.library, req.rag, req.prompt)
        stored_retrieval = retrieval.to_dict() if retrieval else None
        if req.conversation_id is None and not req.regenerate:
            # A new conversation has no history, so the panes can start while the turn row
            # is written: the database write is off the time-to-first-token path.
            conversation_id, turn_id = new_id(), new_id()
            history: list[list[Message]] = [[] for _ in variants]
            turn_row: asyncio.Future[Any] = asyncio.ensure_future(
                asyncio.to_thread(
                    turns.start_turn,
                    self.store,
                    None,
                    list(req.variants),
                    req.prompt,
                    new_conversation_id=conversation_id,
                    turn_id=turn_id,
                    mode=req.mode,
                    rater=rater,
                    retrieval=stored_retrieval,
                    tags=req.tags,
                    use_case=req.use_case,
                )
            )
            position = 0
        else:
            start = await asyncio.to_thread(
                turns.start_turn,
                self.store,
                req.conversation_id,
                list(req.variants),
                req.prompt,
                regenerate=req.regenerate,
                retrieval=stored_retrieval,
                tags=req.tags,
            )
            conversation_id, turn_id, history, position = (
                start.conversation_id,
                start.turn_id,
                start.history,
                start.position,
            )
            turn_row = asyncio.get_running_loop().create_future()
            turn_row.set_result(start)
        panes = []
        for i, variant in enumerate(variants):
            override = req.overrides[i] if req.overrides else None
            messages = (
                [Message(role="system", content=variant.system_prompt)]
                if variant.system_prompt
                else []
            )
            messages += history[i]
            refs: list[str] | None = None
            content = req.prompt
            if retrieval is not None:
                refs = []
                if variant.rag.use_context:
                    refs = [c.ref for c in retrieval.chunks]
                    content = render(variant.rag.template, req.prompt, retrieval.chunks)
            messages.append(Message(role="user", content=content))
            panes.append(
                Pane(
                    index=i,
                    variant=variant,
                    params=variant.params.merged(override),
                    messages=messages,
                    timeout_s=req.timeout_s or variant.timeout_s or self.default_timeout_s,
                    context_refs=refs,
                )
            )
        if req.mode == "arena":
            self.blind_hold.start(turn_id)
        queue: asyncio.Queue[CompareEvent] = asyncio.Queue()
        slots: dict[str, int] = {}
        tasks = []
        for pane in panes:
            slot = slots.get(pane.variant.name, 0)
            slots[pane.variant.name] = slot + 1
            tasks.append(asyncio.create_task(self._run_pane(turn_id, turn_row, pane, slot, queue)))
        self._running[turn_id] = tasks
        self._turn_rows[turn_id] = turn_row
        self._in_background(self._supervise(turn_id, turn_row, tasks, queue, started_at, req))

        yield CompareEvent(
            "turn",
            {
                "turn_id": turn_id,
                "conversation_id": conversation_id,
                "position": position,
                "panes": [{"pane": p.index, "variant": p.variant.name} for p in panes],
                "context": retrieval.to_dict()["chunks"] if retrieval else None,
            },
        )
        while True:
            event = await queue.get()
            if event.error is not None:
                raise event.error
            yield event
            if event.kind == "done":
                return

    async def _supervise(
        self,
        turn_id: str,
        turn_row: asyncio.Future[Any],
        tasks: list[asyncio.Task[AnswerOut]],
        queue: asyncio.Queue[CompareEvent],
        started_at: float,
        req: CompareRequest,
    ) -> None:
        try:
            try:
                await turn_row
            except Exception as exc:
                # The turn could not be stored: stop the panes rather than lose their answers.
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                err = exc if isinstance(exc, ArbiterError) else ArbiterError(str(exc))
                queue.put_nowait(CompareEvent("error", err.to_dict(), error=err))
                return
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.to_thread(turns.finish_turn, self.store, turn_id)
            self.blind_hold.emit(
                turn_id, TurnRecord(turn_id, started_at, time.time(), tuple(req.variants), req.mode)
            )
            if self.after_turn is not None:
                self._in_background(self._after_turn(turn_id))
        finally:
            self._running.pop(turn_id, None)
            self._turn_rows.pop(turn_id, None)
            queue.put_nowait(CompareEvent("done", {"turn_id": turn_id}))

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)  # held until done: the loop keeps only weak references
        task.add_done_callback(self._background.discard)

    async def _after_turn(self, turn_id: str) -> None:
        assert self.after_turn is not None
        try:
            await self.after_turn(turn_id)
        except Exception as exc:  # the turn is stored; only its automatic scores are missing
            log.warning("turn.after_turn_failed", turn=turn_id, error=str(exc))

    async def turn_stored(self, turn_id: str) -> None:
        """Wait until a just-started turn's row is written. A new conversation's turn row
        is written while its panes start, so a client that acts on the `turn` event at
        once (reads the turn, votes) would otherwise find no such turn."""
        row = self._turn_rows.get(turn_id)
        if row is not None:
            with contextlib.suppress(Exception):  # a failed write is reported by `run`
                await asyncio.shield(row)

    def cancel(self, turn_id: str) -> int:
        """Stop the panes of a running turn; returns how many were still running."""
        tasks = self._running.get(turn_id)
        if tasks is None:
            raise NotFound(f"turn {turn_id} is not running", code=ErrorCode.TURN_NOT_RUNNING)
        running = [t for t in tasks if not t.done()]
        for t in running:
            t.cancel()
        return len(running)

    async def _stream_once(
        self,
        pane: Pane,
        slot: int,
        queue: asyncio.Queue[CompareEvent],
        out: _Outcome,
        started: float,
    ) -> None:
        model = self.catalog.cached_model(pane.variant, slot)
        if model is None:  # first use: building may load weights or clients, off the event loop
            model = await asyncio.to_thread(self.catalog.model, pane.variant, slot)
        messages, kwargs = _to_langchain(pane.messages), pane.params.call_kwargs()
        chunks = (
            model.achunks(messages, **kwargs)
            if isinstance(model, StreamingChatModel)
            else model.astream(messages, **kwargs)
        )
        async for chunk in chunks:
            text = chunk.text
            if text:
                if out.ttft_ms is None:
                    out.ttft_ms = (time.perf_counter() - started) * 1000
                out.emitted = True
                out.text.append(text)
                queue.put_nowait(CompareEvent("token", {"pane": pane.index, "text": text}))
            meta = chunk.response_metadata or {}
            usage = getattr(chunk, "usage_metadata", None) or meta.get("token_usage")
            if usage:
                out.tokens_in = usage.get("input_tokens", out.tokens_in)
                out.tokens_out = usage.get("output_tokens", out.tokens_out)
            reason = meta.get("finish_reason") or meta.get("stopReason")
            if reason:
                out.finish_reason = str(reason)
            latency = (meta.get("metrics") or {}).get("latencyMs")
            if latency is not None:
                out.provider_latency_ms = float(
                    latency[0] if isinstance(latency, list) else latency
                )

    async def _stream_with_retries(
        self,
        pane: Pane,
        slot: int,
        queue: asyncio.Queue[CompareEvent],
        out: _Outcome,
        started: float,
    ) -> None:
        for attempt in range(RETRIES_BEFORE_FIRST_TOKEN + 1):
            try:
                await self._stream_once(pane, slot, queue, out, started)
                return
            except (asyncio.CancelledError, TimeoutError):
                raise
            except Exception as exc:
                err = classify_error(exc)
                # Retrying is safe only while nothing has been shown to the user.
                if not err.retryable or out.emitted or attempt == RETRIES_BEFORE_FIRST_TOKEN:
                    raise err from exc
                delay = min(8.0, 0.5 * 2**attempt) * (0.5 + random.random())
                log.info(
                    "pane.retry", variant=pane.variant.name, code=err.code, delay_s=round(delay, 2)
                )
                await asyncio.sleep(delay)

    async def _run_pane(
        self,
        turn_id: str,
        turn_row: asyncio.Future[Any],
        pane: Pane,
        slot: int,
        queue: asyncio.Queue[CompareEvent],
    ) -> AnswerOut:
        answer = await self.call_pane(pane, slot, queue)
        await self.persist_answer(turn_id, turn_row, pane, answer)
        self.record_call(pane.variant, answer, turn_id)
        queue.put_nowait(
            CompareEvent("answer", answer.model_dump(mode="json", exclude={"request"}))
        )
        return answer

    async def call_pane(
        self,
        pane: Pane,
        slot: int,
        queue: asyncio.Queue[CompareEvent],
        *,
        answer_id: str | None = None,
    ) -> AnswerOut:
        """Call the pane's model: its tokens go to `queue` as they come; the answer (text,
        timings, tokens, cost, or the error) is returned, not stored."""
        started = time.perf_counter()
        out = _Outcome()
        status: AnswerStatus = "ok"
        error_code: str | None = None
        error_message: str | None = None
        try:
            self.breakers.before(pane.variant)
            async with asyncio.timeout(pane.timeout_s):
                await self._stream_with_retries(pane, slot, queue, out, started)
        except TimeoutError:
            status, error_code = "timeout", "timeout"
            error_message = f"no complete answer within {pane.timeout_s:g} s"
        except asyncio.CancelledError:
            status, error_code, error_message = "cancelled", "cancelled", "stopped by the user"
        except ProviderError as exc:
            status, error_code = "error", exc.code
            error_message = exc.message + (f" — {exc.hint}" if exc.hint else "")
        except Exception as exc:  # a bug in a provider must not take the other panes down
            crashed = classify_error(exc)
            status, error_code, error_message = "error", crashed.code, crashed.message
            log.exception("pane.crashed", variant=pane.variant.name)
        latency_ms = (time.perf_counter() - started) * 1000
        if error_code != "circuit_open":  # a call held back says nothing new
            self.breakers.after(pane.variant, error_code if status != "ok" else None)
        text = "".join(out.text)
        log.info(
            "pane.done",
            pane=pane.index,
            variant=pane.variant.name,
            status=status,
            ttft_ms=out.ttft_ms,
            latency_ms=round(latency_ms, 1),
            error_code=error_code,
        )
        return AnswerOut(
            id=answer_id or new_id(),
            pane=pane.index,
            variant=pane.variant.name,
            status=status,
            text=text,
            finish_reason=out.finish_reason if status == "ok" else status,
            error_code=error_code,
            error_message=error_message,
            ttft_ms=out.ttft_ms,
            latency_ms=latency_ms,
            provider_latency_ms=out.provider_latency_ms,
            tokens_in=out.tokens_in,
            tokens_out=out.tokens_out,
            cost_usd=self.prices.cost(pane.variant, out.tokens_in, out.tokens_out),
            context_refs=pane.context_refs,
            citations=citations(text, pane.context_refs) if pane.context_refs else None,
            request={
                "messages": [m.model_dump() for m in pane.messages],
                "params": pane.params.model_dump(mode="json"),
                "timeout_s": pane.timeout_s,
            },
        )

    async def persist_answer(
        self, turn_id: str, turn_row: asyncio.Future[Any], pane: Pane, answer: AnswerOut
    ) -> None:
        row = answer.model_dump(exclude={"variant"})
        row.update(
            variant_name=pane.variant.name, variant_spec=pane.variant.model_dump(mode="json")
        )
        await turn_row  # the answer row references the turn row
        await asyncio.shield(asyncio.to_thread(turns.save_answer, self.store, turn_id, **row))

    def record_call(self, variant: Variant, answer: AnswerOut, turn_id: str | None) -> None:
        """The call to the telemetry streams (held back while its blind turn awaits a vote)."""
        if self.emit is not None:
            self.blind_hold.emit(turn_id, model_call(variant, answer, turn_id=turn_id))
