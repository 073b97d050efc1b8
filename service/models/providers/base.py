"""Shared pieces for the chat models Arbiter implements itself."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel, generate_from_stream
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult

ROLE_OF = {"human": "user", "ai": "assistant", "system": "system"}


def to_role_dicts(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    """LangChain messages -> OpenAI-style `{"role", "content"}` dicts."""
    out = []
    for m in messages:
        role = ROLE_OF.get(m.type)
        if role is None:
            raise ValueError(f"unsupported message type {m.type!r}")
        out.append({"role": role, "content": m.text})
    return out


def text_chunk(text: str) -> ChatGenerationChunk:
    return ChatGenerationChunk(message=AIMessageChunk(content=text))


def final_chunk(
    *, input_tokens: int | None, output_tokens: int | None, finish_reason: str | None
) -> ChatGenerationChunk:
    """The last chunk of a stream. LangChain's `usage_metadata` needs both counts; when a
    container reports only one (TGI streams give no prompt count), the known one still
    travels in `response_metadata["token_usage"]`."""
    usage = None
    if input_tokens is not None and output_tokens is not None:
        usage = {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
        }
    metadata: dict[str, Any] = {
        "token_usage": {"input_tokens": input_tokens, "output_tokens": output_tokens}
    }
    if finish_reason:
        metadata["finish_reason"] = finish_reason
    return ChatGenerationChunk(
        message=AIMessageChunk(
            content="",
            usage_metadata=usage,  # type: ignore[arg-type]
            response_metadata=metadata,
        )
    )


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_DONE = object()


async def iterate_in_thread(
    make_iter: Callable[[threading.Event], Iterator[ChatGenerationChunk]], name: str
) -> AsyncIterator[ChatGenerationChunk]:
    """Run a blocking chunk iterator in a worker thread and yield its chunks here.

    When the consumer goes away (timeout, cancel) the event is set and the worker stops at
    the next chunk and closes the iterator, so an abandoned generation frees its CPU and
    its connection. Hand-written because LangChain's default `_astream` hops to the executor
    once per chunk and never closes an abandoned stream."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    cancel = threading.Event()

    def put(item: object) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the event loop is gone; nobody is listening
            cancel.set()

    def worker() -> None:
        iterator = make_iter(cancel)
        try:
            for chunk in iterator:
                if cancel.is_set():
                    break
                put(chunk)
        except BaseException as exc:
            put(_Failure(exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
            put(_DONE)

    threading.Thread(target=worker, name=f"{name}-stream", daemon=True).start()
    try:
        while True:
            item = await queue.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            assert isinstance(item, ChatGenerationChunk)
            yield item
    finally:
        cancel.set()


class StreamingChatModel(BaseChatModel):
    """A chat model defined by its stream: a whole answer is the stream, joined."""

    async def achunks(
        self, messages: list[BaseMessage], **kwargs: Any
    ) -> AsyncIterator[AIMessageChunk]:
        """The answer's chunks, as `astream` gives them, without LangChain's per-run
        bookkeeping: `astream` sets up callbacks and merges every chunk into the whole
        message as it goes, which was most of the gateway's overhead on a 20-token answer.
        Arbiter keeps its own record of each call."""
        async for chunk in self._astream(messages, **kwargs):
            yield chunk.message  # type: ignore[misc]

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))


class ThreadedChatModel(StreamingChatModel):
    """A chat model whose client is blocking (llama.cpp, boto3). Subclasses implement
    `_iter_chunks`, which should stop early once `cancel` is set."""

    def _iter_chunks(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        cancel: threading.Event,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        raise NotImplementedError

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        yield from self._iter_chunks(messages, stop, threading.Event(), **kwargs)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        async for chunk in iterate_in_thread(
            lambda cancel: self._iter_chunks(messages, stop, cancel, **kwargs), self._llm_type
        ):
            yield chunk
