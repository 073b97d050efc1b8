"""A thin chat model for any OpenAI-compatible `/chat/completions` endpoint (vLLM, Ollama,
TGI, LM Studio, ...). Written by hand rather than with `langchain-openai` to keep the
dependency set small and to control error mapping and usage reporting exactly."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk
from pydantic import ConfigDict, PrivateAttr

from service.errors import (
    AccessDenied,
    CredentialsInvalid,
    ModelNotFound,
    ProviderError,
    Throttled,
)
from service.models.providers.base import StreamingChatModel, final_chunk, text_chunk, to_role_dicts

_PARAM_KEYS = ("temperature", "top_p", "max_tokens")


def _http_error(status: int, body: str) -> ProviderError:
    detail = body.strip()[:500]
    try:
        parsed = json.loads(body)
        err = parsed.get("error", parsed)
        detail = err.get("message", detail) if isinstance(err, dict) else str(err)
    except (ValueError, AttributeError):
        pass
    if status == 401:
        return CredentialsInvalid(f"HTTP 401: {detail}", hint="Check the API key (api_key_env).")
    if status == 403:
        return AccessDenied(f"HTTP 403: {detail}", hint="The key may not access this model.")
    if status == 404:
        return ModelNotFound(f"HTTP 404: {detail}", hint="Check base_url and the model name.")
    if status == 429:
        return Throttled(f"HTTP 429: {detail}", hint="Rate limited; retry later.")
    return ProviderError(f"HTTP {status}: {detail}")


class OpenAICompatibleChatModel(StreamingChatModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    base_url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 120.0
    transport: httpx.AsyncBaseTransport | None = None
    sync_transport: httpx.BaseTransport | None = None

    _client: httpx.AsyncClient | None = PrivateAttr(default=None)

    @classmethod
    def from_env(
        cls, base_url: str, model: str, api_key_env: str | None
    ) -> OpenAICompatibleChatModel:
        return cls(
            base_url=base_url,
            model=model,
            api_key=os.environ.get(api_key_env) if api_key_env else None,
        )

    @property
    def _llm_type(self) -> str:
        return "openai-compatible"

    def _url(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def _payload(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": to_role_dicts(messages),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        for key in _PARAM_KEYS:
            if kwargs.get(key) is not None:
                payload[key] = kwargs[key]
        if stop:
            payload["stop"] = list(stop)
        return payload

    def _client_async(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self.transport, timeout=httpx.Timeout(self.timeout_s, connect=10.0)
            )
        return self._client

    @staticmethod
    def _parse_line(line: str, state: dict[str, Any]) -> ChatGenerationChunk | None:
        if not line.startswith("data:"):
            return None
        data = line[5:].strip()
        if not data or data == "[DONE]":
            return None
        event = json.loads(data)
        if "error" in event:
            err = event["error"]
            raise ProviderError(str(err.get("message", err) if isinstance(err, dict) else err))
        if event.get("usage"):
            state["usage"] = event["usage"]
        for choice in event.get("choices") or []:
            if choice.get("finish_reason"):
                state["finish_reason"] = choice["finish_reason"]
            content = (choice.get("delta") or {}).get("content")
            if content:
                return text_chunk(content)
        return None

    @staticmethod
    def _final(state: dict[str, Any]) -> ChatGenerationChunk:
        usage = state.get("usage") or {}
        return final_chunk(
            input_tokens=usage.get("prompt_tokens"),
            output_tokens=usage.get("completion_tokens"),
            finish_reason=state.get("finish_reason"),
        )

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        state: dict[str, Any] = {}
        payload = self._payload(messages, stop, kwargs)
        async with self._client_async().stream(
            "POST", self._url(), json=payload, headers=self._headers()
        ) as response:
            if response.status_code >= 400:
                body = (await response.aread()).decode("utf-8", "replace")
                raise _http_error(response.status_code, body)
            async for line in response.aiter_lines():
                chunk = self._parse_line(line, state)
                if chunk is not None:
                    yield chunk
        yield self._final(state)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        state: dict[str, Any] = {}
        payload = self._payload(messages, stop, kwargs)
        with (
            httpx.Client(
                transport=self.sync_transport, timeout=httpx.Timeout(self.timeout_s, connect=10.0)
            ) as client,
            client.stream("POST", self._url(), json=payload, headers=self._headers()) as response,
        ):
            if response.status_code >= 400:
                raise _http_error(response.status_code, response.read().decode("utf-8", "replace"))
            for line in response.iter_lines():
                chunk = self._parse_line(line, state)
                if chunk is not None:
                    yield chunk
        yield self._final(state)
