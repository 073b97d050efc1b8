"""Amazon Bedrock through `langchain_aws.ChatBedrockConverse` (Converse / ConverseStream).

The boto3 clients are built here so that retries (botocore "standard" mode: exponential
backoff with jitter on throttling) and timeouts are ours to set."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from langchain_aws import ChatBedrockConverse
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk

from service.models.providers.aws import aws_client
from service.models.providers.base import iterate_in_thread
from service.models.variants import BedrockModel


class BedrockChatModel(ChatBedrockConverse):
    """`ChatBedrockConverse` whose async stream runs in one worker thread and is closed
    when the consumer stops reading (timeouts and cancels free the connection)."""

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        async for chunk in iterate_in_thread(
            lambda _cancel: self._stream(messages, stop, None, **kwargs), "bedrock"
        ):
            yield chunk


def build_bedrock(spec: BedrockModel, timeout_s: float) -> BedrockChatModel:
    def client(service: str) -> Any:
        return aws_client(
            service,
            region=spec.region,
            profile=spec.profile,
            endpoint_url=spec.endpoint_url,
            max_attempts=spec.max_attempts,
            read_timeout_s=timeout_s,
        )

    runtime = client("bedrock-runtime")
    # A custom model's ARN (deployment, provisioned throughput) names no provider: it and
    # the model's features come from the foundation model it was tuned from.
    base: dict[str, Any] = {}
    if spec.base_model_id:
        base = {"base_model_id": spec.base_model_id, "provider": spec.base_model_id.split(".")[0]}
    return BedrockChatModel(
        model=spec.model_id,
        **base,
        client=runtime,
        bedrock_client=client("bedrock"),
        region_name=runtime.meta.region_name,
        # langchain-aws only streams for providers it has verified; the variant decides.
        disable_streaming=not spec.streaming,
    )
