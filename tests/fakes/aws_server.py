"""A fake AWS endpoint speaking the real wire protocols, for what moto does not implement:

- Bedrock runtime `POST /model/{modelId}/converse` (JSON) and `/converse-stream`
  (`application/vnd.amazon.eventstream`, one frame per event);
- Bedrock control plane `GET /foundation-models/{modelId}` (for reachability probes);
- SageMaker runtime `POST /endpoints/{name}/invocations-response-stream` (PayloadPart frames)
  and `/invocations`;
- Bedrock batch inference (model invocation jobs), in `tests/fakes/bedrock_batch.py`.

Real boto3 / langchain-aws clients are pointed at it with `endpoint_url` and dummy
credentials, so signing, parsing, streaming and retries all run for real."""

from __future__ import annotations

import hashlib
import json
import math
import time
from typing import Any
from urllib.parse import unquote

from moto.core.eventstream import EventStreamEncoder

from tests.fakes.bedrock_batch import BedrockBatchJobs
from tests.fakes.http import FakeHandler, FakeServer
from tests.fakes.script import Script

_ENCODER = EventStreamEncoder()


def event_frame(event_type: str, payload: dict[str, Any] | bytes) -> bytes:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return _ENCODER.encode_message(
        {":message-type": "event", ":event-type": event_type, ":content-type": "application/json"},
        body,
    )


def exception_frame(exception_type: str, message: str) -> bytes:
    return _ENCODER.encode_message(
        {
            ":message-type": "exception",
            ":exception-type": exception_type,
            ":content-type": "application/json",
        },
        json.dumps({"message": message}).encode(),
    )


