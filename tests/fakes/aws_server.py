"""A fake AWS endpoint speaking the real wire protocols, for what moto does not implement:

- Bedrock runtime `POST /model/{modelId}/converse` (JSON) and `/converse-stream`
  (`application/vnd.amazon.eventstream`, one frame per event);
- Bedrock control plane `GET /foundation-models/{modelId}` (for reachability probes);
- SageMaker runtime `POST /endpoints/{name}/invocations-response-stream` (PayloadPart frames)
  and `/invocations`;
- model discovery: Bedrock `ListFoundationModels`, `ListInferenceProfiles`, SageMaker
  `ListInferenceComponents` / `DescribeInferenceComponent`, and every other SageMaker
  control-plane call passed on to moto's server (`sagemaker_upstream`), so one endpoint URL
  serves discovery and the runtime (see the section "Model discovery" below).
- Bedrock batch inference (model invocation jobs), in `tests/fakes/bedrock_batch.py`.

Real boto3 / langchain-aws clients are pointed at it with `endpoint_url` and dummy
credentials, so signing, parsing, streaming and retries all run for real."""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from moto.core.eventstream import EventStreamEncoder

from tests.fakes import aws_tuning
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


# ==== Model discovery (models discover) ===========================================================
# Bedrock ListFoundationModels / ListInferenceProfiles (REST-JSON, GET), SageMaker
# ListInferenceComponents / DescribeInferenceComponent (JSON 1.1, POST / with X-Amz-Target);
# any other SageMaker control-plane call goes to moto's server unchanged (`sagemaker_upstream`).
# Filters and pagination behave as the services document them; `denied` names operations
# answered with AccessDeniedException, as IAM answers a role without the permission.

_ACCOUNT = "123456789012"


def foundation_model(
    model_id: str,
    provider: str,
    *,
    region: str = "us-east-1",
    inputs: tuple[str, ...] = ("TEXT",),
    outputs: tuple[str, ...] = ("TEXT",),
    streaming: bool | None = True,
    inference: tuple[str, ...] = ("ON_DEMAND",),
    lifecycle: str = "ACTIVE",
) -> dict[str, Any]:
    """A `FoundationModelSummary` as ListFoundationModels returns it."""
    summary: dict[str, Any] = {
        "modelArn": f"arn:aws:bedrock:{region}::foundation-model/{model_id}",
        "modelId": model_id,
        "modelName": model_id.split(".", 1)[-1].split(":")[0],
        "providerName": provider,
        "inputModalities": list(inputs),
        "outputModalities": list(outputs),
        "customizationsSupported": [],
        "inferenceTypesSupported": list(inference),
        "modelLifecycle": {"status": lifecycle},
    }
    if streaming is not None:
        summary["responseStreamingSupported"] = streaming
    return summary


def inference_profile(
    profile_id: str,
    model_id: str,
    regions: tuple[str, ...] = ("us-east-1", "us-west-2"),
    *,
    kind: str = "SYSTEM_DEFINED",
) -> dict[str, Any]:
    """An `InferenceProfileSummary` as ListInferenceProfiles returns it."""
    return {
        "inferenceProfileName": profile_id if kind == "APPLICATION" else f"EU {model_id}",
        "description": f"Routes requests to {model_id} in {', '.join(regions)}.",
        "createdAt": "2024-08-27T00:00:00Z",
        "updatedAt": "2024-08-27T00:00:00Z",
        "inferenceProfileArn": f"arn:aws:bedrock:{regions[0]}:{_ACCOUNT}:"
        + ("application-" if kind == "APPLICATION" else "")
        + f"inference-profile/{profile_id}",
        "models": [
            {"modelArn": f"arn:aws:bedrock:{r}::foundation-model/{model_id}"} for r in regions
        ],
        "inferenceProfileId": profile_id,
        "status": "ACTIVE",
        "type": kind,
    }


