"""SageMaker: moto's server for invoke_endpoint, the fake server for the streaming call,
and each payload adapter."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from service.models.providers import build_chat_model, classify_error
from service.models.variants import SageMakerModel, Variant
from tests.fakes.aws_server import FakeAws
from tests.fakes.script import Script


def variant(
    url: str,
    adapter: str,
    *,
    streaming: bool = True,
    endpoint: str = "ep",
    component: str | None = None,
) -> Variant:
    return Variant(
        name="sm",
        model=SageMakerModel(
            endpoint_name=endpoint,
            adapter=adapter,
            streaming=streaming,  # type: ignore[arg-type]
            endpoint_url=url,
            inference_component=component,
            max_attempts=1,
        ),
    )


def text_of(model, **kwargs) -> tuple[str, list]:  # type: ignore[no-untyped-def]
    async def go() -> list:  # type: ignore[type-arg]
        return [
            c async for c in model.astream([("system", "Be brief."), ("human", "Hi?")], **kwargs)
        ]

    chunks = asyncio.run(go())
    return "".join(c.text for c in chunks), chunks


def queue_moto_result(moto_server: str, body: object) -> None:
    httpx.post(
        f"{moto_server}/moto-api/static/sagemaker/endpoint-results",
        json={"results": [{"Body": json.dumps(body), "ContentType": "application/json"}]},
    ).raise_for_status()


@pytest.mark.parametrize(
    ("adapter", "reply", "expected"),
    [
        (
            "messages",
            {
                "choices": [
                    {
                        "message": {"role": "assistant", "content": "from lmi"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 12, "completion_tokens": 2},
            },
            "from lmi",
        ),
        (
            "tgi",
            [
                {
                    "generated_text": "from tgi",
                    "details": {"finish_reason": "length", "generated_tokens": 2},
                }
            ],
            "from tgi",
        ),
        ("jumpstart", {"generated_texts": ["from jumpstart"]}, "from jumpstart"),
    ],
)
def test_invoke_endpoint_through_moto(
    moto_server: str, adapter: str, reply: object, expected: str
) -> None:
    queue_moto_result(moto_server, reply)
    model = build_chat_model(
        variant(moto_server, adapter, streaming=False, endpoint=f"ep-{adapter}")
    )
    text, chunks = text_of(model, max_tokens=20)
    assert text == expected
    if adapter == "messages":
        assert next(c.usage_metadata for c in chunks if c.usage_metadata)["input_tokens"] == 12


@pytest.mark.parametrize("fmt", ["messages", "tgi"])
def test_response_stream_reassembles_lines_split_across_parts(fake_aws: FakeAws, fmt: str) -> None:
    fake_aws.endpoints["ep"] = Script(tokens=["Hel", "lo", " the", "re"], input_tokens=5)
    fake_aws.endpoint_formats["ep"] = fmt
    fake_aws.part_size = 5  # parts cut JSON lines in the middle
    model = build_chat_model(variant(fake_aws.url, fmt, component="ic-1"))
    text, chunks = text_of(model, temperature=0.5, max_tokens=30)
    assert text == "Hello there"
    usage = next(
        c.response_metadata["token_usage"] for c in chunks if "token_usage" in c.response_metadata
    )
    assert usage["output_tokens"] == 4
    assert usage["input_tokens"] == (
        5 if fmt == "messages" else None
    )  # TGI streams no prompt count
    request = fake_aws.requests[-1]
    assert request["path"] == "/endpoints/ep/invocations-response-stream"
    assert request["headers"]["X-Amzn-SageMaker-Inference-Component"] == "ic-1"
    if fmt == "tgi":
        assert request["body"]["parameters"]["max_new_tokens"] == 30
        assert request["body"]["inputs"].endswith("<|im_start|>assistant\n")
    else:
        assert request["body"]["messages"][1] == {"role": "user", "content": "Hi?"}
        assert request["body"]["max_tokens"] == 30


def test_unknown_endpoint_is_model_not_found(fake_aws: FakeAws) -> None:
    model = build_chat_model(variant(fake_aws.url, "messages", endpoint="missing"))
    with pytest.raises(Exception) as exc:
        text_of(model)
    assert classify_error(exc.value).code == "model_not_found"
