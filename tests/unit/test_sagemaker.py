"""SageMaker: moto's server for invoke_endpoint, the fake server for the streaming call,
and each payload adapter."""

from __future__ import annotations

import pytest

from service.errors import ProviderError
from service.models.providers.sagemaker_adapters import (
    LineBuffer,
    StreamState,
    make_adapter,
    render_prompt,
)

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}]


def test_adapters_build_container_payloads() -> None:
    params = {"temperature": 0.0, "top_p": 0.9, "max_tokens": 64, "stop": ["</s>"]}
    tgi = make_adapter("tgi", "llama3").request(MESSAGES, params, stream=True)
    assert tgi["parameters"] == {
        "top_p": 0.9,
        "max_new_tokens": 64,
        "stop": ["</s>"],
        "do_sample": False,
        "details": True,
        "return_full_text": False,
    }
    assert tgi["inputs"].startswith("<|begin_of_text|><|start_header_id|>system")
    msgs = make_adapter("messages", "chatml").request(MESSAGES, params, stream=False)
    assert msgs == {
        "messages": MESSAGES,
        "stream": False,
        "temperature": 0.0,
        "top_p": 0.9,
        "max_tokens": 64,
        "stop": ["</s>"],
    }
    js = make_adapter("jumpstart", "plain").request(MESSAGES, params, stream=False)
    assert js == {
        "text_inputs": "System: Be brief.\nUser: Hi?\nAssistant:",
        "temperature": 0.0,
        "top_p": 0.9,
        "max_length": 64,
    }
    assert render_prompt(MESSAGES, "chatml").count("<|im_start|>") == 3


def test_unexpected_response_shape_names_the_adapter() -> None:
    with pytest.raises(ProviderError) as exc:
        make_adapter("tgi", "chatml").parse({"oops": 1})
    assert "unexpected TGI response" in exc.value.message
    assert "adapter" in exc.value.hint


def test_line_buffer_and_tgi_special_tokens() -> None:
    buf = LineBuffer()
    events = buf.feed(b'data:{"token":{"text":"a"}}\n\ndata:{"tok') + buf.feed(
        b'en":{"text":"</s>","special":true},"details":{"finish_reason":"eos_token","generated_tokens":1}}\n'
    )
    state = StreamState()
    adapter = make_adapter("tgi", "chatml")
    assert [adapter.parse_event(e, state) for e in events] == ["a", ""]
    assert state.finish_reason == "eos_token"
    with pytest.raises(Exception, match="not JSON"):
        LineBuffer().feed(b"garbage\n")
