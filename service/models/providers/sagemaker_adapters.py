"""Payload adapters for the common SageMaker model containers.

- `tgi`: Hugging Face TGI — `{"inputs", "parameters"}`; streams `data:{"token": {...}}` lines.
- `messages`: LMI / vLLM messages API — OpenAI-style chat; streams `data:{"choices": [...]}`.
- `jumpstart`: JumpStart text generation — `{"text_inputs", ...}` -> `{"generated_texts": [...]}`;
  no streaming (the answer arrives in one piece).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from service.errors import ProviderError

TemplateName = Literal["chatml", "llama3", "plain"]


def render_prompt(messages: list[dict[str, str]], template: TemplateName) -> str:
    """Turn chat messages into one prompt string for text-in/text-out containers."""
    if template == "chatml":
        body = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
        return body + "<|im_start|>assistant\n"
    if template == "llama3":
        body = "".join(
            f"<|start_header_id|>{m['role']}<|end_header_id|>\n\n{m['content']}<|eot_id|>"
            for m in messages
        )
        return "<|begin_of_text|>" + body + "<|start_header_id|>assistant<|end_header_id|>\n\n"
    names = {"system": "System", "user": "User", "assistant": "Assistant"}
    return "".join(f"{names[m['role']]}: {m['content']}\n" for m in messages) + "Assistant:"


@dataclass
class Parsed:
    text: str = ""
    input_tokens: int | None = None
    output_tokens: int | None = None
    finish_reason: str | None = None


@dataclass
class StreamState:
    """Accumulates usage and finish reason while a stream is parsed."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    finish_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Adapter(Protocol):
    streams: bool

    def request(
        self, messages: list[dict[str, str]], params: dict[str, Any], *, stream: bool
    ) -> dict[str, Any]: ...

    def parse(self, body: Any) -> Parsed: ...

    def parse_event(self, event: dict[str, Any], state: StreamState) -> str: ...


def _params(params: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    return {names[k]: v for k, v in params.items() if k in names and v not in (None, [], ())}


class TGIAdapter:
    streams = True

    def __init__(self, template: TemplateName) -> None:
        self.template = template

    def request(
        self, messages: list[dict[str, str]], params: dict[str, Any], *, stream: bool
    ) -> dict[str, Any]:
        parameters = _params(
            params,
            {
                "temperature": "temperature",
                "top_p": "top_p",
                "max_tokens": "max_new_tokens",
                "stop": "stop",
            },
        )
        if parameters.get("temperature") == 0:
            # TGI rejects temperature=0; greedy decoding is its default without sampling.
            parameters.pop("temperature")
            parameters["do_sample"] = False
        parameters["details"] = True
        parameters["return_full_text"] = False
        return {
            "inputs": render_prompt(messages, self.template),
            "parameters": parameters,
            "stream": stream,
        }

    def parse(self, body: Any) -> Parsed:
        item = body[0] if isinstance(body, list) and body else body
        if not isinstance(item, dict) or "generated_text" not in item:
            raise ProviderError(
                f"unexpected TGI response: {json.dumps(body)[:300]}",
                hint="Is the adapter right for this container?",
            )
        details = item.get("details") or {}
        return Parsed(
            text=item["generated_text"],
            output_tokens=details.get("generated_tokens"),
            input_tokens=details.get("prefill_tokens")
            if isinstance(details.get("prefill_tokens"), int)
            else None,
            finish_reason=details.get("finish_reason"),
        )

    def parse_event(self, event: dict[str, Any], state: StreamState) -> str:
        details = event.get("details")
        if details:
            state.finish_reason = details.get("finish_reason")
            state.output_tokens = details.get("generated_tokens")
        token = event.get("token") or {}
        if token.get("special"):
            return ""
        return str(token.get("text") or "")


class MessagesAdapter:
    streams = True

    def request(
        self, messages: list[dict[str, str]], params: dict[str, Any], *, stream: bool
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"messages": messages, "stream": stream}
        payload.update(
            _params(
                params,
                {
                    "temperature": "temperature",
                    "top_p": "top_p",
                    "max_tokens": "max_tokens",
                    "stop": "stop",
                },
            )
        )
        if stream:
            payload["stream_options"] = {"include_usage": True}
        return payload

    def parse(self, body: Any) -> Parsed:
        try:
            choice = body["choices"][0]
            text = choice["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise ProviderError(
                f"unexpected messages-API response: {json.dumps(body)[:300]}",
                hint="Is the adapter right for this container?",
            ) from None
        usage = body.get("usage") or {}
        return Parsed(
            text=text or "",
            input_tokens=usage.get("prompt_tokens"),
            output_tokens=usage.get("completion_tokens"),
            finish_reason=choice.get("finish_reason"),
        )

    def parse_event(self, event: dict[str, Any], state: StreamState) -> str:
        usage = event.get("usage")
        if usage:
            state.input_tokens = usage.get("prompt_tokens")
            state.output_tokens = usage.get("completion_tokens")
        text = ""
        for choice in event.get("choices") or []:
            if choice.get("finish_reason"):
                state.finish_reason = choice["finish_reason"]
            text += (choice.get("delta") or {}).get("content") or ""
        return text


class JumpStartAdapter:
    streams = False

    def __init__(self, template: TemplateName) -> None:
        self.template = template

    def request(
        self, messages: list[dict[str, str]], params: dict[str, Any], *, stream: bool
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"text_inputs": render_prompt(messages, self.template)}
        payload.update(
            _params(
                params, {"temperature": "temperature", "top_p": "top_p", "max_tokens": "max_length"}
            )
        )
        return payload

    def parse(self, body: Any) -> Parsed:
        if (
            isinstance(body, dict)
            and isinstance(body.get("generated_texts"), list)
            and body["generated_texts"]
        ):
            return Parsed(text=str(body["generated_texts"][0]))
        if isinstance(body, dict) and "generated_text" in body:
            return Parsed(text=str(body["generated_text"]))
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], dict)
            and "generated_text" in body[0]
        ):
            return Parsed(text=str(body[0]["generated_text"]))
        raise ProviderError(
            f"unexpected JumpStart response: {json.dumps(body)[:300]}",
            hint="Is the adapter right for this container?",
        )

    def parse_event(self, event: dict[str, Any], state: StreamState) -> str:
        raise ProviderError("the jumpstart adapter does not stream")


def make_adapter(name: str, template: TemplateName) -> Adapter:
    if name == "tgi":
        return TGIAdapter(template)
    if name == "messages":
        return MessagesAdapter()
    if name == "jumpstart":
        return JumpStartAdapter(template)
    raise ValueError(f"unknown SageMaker adapter {name!r}")


class LineBuffer:
    """Reassembles newline-delimited events from arbitrarily split byte chunks
    (SageMaker's PayloadPart boundaries do not align with lines)."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        self._buf += data
        *lines, self._buf = self._buf.split(b"\n")
        return [e for e in (self._decode(line) for line in lines) if e is not None]

    def flush(self) -> list[dict[str, Any]]:
        rest, self._buf = self._buf, b""
        event = self._decode(rest)
        return [event] if event is not None else []

    @staticmethod
    def _decode(line: bytes) -> dict[str, Any] | None:
        text = line.decode("utf-8").strip()
        if text.startswith("data:"):
            text = text[5:].strip()
        if not text or text == "[DONE]" or text.startswith(("event:", "id:", ":")):
            return None
        try:
            event = json.loads(text)
        except ValueError:
            raise ProviderError(
                f"the endpoint streamed a line that is not JSON: {text[:200]!r}"
            ) from None
        return event if isinstance(event, dict) else None
