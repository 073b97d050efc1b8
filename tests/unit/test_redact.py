"""What redaction removes (and what it leaves readable), which variables a variant may read
its key from, and text that is not valid Unicode."""

from __future__ import annotations

import logging
import sys

import pytest

from service.app.logs import RedactingFilter
from service.errors import ArbiterError
from service.models.variants import KeyEnvs, OpenAIModel, Variant
from service.redact import MARK, redact, register_secret
from service.text import first_unencodable, scrub


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer arb_Zx81-qq_aa", "Zx81-qq_aa"),
        ("{b'authorization': b'Basic dXNlcjpwYXNz', b'host': b'x'}", "dXNlcjpwYXNz"),
        ("[(b'x-api-key', b'key-7781'), (b'cookie', b'sid=42aa')]", "key-7781"),
        ("[(b'x-api-key', b'key-7781'), (b'cookie', b'sid=42aa')]", "sid=42aa"),
        ('{"Proxy-Authorization": "Digest abc123"}', "abc123"),
        ("Set-Cookie: session=s3ss10n; HttpOnly", "s3ss10n"),
        ("GET https://bob:hunter2@api.example/v1/models", "hunter2"),
        ("GET https://api.example/v1?api_key=k-991&model=m", "k-991"),
        ("https://b.s3.amazonaws.com/x?X-Amz-Credential=AKIA1%2F2&X-Amz-Signature=f00d", "f00d"),
        ("https://b.s3.amazonaws.com/x?X-Amz-Credential=AKIA1%2F2&X-Amz-Signature=f00d", "AKIA1"),
        ("login failed password=pa55w0rd user=bob", "pa55w0rd"),
        ('{"client_secret": "cs-12345"}', "cs-12345"),
        ("the key arb_test-admin-key-0123456789abcdef was used", "0123456789"),
    ],
)
def test_secrets_are_redacted(text: str, secret: str) -> None:
    clean = redact(text)
    assert secret not in clean
    assert MARK in clean


@pytest.mark.parametrize(
    "text",
    [
        "api_key_env=OPENAI_API_KEY",
        "password: String should have at least 12 characters",
        "GET https://api.example/v1/models?model=m&page=2",
        "variant 'alpha' answered in 120 ms",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


def test_a_registered_secret_is_redacted_whatever_it_looks_like() -> None:
    register_secret("plain-words-but-secret")
    assert redact("key is plain-words-but-secret.") == f"key is {MARK}."
    register_secret("short")  # would blank ordinary words: ignored
    assert redact("a short text") == "a short text"


def test_the_log_filter_redacts_message_arguments_and_traceback() -> None:
    try:
        raise RuntimeError("cannot reach https://u:tr4ceback-pw@h/v1")
    except RuntimeError:
        record = logging.LogRecord(
            "httpx", logging.INFO, __file__, 1, "GET %s", ("https://u:arg-pw@h/",), None
        )
        record.exc_info = sys.exc_info()
    assert RedactingFilter().filter(record)
    assert record.getMessage() == f"GET https://{MARK}@h/"
    assert record.exc_text is not None
    assert "tr4ceback-pw" not in record.exc_text and MARK in record.exc_text


def _variant(key_env: str) -> Variant:
    return Variant(
        name="v", model=OpenAIModel(base_url="http://h/v1", model="m", api_key_env=key_env)
    )


@pytest.mark.parametrize("name", ["ARBITER_PROVIDER_KEY_OPENAI", "OPENAI_API_KEY", "TEAM_KEY"])
def test_provider_key_variables_are_allowed(name: str) -> None:
    KeyEnvs(frozenset({"OPENAI_API_KEY", "TEAM_KEY"})).check(_variant(name))


@pytest.mark.parametrize(
    "name",
    [
        "ARBITER_ADMIN_KEY",
        "ARBITER_LINK_SECRET",
        "ARBITER_METRICS_KEY",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "ARBITER_PROVIDER_KEY_",
    ],
)
def test_server_secrets_are_refused_even_when_listed(name: str) -> None:
    with pytest.raises(ArbiterError) as refused:
        KeyEnvs(frozenset({name})).check(_variant(name))
    assert refused.value.code == "key_env_not_allowed"
    assert "ARBITER_PROVIDER_KEY_" in refused.value.hint


def test_an_unlisted_variable_is_refused() -> None:
    with pytest.raises(ArbiterError, match="not an allowed provider key variable"):
        KeyEnvs().check(_variant("HOME"))


def test_lone_surrogates_are_found_and_scrubbed() -> None:
    body = {"name": "x", "panes": [{"text": "ok"}, {"text": "bad \ud800"}]}
    assert first_unencodable(body) == "panes.1.text"
    assert first_unencodable({"text": "\U0001f600"}) is None
    assert scrub(body)["panes"][1]["text"] == "bad \ufffd"
