"""Input the service cannot store or read (issue 23, item 10 and two low items), on a real
`arbiter serve` process: a lone surrogate is refused at the door and a stored one no longer
breaks the variant list; a credential header that is not UTF-8 is a 401 in one log line; a
chunked body over the limit is a 413."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.store import Store
from service.store.tables import VariantRow
from tests.security.test_secrets import AS_ADMIN, env, log_text, variant_toml
from tests.support.processes import arbiter_server

pytestmark = pytest.mark.security

JSON = {"Content-Type": "application/json"}
VARIANT = {"provider": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m"}


def raw_json(body: dict[str, object], **escaped: str) -> bytes:
    """`body` as JSON with `escaped` spliced in as written (JSON escapes such as \\ud800)."""
    text = json.dumps(body)
    for key, value in escaped.items():
        text = text.replace(f'"{key}-here"', f'"{value}"')
    return text.encode()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "arbiter.toml").write_text(
        variant_toml("a", "http://127.0.0.1:9/v1") + variant_toml("b", "http://127.0.0.1:9/v1")
    )
    return tmp_path


def test_a_lone_surrogate_in_a_variant_is_refused_and_the_list_keeps_working(home: Path) -> None:
    body = raw_json(
        {"name": "odd", "description": "description-here", "model": VARIANT},
        description="bad \\ud800 text",
    )
    with arbiter_server(home, env=env()) as server:
        r = httpx.post(f"{server.url}/api/variants", content=body, headers={**AS_ADMIN, **JSON})
        assert 400 <= r.status_code < 500, r.text
        error = r.json()["error"]
        assert error["code"] == "unencodable_text"
        assert "description" in error["message"]
        assert error["hint"]
        listed = httpx.get(f"{server.url}/api/variants", headers=AS_ADMIN)
        assert listed.status_code == 200
        assert "odd" not in [v["name"] for v in listed.json()]
        # A pair of surrogates is one character (an emoji), not an error.
        pair = raw_json(
            {"name": "smile", "description": "description-here", "model": VARIANT},
            description="\\ud83d\\ude00",
        )
        ok = httpx.post(f"{server.url}/api/variants", content=pair, headers={**AS_ADMIN, **JSON})
        assert ok.status_code == 201, ok.text
        assert ok.json()["description"] == "\U0001f600"
    with arbiter_server(home, env=env()) as server:
        assert httpx.get(f"{server.url}/api/variants", headers=AS_ADMIN).status_code == 200


def test_a_variant_stored_with_a_lone_surrogate_no_longer_breaks_the_list(home: Path) -> None:
    store = Store(f"sqlite:///{home / 'arbiter.db'}")
    store.upgrade()
    with store.session() as s:  # as an older version stored it
        spec = {"name": "odd", "description": "bad \ud800 text", "model": VARIANT}
        s.add(VariantRow(name="odd", spec=spec, source="api"))
    store.dispose()
    with arbiter_server(home, env=env()) as server:
        listed = httpx.get(f"{server.url}/api/variants", headers=AS_ADMIN)
        assert listed.status_code == 200, listed.text
        odd = next(v for v in listed.json() if v["name"] == "odd")
        assert odd["description"] == "bad \ufffd text"


def test_compare_and_feedback_refuse_a_lone_surrogate_without_the_exception_text(
    home: Path,
) -> None:
    with arbiter_server(home, env=env()) as server:
        for path, body in [
            (
                "/api/compare",
                raw_json({"prompt": "prompt-here", "variants": ["a", "b"]}, prompt="hi \\udfff"),
            ),
            (
                "/v1/feedback",
                raw_json(
                    {"response_id": "response_id-here", "positive": True},
                    response_id="chatcmpl-\\ud800",
                ),
            ),
        ]:
            r = httpx.post(f"{server.url}{path}", content=body, headers={**AS_ADMIN, **JSON})
            assert 400 <= r.status_code < 500, (path, r.text)
            assert r.json()["error"]["code"] == "unencodable_text"
            for leak in ("UnicodeEncodeError", "codec", "Traceback", "sqlite"):
                assert leak not in r.text


def _new_lines(log: Path, before: int, marker: str) -> list[str]:
    return log_text(log, until=marker, timeout_s=3).splitlines()[before:]


@pytest.mark.parametrize(
    ("mode", "header", "value"),
    [
        ("keys", b"Authorization", b"Bearer arb_\xff\xfe-broken"),
        ("keys", b"X-API-Key", b"\xc3\x28"),
        ("header", b"X-Forwarded-User", b"mall\xffory"),
    ],
)
def test_a_credential_header_that_is_not_utf8_is_a_401_in_one_log_line(
    mode: str, header: bytes, value: bytes, home: Path
) -> None:
    with arbiter_server(home, env=env(ARBITER_AUTH=mode)) as server:
        before = len(log_text(server.log).splitlines())
        r = httpx.get(f"{server.url}/api/turns", headers=[(header, value)])
        assert r.status_code == 401, r.text
        error = r.json()["error"]
        assert error["code"] == "unauthenticated"
        assert "UTF-8" in error["message"]
        lines = _new_lines(server.log, before, "auth.bad_header")
    assert 1 <= len(lines) <= 2, lines
    assert "\ufffd" not in "".join(lines) and "broken" not in "".join(lines)


def test_a_chunked_body_over_the_limit_is_a_413_with_the_hint(home: Path) -> None:
    with arbiter_server(home, env=env(ARBITER_MAX_REQUEST_MB="1")) as server:
        created = httpx.post(f"{server.url}/api/collections", json={"name": "c"}, headers=AS_ADMIN)
        assert created.status_code == 201, created.text

        def upload() -> Iterator[bytes]:  # no Content-Length: sent chunked
            yield b'--xx\r\nContent-Disposition: form-data; name="files"; filename="a.txt"\r\n'
            yield b"Content-Type: text/plain\r\n\r\n"
            for _ in range(24):
                yield b"x" * 2**16  # 1.5 MB in all
            yield b"\r\n--xx--\r\n"

        r = httpx.post(
            f"{server.url}/api/collections/c/documents",
            content=upload(),
            headers={**AS_ADMIN, "Content-Type": "multipart/form-data; boundary=xx"},
            timeout=60,
        )
    assert r.status_code == 413, r.text
    error = r.json()["error"]
    assert error["code"] == "request_too_large"
    assert "ARBITER_MAX_REQUEST_MB" in error["hint"]
