"""Bedrock `InvokeModel` request and response bodies, for the model families Bedrock batch
inference takes them in: a batch record's `modelInput` is the InvokeModel request body of
the model, and its `modelOutput` the InvokeModel response body.

- Anthropic Claude: the Messages API body (`anthropic_version: bedrock-2023-05-31`);
- Amazon Nova: the `messages-v1` body (`messages`, `system`, `inferenceConfig`);
- Amazon Titan Text: `inputText` + `textGenerationConfig`.

Hand-written (a few documented fields each): langchain-aws' `LLMInputOutputAdapter` builds
these too, but its signature changes between releases and its output side reads a live
HTTP response, not a stored record. The generation settings are the variant's, as the
Converse provider sends them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service.errors import ErrorCode, InvalidRequest
from service.schemas import GenerationParams

ANTHROPIC_VERSION = "bedrock-2023-05-31"
DEFAULT_MAX_TOKENS = 1024  # Claude and Titan need one; Converse's default is the model's
_PROFILE_PREFIXES = ("us.", "eu.", "apac.", "global.", "us-gov.", "ca.", "jp.", "au.")


def family(model_id: str) -> str:
    """anthropic | nova | titan, or a clear refusal for the families batch runs cannot
    build bodies for yet."""
    base = model_id.rsplit("/", 1)[-1]
    for prefix in _PROFILE_PREFIXES:
        base = base.removeprefix(prefix)
    if base.startswith("anthropic.claude"):
        return "anthropic"
    if base.startswith("amazon.nova"):
        return "nova"
    if base.startswith("amazon.titan-text"):
        return "titan"
    raise InvalidRequest(
        f"Bedrock batch runs build request bodies for Anthropic Claude, Amazon Nova and "
        f"Amazon Titan Text models; {model_id!r} is none of them",
        hint="Run this variant with --backend online.",
        code=ErrorCode.INVALID_OPTION,
    )


def request_body(
    model_id: str, system: str, prompt: str, params: GenerationParams
) -> dict[str, Any]:
    """The InvokeModel body asking `model_id` for one answer to `prompt`."""
    kind = family(model_id)
    if kind == "anthropic":
        body: dict[str, Any] = {
            "anthropic_version": ANTHROPIC_VERSION,
            "max_tokens": params.max_tokens or DEFAULT_MAX_TOKENS,
            "messages": [{"role": "user", "content": [{"type": "text", "text": prompt}]}],
        }
        if system:
            body["system"] = system
        body.update(_set(temperature=params.temperature, top_p=params.top_p))
        if params.stop:
            body["stop_sequences"] = list(params.stop)
        return body
    if kind == "nova":
        body = {
            "schemaVersion": "messages-v1",
            "messages": [{"role": "user", "content": [{"text": prompt}]}],
        }
        if system:
            body["system"] = [{"text": system}]
        config = _set(
            maxTokens=params.max_tokens,
            temperature=params.temperature,
            topP=params.top_p,
            stopSequences=list(params.stop) or None,
        )
        if config:
            body["inferenceConfig"] = config
        return body
    # Titan Text has no system role: the system prompt leads the text, as in its playground.
    text = f"{system}\n\nUser: {prompt}\nBot:" if system else prompt
    return {
        "inputText": text,
        "textGenerationConfig": {
            "maxTokenCount": params.max_tokens or DEFAULT_MAX_TOKENS,
            **_set(
                temperature=params.temperature,
                topP=params.top_p,
                stopSequences=list(params.stop) or None,
            ),
        },
    }


@dataclass(frozen=True)
class Reply:
    text: str
    tokens_in: int | None
    tokens_out: int | None
    finish_reason: str | None


class MalformedReply(ValueError):
    """The body is not a response of the model's family."""


def parse_reply(model_id: str, body: Any) -> Reply:
    """The answer in an InvokeModel response body; MalformedReply when it has none."""
    kind = family(model_id)
    try:
        if kind == "anthropic":
            text = "".join(
                b["text"] for b in body["content"] if b.get("type") == "text" and "text" in b
            )
            usage = body.get("usage") or {}
            return Reply(
                text, usage.get("input_tokens"), usage.get("output_tokens"), body.get("stop_reason")
            )
        if kind == "nova":
            content = body["output"]["message"]["content"]
            text = "".join(b["text"] for b in content if "text" in b)
            usage = body.get("usage") or {}
            return Reply(
                text, usage.get("inputTokens"), usage.get("outputTokens"), body.get("stopReason")
            )
        result = body["results"][0]
        return Reply(
            result["outputText"],
            body.get("inputTextTokenCount"),
            result.get("tokenCount"),
            result.get("completionReason"),
        )
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise MalformedReply(f"not a {kind} response body ({type(exc).__name__}: {exc})") from None


def _set(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
