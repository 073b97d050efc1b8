"""A scripted LangChain chat model for fast unit tests: fixed replies, delays, failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk

from service.errors import ProviderError, Throttled
from service.models.providers.base import StreamingChatModel, final_chunk, text_chunk
from service.models.variants import Variant
from tests.fakes.script import Script


class ScriptedChatModel(StreamingChatModel):
    script: Script
    seen: list[list[BaseMessage]] = []
    seen_kwargs: list[dict[str, Any]] = []

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _error(self) -> ProviderError:
        if self.script.failure in ("throttle", "throttle_midstream"):
            return Throttled("ThrottlingException: slow down")
        return ProviderError("scripted failure", code="provider_error")

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        self.seen.append(list(messages))
        self.seen_kwargs.append(dict(kwargs))
        failing = self.script.should_fail()
        if failing and self.script.failure == "hang":
            await asyncio.sleep(3600)
        if failing and self.script.failure not in ("throttle_midstream",):
            raise self._error()
        await asyncio.sleep(self.script.first_token_delay_s)
        for i, token in enumerate(self.script.tokens):
            if failing and i == self.script.midstream_after:
                raise self._error()
            if i:
                await asyncio.sleep(self.script.token_delay_s)
            yield text_chunk(token)
        yield final_chunk(
            input_tokens=self.script.input_tokens,
            output_tokens=len(self.script.tokens),
            finish_reason="stop",
        )

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        self.seen.append(list(messages))
        self.seen_kwargs.append(dict(kwargs))
        for token in self.script.tokens:
            yield text_chunk(token)
        yield final_chunk(
            input_tokens=self.script.input_tokens,
            output_tokens=len(self.script.tokens),
            finish_reason="stop",
        )


class ScriptedFactory:
    """A `model_factory` for `build_runtime`: variant name -> script."""

    def __init__(self, scripts: dict[str, Script]) -> None:
        self.scripts = scripts
        self.models: dict[str, ScriptedChatModel] = {}

    def __call__(self, variant: Variant) -> BaseChatModel:
        model = ScriptedChatModel(
            script=self.scripts.setdefault(variant.name, Script()), seen=[], seen_kwargs=[]
        )
        self.models[variant.name] = model
        return model