class _AwsHandler(FakeHandler):
    fake: FakeAws

    def aws_error(self, status: int, error_type: str, message: str) -> None:
        self.send_json(status, {"message": message}, {"x-amzn-ErrorType": error_type})

    def do_GET(self) -> None:
        if self.fake.batch.get(self):  # Bedrock batch inference jobs
            return
        parts = self.path.split("?")[0].strip("/").split("/")
        if len(parts) == 2 and parts[0] == "foundation-models":
            model_id = unquote(parts[1])
            if model_id not in self.fake.models:
                self.aws_error(
                    400, "ValidationException", "The provided model identifier is invalid."
                )
                return
            self.send_json(
                200,
                {
                    "modelDetails": {
                        "modelId": model_id,
                        "modelArn": f"arn:aws:bedrock:us-east-1::foundation-model/{model_id}",
                        "providerName": "Fake",
                        "modelName": model_id,
                    }
                },
            )
            return
        self.aws_error(404, "UnknownOperationException", f"no route {self.path}")

    def do_POST(self) -> None:
        parts = self.path.split("?")[0].strip("/").split("/")
        body = self.read_json()
        self.fake.requests.append({"path": self.path, "body": body, "headers": dict(self.headers)})
        if self.fake.batch.post(self, body):  # Bedrock batch inference jobs
            return
        if len(parts) == 3 and parts[0] == "model" and unquote(parts[1]) in self.fake.embedders:
            self.titan_embedding(unquote(parts[1]), body)
        elif len(parts) == 3 and parts[0] == "knowledgebases" and parts[2] == "retrieve":
            self.kb_retrieve(unquote(parts[1]), body)
        elif len(parts) == 3 and parts[0] == "model":
            self.bedrock(unquote(parts[1]), parts[2], body)
        elif len(parts) == 3 and parts[0] == "endpoints":
            self.sagemaker(unquote(parts[1]), parts[2], body)
        else:
            self.aws_error(404, "UnknownOperationException", f"no route {self.path}")

    # -- Bedrock ---------------------------------------------------------------------

    def _script_or_error(
        self, table: dict[str, Script], name: str, not_found: tuple[int, str, str]
    ) -> tuple[Script, bool] | None:
        """The script for this call and whether a mid-stream failure applies, or None when
        an error response has already been sent."""
        script = table.get(name)
        if script is None:
            self.aws_error(*not_found)
            return None
        failing = script.should_fail()
        if failing:
            if script.failure == "throttle":
                self.aws_error(
                    429,
                    "ThrottlingException",
                    "Too many requests, please wait before trying again.",
                )
                return None
            if script.failure == "access_denied":
                self.aws_error(
                    403,
                    "AccessDeniedException",
                    "You don't have access to the model with the specified model ID.",
                )
                return None
            if script.failure == "expired_token":
                self.aws_error(
                    403,
                    "ExpiredTokenException",
                    "The security token included in the request is expired",
                )
                return None
            if script.failure == "server_error":
                self.aws_error(500, "InternalServerException", "Internal error.")
                return None
            if script.failure == "hang":
                self.fake.stop_event.wait(600)
                return None
        return script, failing

    def bedrock(self, model_id: str, operation: str, body: dict[str, Any]) -> None:
        found = self._script_or_error(
            self.fake.models,
            model_id,
            (400, "ValidationException", "The provided model identifier is invalid."),
        )
        if found is None:
            return
        script, failing = found
        if script.first_token_delay_s:
            time.sleep(script.first_token_delay_s)
        usage = {
            "inputTokens": script.input_tokens,
            "outputTokens": len(script.tokens),
            "totalTokens": script.input_tokens + len(script.tokens),
        }
        if operation == "converse":
            self.send_json(
                200,
                {
                    "output": {
                        "message": {"role": "assistant", "content": [{"text": script.text}]}
                    },
                    "stopReason": "end_turn",
                    "usage": usage,
                    "metrics": {"latencyMs": script.latency_ms},
                },
            )
            return
        self.start_chunked("application/vnd.amazon.eventstream")
        self.write_chunk(event_frame("messageStart", {"role": "assistant"}))
        midstream = failing and script.failure == "throttle_midstream"
        for i, token in enumerate(script.tokens):
            if midstream and i == script.midstream_after:
                self.write_chunk(
                    exception_frame(
                        "throttlingException", "Too many tokens, please wait before trying again."
                    )
                )
                self.end_chunked()
                return
            if i and script.token_delay_s:
                time.sleep(script.token_delay_s)
            if not self.write_chunk(
                event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": token}})
            ):
                return
        self.write_chunk(event_frame("contentBlockStop", {"contentBlockIndex": 0}))
        self.write_chunk(event_frame("messageStop", {"stopReason": "end_turn"}))
        self.write_chunk(
            event_frame("metadata", {"usage": usage, "metrics": {"latencyMs": script.latency_ms}})
        )
        self.end_chunked()

    # -- Bedrock embeddings and Knowledge Bases ---------------------------------------

    def titan_embedding(self, model_id: str, body: dict[str, Any]) -> None:
        """Titan Text Embeddings v2 `InvokeModel`: a hashed bag of words, L2-normalised, so
        texts sharing words are close (enough for retrieval tests to mean something)."""
        text, dim = body.get("inputText"), int(body.get("dimensions", 1024))
        if not isinstance(text, str) or not text or dim not in (256, 512, 1024):
            self.aws_error(400, "ValidationException", "Malformed input request")
            return
        self.send_json(
            200,
            {"embedding": hashed_embedding(text, dim), "inputTextTokenCount": len(text.split())},
        )

    def kb_retrieve(self, kb_id: str, body: dict[str, Any]) -> None:
        docs = self.fake.knowledge_bases.get(kb_id)
        if docs is None:
            self.aws_error(404, "ResourceNotFoundException", f"Knowledge base {kb_id} not found")
            return
        query = body.get("retrievalQuery", {}).get("text")
        config = body.get("retrievalConfiguration", {}).get("vectorSearchConfiguration", {})
        if not query:
            self.aws_error(400, "ValidationException", "retrievalQuery.text is required")
            return
        words = set(query.lower().split())
        scored = sorted(docs, key=lambda d: -len(words & set(d["text"].lower().split())))[
            : int(config.get("numberOfResults", 5))
        ]
        self.send_json(
            200,
            {
                "retrievalResults": [
                    {
                        "content": {"text": d["text"], "type": "TEXT"},
                        "location": {"type": "S3", "s3Location": {"uri": d["uri"]}},
                        "score": round(1.0 - rank * 0.1, 3),
                        "metadata": {"x-amz-bedrock-kb-source-uri": d["uri"]},
                    }
                    for rank, d in enumerate(scored)
                ]
            },
        )

    # -- SageMaker -------------------------------------------------------------------

    def sagemaker(self, endpoint: str, operation: str, body: dict[str, Any]) -> None:
        found = self._script_or_error(
            self.fake.endpoints,
            endpoint,
            (400, "ValidationError", f"Endpoint {endpoint} of account 123456789012 not found."),
        )
        if found is None:
            return
        script = found[0]
        lines = self.fake.stream_lines(endpoint, script)
        if operation == "invocations":
            self.send_json(
                200, self.fake.sagemaker_bodies.get(endpoint) or {"generated_text": script.text}
            )
            return
        self.start_chunked(
            "application/vnd.amazon.eventstream",
            {"X-Amzn-SageMaker-Content-Type": "text/event-stream"},
        )
        if script.first_token_delay_s:
            time.sleep(script.first_token_delay_s)
        payload = b"".join(lines)
        # Split the byte stream at arbitrary points, as SageMaker does: parts do not align with lines.
        size = self.fake.part_size
        for start in range(0, len(payload), size):
            if start and script.token_delay_s:
                time.sleep(script.token_delay_s)
            if not self.write_chunk(event_frame("PayloadPart", payload[start : start + size])):
                return
        self.end_chunked()


