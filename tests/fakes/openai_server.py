"""A fake OpenAI-compatible server: `POST /v1/chat/completions` (SSE or JSON) and
`GET /v1/models`, answering from per-model scripts, or from per-model responders (a
function of the request body: replies that depend on the prompt). Model "echo" repeats the
last user message word by word."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from tests.fakes.http import FakeHandler, FakeServer
from tests.fakes.script import Script


class _OpenAIHandler(FakeHandler):
    fake: FakeOpenAI

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self.send_json(
                200,
                {
                    "object": "list",
                    "data": [{"id": m, "object": "model"} for m in self.fake.models],
                },
            )
        else:
            self.send_json(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self.send_json(404, {"error": {"message": f"no route {self.path}"}})
            return
        body = self.read_json()
        self.fake.requests.append(body)
        self.fake.authorizations.append(self.headers.get("Authorization"))
        name = body.get("model", "")
        script = self.fake.models.get(name)
        responder = self.fake.responders.get(name)
        if script is None and responder is not None:
            script = Script(tokens=[responder(body)])
        if script is None and name == "echo":
            last = next(
                (m["content"] for m in reversed(body.get("messages", [])) if m["role"] == "user"),
                "",
            )
            words = last.split(" ")
            script = Script(tokens=[w if i == 0 else " " + w for i, w in enumerate(words)])
        if script is None:
            self.send_json(404, {"error": {"message": f"The model `{name}` does not exist."}})
            return
        if script.should_fail():
            if script.failure == "throttle":
                self.send_json(429, {"error": {"message": "Rate limit reached"}})
                return
            if script.failure == "server_error":
                self.send_json(500, {"error": {"message": "boom"}})
                return
            if script.failure == "access_denied":
                self.send_json(401, {"error": {"message": "Invalid API key"}})
                return
            if script.failure == "hang":
                self.fake.stop_event.wait(600)
                return
        if script.first_token_delay_s:
            time.sleep(script.first_token_delay_s)
        usage = {
            "prompt_tokens": script.input_tokens,
            "completion_tokens": len(script.tokens),
            "total_tokens": script.input_tokens + len(script.tokens),
        }
        if not body.get("stream"):
            self.send_json(
                200,
                {
                    "id": "cmpl-1",
                    "object": "chat.completion",
                    "model": name,
                    "usage": usage,
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": script.text},
                        }
                    ],
                },
            )
            return
        self.start_chunked("text/event-stream")
        for i, token in enumerate(script.tokens):
            if i and script.token_delay_s:
                time.sleep(script.token_delay_s)
            if not self.write_chunk(
                self._event(
                    {"choices": [{"index": 0, "delta": {"content": token}, "finish_reason": None}]}
                )
            ):
                return
        self.write_chunk(
            self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        )
        if (body.get("stream_options") or {}).get("include_usage"):
            self.write_chunk(self._event({"choices": [], "usage": usage}))
        self.write_chunk(b"data: [DONE]\n\n")
        self.end_chunked()

    @staticmethod
    def _event(data: dict[str, Any]) -> bytes:
        return (
            b"data: "
            + json.dumps({"id": "cmpl-1", "object": "chat.completion.chunk", **data}).encode()
            + b"\n\n"
        )


class FakeOpenAI(FakeServer):
    handler = _OpenAIHandler

    def __init__(self) -> None:
        super().__init__()
        self.models: dict[str, Script] = {}
        self.responders: dict[str, Callable[[dict[str, Any]], str]] = {}
        self.requests: list[dict[str, Any]] = []
        self.authorizations: list[str | None] = []  # each chat request's Authorization header

    @property
    def base_url(self) -> str:
        return self.url + "/v1"
