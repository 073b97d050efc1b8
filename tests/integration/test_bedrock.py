"""Bedrock through the real boto3 / langchain-aws client against the fake ConverseStream server."""

from __future__ import annotations

import asyncio

import pytest

from service.errors import ProviderError
from service.models.providers import build_chat_model, classify_error, probe_model
from service.models.variants import BedrockModel, Variant
from tests.fakes.aws_server import FakeAws
from tests.fakes.script import Script

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


def variant(fake: FakeAws, model_id: str = MODEL, max_attempts: int = 1) -> Variant:
    return Variant(
        name="claude",
        model=BedrockModel(model_id=model_id, endpoint_url=fake.url, max_attempts=max_attempts),
    )


async def collect(model, prompt="hi", **kwargs):  # type: ignore[no-untyped-def]
    chunks = []
    async for chunk in model.astream(prompt, **kwargs):
        chunks.append(chunk)
    return chunks


def test_streams_text_usage_and_latency(fake_aws: FakeAws) -> None:
    fake_aws.models[MODEL] = Script(
        tokens=["Bonjour", " le", " monde"], input_tokens=9, latency_ms=321
    )
    model = build_chat_model(variant(fake_aws))
    chunks = asyncio.run(collect(model, "Say hello in French", temperature=0.3, max_tokens=50))
    assert "".join(c.text for c in chunks) == "Bonjour le monde"
    usage = next(c.usage_metadata for c in chunks if c.usage_metadata)
    assert usage["input_tokens"] == 9 and usage["output_tokens"] == 3
    latency = next(
        c.response_metadata["metrics"]["latencyMs"]
        for c in chunks
        if c.response_metadata.get("metrics")
    )
    assert latency in (321, [321])
    # The real client sent a Converse request with our parameters.
    body = fake_aws.requests[-1]["body"]
    assert fake_aws.requests[-1]["path"].endswith("/converse-stream")
    assert body["inferenceConfig"] == {"temperature": 0.3, "maxTokens": 50}
    assert "AWS4-HMAC-SHA256" in fake_aws.requests[-1]["headers"]["Authorization"]


def test_unknown_model_is_model_not_found(fake_aws: FakeAws) -> None:
    model = build_chat_model(variant(fake_aws, "acme.nope-v1"))
    with pytest.raises(Exception) as exc:
        asyncio.run(collect(model))
    err = classify_error(exc.value)
    assert err.code == "model_not_found"
    assert "model id" in err.hint


def test_access_denied_explains_model_access(fake_aws: FakeAws) -> None:
    fake_aws.models[MODEL] = Script(failure="access_denied")
    with pytest.raises(Exception) as exc:
        asyncio.run(collect(build_chat_model(variant(fake_aws))))
    err = classify_error(exc.value)
    assert err.code == "access_denied"
    assert "model access" in err.hint


def test_throttling_is_retried_by_the_client_with_backoff(fake_aws: FakeAws) -> None:
    fake_aws.models[MODEL] = Script(failure="throttle", fail_times=2, tokens=["ok"])
    chunks = asyncio.run(collect(build_chat_model(variant(fake_aws, max_attempts=3))))
    assert "".join(c.text for c in chunks) == "ok"
    assert fake_aws.models[MODEL].calls == 3


def test_throttling_that_persists_is_a_clear_error(fake_aws: FakeAws) -> None:
    fake_aws.models[MODEL] = Script(failure="throttle")
    with pytest.raises(Exception) as exc:
        asyncio.run(collect(build_chat_model(variant(fake_aws, max_attempts=2))))
    err = classify_error(exc.value)
    assert err.code == "throttled" and err.retryable
    assert fake_aws.models[MODEL].calls == 2


def test_throttling_mid_stream_raises_after_the_earlier_events(fake_aws: FakeAws) -> None:
    fake_aws.models[MODEL] = Script(
        tokens=["a", "b", "c", "d"], failure="throttle_midstream", midstream_after=2
    )
    model = build_chat_model(variant(fake_aws))
    seen: list[str] = []

    async def go() -> None:
        async for chunk in model.astream("hi"):
            seen.append(chunk.text)

    with pytest.raises(Exception) as exc:
        asyncio.run(go())
    assert "".join(seen) == "ab"
    assert classify_error(exc.value).code == "throttled"


def test_non_streaming_invoke(fake_aws: FakeAws) -> None:
    fake_aws.models[MODEL] = Script(tokens=["one", " piece"])
    message = build_chat_model(variant(fake_aws)).invoke("hi")
    assert message.text == "one piece"
    assert fake_aws.requests[-1]["path"].endswith("/converse")


def test_probe(fake_aws: FakeAws) -> None:
    fake_aws.models[MODEL] = Script()
    assert probe_model(variant(fake_aws)).ok
    bad = probe_model(variant(fake_aws, "acme.nope-v1"))
    assert not bad.ok and "model_not_found" in bad.detail


def test_expired_session_token_says_how_to_refresh(fake_aws: FakeAws) -> None:
    fake_aws.models[MODEL] = Script(failure="expired_token")
    with pytest.raises(Exception) as exc:
        asyncio.run(collect(build_chat_model(variant(fake_aws))))
    err = classify_error(exc.value)
    assert err.code == "credentials_invalid"
    assert "aws sso login" in err.hint


def test_expired_credentials_and_missing_region_map_to_clear_errors(
    fake_aws: FakeAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError, NoRegionError

    expired = ClientError(
        {
            "Error": {
                "Code": "ExpiredTokenException",
                "Message": "The security token included in the request is expired",
            }
        },
        "ConverseStream",
    )
    err = classify_error(expired)
    assert err.code == "credentials_invalid" and "aws sso login" in err.hint
    region = classify_error(NoRegionError())
    assert isinstance(region, ProviderError) and "AWS_REGION" in region.hint