def inference_component(
    name: str,
    endpoint: str,
    *,
    region: str,
    image: str | None = None,
    model_name: str | None = None,
    environment: dict[str, str] | None = None,
    status: str = "InService",
) -> dict[str, Any]:
    """A DescribeInferenceComponent answer: its own container (`image`) or a model's."""
    spec: dict[str, Any] = {"ComputeResourceRequirements": {"MinMemoryRequiredInMb": 1024}}
    if model_name:
        spec["ModelName"] = model_name
    if image:
        spec["Container"] = {
            "DeployedImage": {"SpecifiedImage": image, "ResolvedImage": image + "@sha256:0"},
            "Environment": environment or {},
        }
    now = time.time()
    return {
        "InferenceComponentName": name,
        "InferenceComponentArn": f"arn:aws:sagemaker:{region}:{_ACCOUNT}:inference-component/{name}",
        "EndpointName": endpoint,
        "EndpointArn": f"arn:aws:sagemaker:{region}:{_ACCOUNT}:endpoint/{endpoint}",
        "VariantName": "AllTraffic",
        "Specification": spec,
        "RuntimeConfig": {"DesiredCopyCount": 1, "CurrentCopyCount": 1},
        "CreationTime": now,
        "LastModifiedTime": now,
        "InferenceComponentStatus": status,
    }


@dataclass
class DiscoveryState:
    foundation_models: list[dict[str, Any]] = field(default_factory=list)
    inference_profiles: list[dict[str, Any]] = field(default_factory=list)
    inference_components: list[dict[str, Any]] = field(default_factory=list)
    sagemaker_upstream: str | None = None  # moto's server
    denied: set[str] = field(default_factory=set)  # e.g. {"ListFoundationModels"}
    page_size: int = 1000  # items per page when the request names no maximum


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _page(items: list[Any], token: str | None, size: int) -> tuple[list[Any], str | None]:
    start = int(token) if token else 0
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def _arn_region(arn: str) -> str:
    return arn.split(":")[3]


