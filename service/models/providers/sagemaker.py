"""SageMaker endpoints through boto3 `sagemaker-runtime` (`invoke_endpoint` and
`invoke_endpoint_with_response_stream`), with payload adapters per container type."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk
from pydantic import ConfigDict, PrivateAttr

from service.errors import ProviderError
from service.models.providers.aws import aws_client
from service.models.providers.base import ThreadedChatModel, final_chunk, text_chunk, to_role_dicts
from service.models.providers.sagemaker_adapters import (
    LineBuffer,
    StreamState,
    TemplateName,
    make_adapter,
)


class SageMakerChatModel(ThreadedChatModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    endpoint_name: str
    inference_component: str | None = None
    adapter: str = "messages"
    streaming: bool = True
    prompt_template: TemplateName = "chatml"
    region: str | None = None
    aws_profile: str | None = None
    endpoint_url: str | None = None
    max_attempts: int = 5
    timeout_s: float = 120.0

    _client: Any = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "sagemaker"

    def _runtime(self) -> Any:
        if self._client is None:
            self._client = aws_client(
                "sagemaker-runtime",
                region=self.region,
                profile=self.aws_profile,
                endpoint_url=self.endpoint_url,
                max_attempts=self.max_attempts,
                read_timeout_s=self.timeout_s,
            )
        return self._client

    def _invoke_args(self, payload: dict[str, Any]) -> dict[str, Any]:
        args: dict[str, Any] = {
            "EndpointName": self.endpoint_name,
            "ContentType": "application/json",
            "Accept": "application/json",
            "Body": json.dumps(payload).encode(),
        }
        if self.inference_component:
            args["InferenceComponentName"] = self.inference_component
        return args

    def _iter_chunks(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        cancel: threading.Event,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        adapter = make_adapter(self.adapter, self.prompt_template)
        params = {k: kwargs.get(k) for k in ("temperature", "top_p", "max_tokens")}
        params["stop"] = list(stop) if stop else None
        role_dicts = to_role_dicts(messages)
        stream = self.streaming and adapter.streams
        payload = adapter.request(role_dicts, params, stream=stream)
        client = self._runtime()

        if not stream:
            response = client.invoke_endpoint(**self._invoke_args(payload))
            raw = response["Body"].read()
            try:
                body = json.loads(raw)
            except ValueError:
                raise ProviderError(f"the endpoint returned non-JSON: {raw[:200]!r}") from None
            parsed = adapter.parse(body)
            if parsed.text:
                yield text_chunk(parsed.text)
            yield final_chunk(
                input_tokens=parsed.input_tokens,
                output_tokens=parsed.output_tokens,
                finish_reason=parsed.finish_reason,
            )
            return

        response = client.invoke_endpoint_with_response_stream(**self._invoke_args(payload))
        state = StreamState()
        lines = LineBuffer()
        event_stream = response["Body"]
        try:
            for event in event_stream:
                if cancel.is_set():
                    state.finish_reason = "cancelled"
                    break
                if "PayloadPart" in event:
                    for parsed_event in lines.feed(event["PayloadPart"]["Bytes"]):
                        text = adapter.parse_event(parsed_event, state)
                        if text:
                            yield text_chunk(text)
                elif "ModelStreamError" in event:
                    err = event["ModelStreamError"]
                    raise ProviderError(
                        f"{err.get('ErrorCode', 'ModelStreamError')}: {err.get('Message', '')}"
                    )
            for parsed_event in lines.flush():
                text = adapter.parse_event(parsed_event, state)
                if text:
                    yield text_chunk(text)
        finally:
            event_stream.close()
        yield final_chunk(
            input_tokens=state.input_tokens,
            output_tokens=state.output_tokens,
            finish_reason=state.finish_reason,
        )