def hashed_embedding(text: str, dim: int) -> list[float]:
    vector = [0.0] * dim
    for word in text.lower().split():
        word = word.strip(".,;:!?()[]\"'")
        if word:
            vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % dim] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


class FakeAws(FakeServer):
    handler = _AwsHandler

    def __init__(self) -> None:
        super().__init__()
        self.models: dict[str, Script] = {}
        self.endpoints: dict[str, Script] = {}
        self.endpoint_formats: dict[str, str] = {}
        self.sagemaker_bodies: dict[str, Any] = {}
        self.part_size = 7
        self.requests: list[dict[str, Any]] = []
        self.embedders: set[str] = {"amazon.titan-embed-text-v2:0"}
        self.knowledge_bases: dict[str, list[dict[str, str]]] = {}
        self.batch = BedrockBatchJobs(self)  # set batch.s3_endpoint to moto's server

    def stream_lines(self, endpoint: str, script: Script) -> list[bytes]:
        fmt = self.endpoint_formats.get(endpoint, "messages")
        if fmt == "tgi":
            lines = [
                b"data:"
                + json.dumps(
                    {
                        "index": i,
                        "token": {"id": i, "text": t, "logprob": -0.1, "special": False},
                        "generated_text": None,
                        "details": None,
                    }
                ).encode()
                + b"\n\n"
                for i, t in enumerate(script.tokens)
            ]
            lines.append(
                b"data:"
                + json.dumps(
                    {
                        "index": len(script.tokens),
                        "token": {"id": 2, "text": "</s>", "special": True},
                        "generated_text": script.text,
                        "details": {
                            "finish_reason": "eos_token",
                            "generated_tokens": len(script.tokens),
                        },
                    }
                ).encode()
                + b"\n\n"
            )
            return lines
        lines = [
            b"data: "
            + json.dumps(
                {"choices": [{"index": 0, "delta": {"content": t}, "finish_reason": None}]}
            ).encode()
            + b"\n\n"
            for t in script.tokens
        ]
        lines.append(
            b"data: "
            + json.dumps({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}).encode()
            + b"\n\n"
        )
        lines.append(
            b"data: "
            + json.dumps(
                {
                    "choices": [],
                    "usage": {
                        "prompt_tokens": script.input_tokens,
                        "completion_tokens": len(script.tokens),
                    },
                }
            ).encode()
            + b"\n\n"
        )
        lines.append(b"data: [DONE]\n\n")
        return lines
