"""The OpenAI-compatible provider against a real HTTP server speaking the chat completions SSE."""

from __future__ import annotations

import asyncio

import pytest

from service.errors import ProviderError
from service.models.providers import build_chat_model, probe_model
from service.models.variants import OpenAIModel, Variant
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.script import Script


def variant(fake: FakeOpenAI, model: str = "m1", key_env: str | None = None) -> Variant:
    return Variant(
        name="oa", model=OpenAIModel(base_url=fake.base_url, model=model, api_key_env=key_env)
    )


def stream(model, prompt="hi", **kwargs):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        return [c async for c in model.astream(prompt, **kwargs)]

    return asyncio.run(go())


def test_streams_with_usage_and_sends_params_and_key(
    fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_KEY", "sk-test")
    fake_openai.models["m1"] = Script(tokens=["Hi", " there"], input_tokens=7)
    chunks = stream(
        build_chat_model(variant(fake_openai, key_env="MY_KEY")),
        temperature=0.4,
        max_tokens=9,
        stop=["\n"],
    )
    assert "".join(c.text for c in chunks) == "Hi there"
    usage = next(c.usage_metadata for c in chunks if c.usage_metadata)
    assert usage == {"input_tokens": 7, "output_tokens": 2, "total_tokens": 9}
    sent = fake_openai.requests[-1]
    assert sent["temperature"] == 0.4 and sent["max_tokens"] == 9 and sent["stop"] == ["\n"]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


def test_chunks_without_langchain_bookkeeping_match_astream(fake_openai: FakeOpenAI) -> None:
    """The engine's path (`achunks`) gives what `astream` gives: text, usage, finish."""
    from langchain_core.messages import HumanMessage

    fake_openai.models["m1"] = Script(tokens=["Hi", " there"], input_tokens=7)
    model = build_chat_model(variant(fake_openai))

    async def both():  # type: ignore[no-untyped-def]
        fast = [c async for c in model.achunks([HumanMessage("hi")], max_tokens=9)]
        return fast, [c async for c in model.astream("hi", max_tokens=9)]

    fast_chunks, slow_chunks = asyncio.run(both())
    assert len(fast_chunks) == 3  # two tokens, then usage and the finish reason
    assert [(c.text, c.usage_metadata) for c in fast_chunks] == [
        (c.text, c.usage_metadata) for c in slow_chunks if c.text or c.usage_metadata
    ]
    assert fast_chunks[-1].response_metadata["finish_reason"] == "stop"
    assert fake_openai.requests[-1]["max_tokens"] == 9


def test_sync_invoke(fake_openai: FakeOpenAI) -> None:
    assert (
        build_chat_model(variant(fake_openai, model="echo")).invoke("one two three").text
        == "one two three"
    )


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        ("throttle", "throttled"),
        ("access_denied", "credentials_invalid"),
        ("server_error", "provider_error"),
    ],
)
def test_http_errors_map_to_codes(fake_openai: FakeOpenAI, failure: str, code: str) -> None:
    fake_openai.models["m1"] = Script(failure=failure)  # type: ignore[arg-type]
    with pytest.raises(ProviderError) as exc:
        stream(build_chat_model(variant(fake_openai)))
    assert exc.value.code == code


def test_unknown_model_and_unreachable_server(fake_openai: FakeOpenAI) -> None:
    with pytest.raises(ProviderError) as exc:
        stream(build_chat_model(variant(fake_openai, model="nope")))
    assert exc.value.code == "model_not_found" and "does not exist" in exc.value.message
    assert probe_model(variant(fake_openai)).ok
    dead = Variant(name="dead", model=OpenAIModel(base_url="http://127.0.0.1:9/v1", model="x"))
    probe = probe_model(dead)
    assert not probe.ok and "provider_unreachable" in probe.detail