class _DiscoveryHandler(FakeHandler):
    """Each listing answers the region the request was signed for (SigV4's credential
    scope), as each regional endpoint of the real services does."""

    fake: FakeAws

    def signed_region(self) -> str:
        match = re.search(
            r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/", self.headers.get("Authorization", "")
        )
        return match.group(1) if match else "us-east-1"

    def _deny(self, operation: str, json_11: bool) -> bool:
        if operation not in self.fake.discovery.denied:
            return False
        message = (
            f"User: arn:aws:sts::{_ACCOUNT}:assumed-role/arbiter/session is not authorized to "
            f"perform: {'sagemaker' if json_11 else 'bedrock'}:{operation} because no "
            "identity-based policy allows the action"
        )
        if json_11:
            self.send_json(400, {"__type": "AccessDeniedException", "Message": message})
        else:
            self.send_json(403, {"message": message}, {"x-amzn-ErrorType": "AccessDeniedException"})
        return True

    def discovery_get(self) -> bool:
        path, _, query = self.path.partition("?")
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        state = self.fake.discovery
        if path.rstrip("/") == "/foundation-models":
            self.fake.requests.append(
                {"path": self.path, "body": None, "headers": dict(self.headers)}
            )
            if self._deny("ListFoundationModels", False):
                return True
            filters = {
                "byProvider": "providerName",
                "byOutputModality": "outputModalities",
                "byInferenceType": "inferenceTypesSupported",
                "byCustomizationType": "customizationsSupported",
            }
            region = self.signed_region()
            models = [
                m
                for m in state.foundation_models
                if _arn_region(m["modelArn"]) == region
                and all(
                    params[name].lower()
                    in [v.lower() for v in _as_list(m.get(key))]  # byProvider: any case
                    for name, key in filters.items()
                    if name in params
                )
            ]
            self.send_json(200, {"modelSummaries": models})
            return True
        if path.rstrip("/") == "/inference-profiles":
            self.fake.requests.append(
                {"path": self.path, "body": None, "headers": dict(self.headers)}
            )
            if self._deny("ListInferenceProfiles", False):
                return True
            kind = params.get("type", "SYSTEM_DEFINED")
            region = self.signed_region()
            profiles = [
                p
                for p in state.inference_profiles
                if p["type"] == kind and _arn_region(p["inferenceProfileArn"]) == region
            ]
            size = int(params.get("maxResults", state.page_size))
            if not 1 <= size <= 1000:
                self.aws_error_json(400, "ValidationException", "maxResults must be 1-1000")
                return True
            page, token = _page(profiles, params.get("nextToken"), size)
            body: dict[str, Any] = {"inferenceProfileSummaries": page}
            if token:
                body["nextToken"] = token
            self.send_json(200, body)
            return True
        return False

    def aws_error_json(self, status: int, error_type: str, message: str) -> None:
        self.send_json(status, {"message": message}, {"x-amzn-ErrorType": error_type})

    def discovery_post(self) -> bool:
        target = self.headers.get("X-Amz-Target", "")
        if self.path.split("?")[0] != "/" or not target.startswith("SageMaker."):
            return False
        operation = target.removeprefix("SageMaker.")
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else {}
        self.fake.requests.append({"path": target, "body": body, "headers": dict(self.headers)})
        if self._deny(operation, True):
            return True
        state = self.fake.discovery
        if operation == "ListInferenceComponents":
            region = self.signed_region()
            components = [
                c
                for c in state.inference_components
                if _arn_region(c["InferenceComponentArn"]) == region
                and body.get("EndpointNameEquals", c["EndpointName"]) == c["EndpointName"]
                and body.get("StatusEquals", c["InferenceComponentStatus"])
                == c["InferenceComponentStatus"]
                and body.get("NameContains", "") in c["InferenceComponentName"]
            ]
            size = int(body.get("MaxResults", state.page_size))
            page, token = _page(components, body.get("NextToken"), size)
            summaries = [
                {
                    k: c[k]
                    for k in (
                        "CreationTime",
                        "InferenceComponentArn",
                        "InferenceComponentName",
                        "EndpointArn",
                        "EndpointName",
                        "VariantName",
                        "InferenceComponentStatus",
                        "LastModifiedTime",
                    )
                }
                for c in page
            ]
            answer: dict[str, Any] = {"InferenceComponents": summaries}
            if token:
                answer["NextToken"] = token
            self.send_json(200, answer)
            return True
        if operation == "DescribeInferenceComponent":
            name = body.get("InferenceComponentName")
            found = next(
                (
                    c
                    for c in state.inference_components
                    if c["InferenceComponentName"] == name
                    and _arn_region(c["InferenceComponentArn"]) == self.signed_region()
                ),
                None,
            )
            if found is None:
                self.send_json(
                    400,
                    {
                        "__type": "ValidationException",
                        "Message": f'Could not find inference component "{name}".',
                    },
                )
                return True
            self.send_json(200, found)
            return True
        self._to_upstream(raw)
        return True

    def _to_upstream(self, raw: bytes) -> None:
        """Pass the request to moto's server as it came, and its answer back as it came."""
        upstream = self.fake.discovery.sagemaker_upstream
        if upstream is None:
            self.send_json(
                400, {"__type": "UnknownOperationException", "Message": "no SageMaker upstream"}
            )
            return
        headers = {
            k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
        }
        request = urllib.request.Request(
            upstream + self.path, data=raw, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, data, kind = response.status, response.read(), response.headers
        except urllib.error.HTTPError as exc:
            status, data, kind = exc.code, exc.read(), exc.headers
        self.send_response(status)
        self.send_header("Content-Type", kind.get("Content-Type", "application/x-amz-json-1.1"))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


# ==== end of model discovery ======================================================================


class _AwsHandler(_DiscoveryHandler):
    fake: FakeAws

    def aws_error(self, status: int, error_type: str, message: str) -> None:
        self.send_json(status, {"message": message}, {"x-amzn-ErrorType": error_type})

    def do_GET(self) -> None:
        if self.discovery_get():
            return
        if self.fake.batch.get(self):  # Bedrock batch inference jobs
            return
        parts = self.path.split("?")[0].strip("/").split("/")
        if aws_tuning.route(self, "GET", parts, {}):  # model customization (aws_tuning.py)
            return
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
        if self.discovery_post():
            return
        parts = self.path.split("?")[0].strip("/").split("/")
        body = self.read_json()
        self.fake.requests.append({"path": self.path, "body": body, "headers": dict(self.headers)})
        if aws_tuning.route(self, "POST", parts, body):  # model customization (aws_tuning.py)
            return
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
        marker = self.fake.kb_refused_marker
        if marker and marker in query:
            self.aws_error(400, "ValidationException", "The query could not be processed.")
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
        # A query containing this text is refused (ValidationException), as the service
        # refuses one it cannot take: one example's retrieval failing, not the others'.
        self.kb_refused_marker: str | None = None
        self.customization = aws_tuning.Customization()  # Bedrock tuning control plane
        self.discovery = DiscoveryState()
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
