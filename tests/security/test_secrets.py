"""Secrets stay out of the logs, error answers and `/readyz` (issue 23, items 3, 8 and 9), on a
real `arbiter serve` process in `keys` mode: a forced 500 logs no key, endpoint URLs with
credentials are redacted in `/readyz` and in httpx's log lines, and a variant's `api_key_env`
may name only provider keys (never the admin key or AWS credentials)."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.script import Script
from tests.support.auth import ADMIN
from tests.support.processes import arbiter_server

pytestmark = pytest.mark.security


AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}
PASSWORD = "s3cr3t-pass-word"  # in a variant's base_url (user:password@)
QUERY_KEY = "qs-secret-7781"  # in a variant's base_url (?api_key=)
PROVIDER_KEY = "sk-provider-secret-5512"
AWS_SECRET = "aws-secret-key-do-not-send-9931"
MARK = "[REDACTED]"


def env(**extra: str) -> dict[str, str]:
    return {
        "ARBITER_AUTH": "keys",
        "ARBITER_ADMIN_KEY": ADMIN,
        "ARBITER_RAG_SAMPLE_CORPUS": "false",
        "ARBITER_ONLINE_METRICS": "",
        "ARBITER_EXAMPLE_USE_CASE": "false",
        "ARBITER_WORKER": "false",
        **extra,
    }


def variant_toml(name: str, base_url: str, model: str = "m", api_key_env: str = "") -> str:
    key = f'api_key_env = "{api_key_env}"\n' if api_key_env else ""
    return (
        f'[[variants]]\nname = "{name}"\n[variants.model]\nprovider = "openai"\n'
        f'base_url = "{base_url}"\nmodel = "{model}"\nmax_attempts = 1\n{key}'
    )


def fragments(secret: str, size: int = 10) -> set[str]:
    """Every piece of `secret` long enough to identify it."""
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


def log_text(log: Path, until: str = "", timeout_s: float = 10) -> str:
    """The server's log, once it contains `until` (lines are written as they happen)."""
    deadline = time.monotonic() + timeout_s
    while True:
        text = log.read_text(errors="replace")
        if until in text or time.monotonic() > deadline:
            return text
        time.sleep(0.1)


@pytest.fixture
def provider() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    fake.models["m"] = Script(tokens=["fine", " thanks"])
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def test_a_forced_500_answers_an_error_id_and_logs_no_key(tmp_path: Path) -> None:
    (tmp_path / "arbiter.toml").write_text(variant_toml("a", "http://127.0.0.1:9/v1"))
    with arbiter_server(tmp_path, env=env()) as server:
        # The database refuses new keys (a genuine failure the service does not expect).
        with sqlite3.connect(tmp_path / "arbiter.db") as db:
            db.execute(
                "CREATE TRIGGER refuse_keys BEFORE INSERT ON api_keys "
                "BEGIN SELECT RAISE(ABORT, 'the disk said no'); END"
            )
        r = httpx.post(
            f"{server.url}/api/keys",
            json={"name": "ci-bot", "scopes": ["compare"]},
            headers={**AS_ADMIN, "Cookie": "session=cookie-secret-4471"},
        )
        assert r.status_code == 500
        error = r.json()["error"]
        assert error["code"] == "internal_error"
        for leak in ("disk said no", "IntegrityError", "api_keys", "INSERT"):
            assert leak not in r.text
        found = re.search(r"error id ([0-9a-f-]{36})", error["message"])
        assert found, error
        log = log_text(server.log, until="disk said no")
    assert found.group(1) in log  # the operator finds the traceback by the id
    assert "disk said no" in log
    for piece in fragments(ADMIN):
        assert piece not in log
    assert f"Bearer {ADMIN[:4]}" not in log
    assert "cookie-secret-4471" not in log
    assert MARK in log


def test_readyz_shows_details_to_an_admin_only_and_no_endpoint_credentials(
    provider: FakeOpenAI, tmp_path: Path
) -> None:
    host = provider.url.removeprefix("http://")
    (tmp_path / "arbiter.toml").write_text(
        variant_toml("cred", f"http://bob:{PASSWORD}@{host}/v1")
        + variant_toml("query", f"http://{host}/v1?api_key={QUERY_KEY}")
    )
    with arbiter_server(tmp_path, env=env(ARBITER_LOG_LEVEL="debug")) as server:
        anonymous = httpx.get(f"{server.url}/readyz", timeout=30)
        assert anonymous.status_code in (200, 503)
        assert set(anonymous.json()) == {"ready"}
        key = httpx.post(
            f"{server.url}/api/keys", json={"name": "r", "scopes": ["compare"]}, headers=AS_ADMIN
        ).json()["secret"]
        rater = httpx.get(
            f"{server.url}/readyz", headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        assert set(rater.json()) == {"ready"}

        admin = httpx.get(f"{server.url}/readyz", headers=AS_ADMIN, timeout=30)
        checks = admin.json()["checks"]
        assert {"store", "variant:cred", "variant:query"} <= set(checks)
        assert checks["variant:cred"]["ok"] is True
        assert MARK in checks["variant:cred"]["detail"]
        assert host in checks["variant:cred"]["detail"]  # still says which endpoint
        for secret in (PASSWORD, QUERY_KEY):
            assert secret not in anonymous.text + rater.text + admin.text

        r = httpx.post(
            f"{server.url}/api/compare",
            json={"prompt": "hi", "variants": ["cred", "query"]},
            headers=AS_ADMIN,
            timeout=60,
        )
        assert r.status_code == 200, r.text
        assert [a["status"] for a in r.json()["answers"]] == ["ok", "ok"]
        log = log_text(server.log, until="chat/completions")
    assert "HTTP Request" in log  # httpx logged its calls...
    assert "chat/completions" in log
    for secret in (PASSWORD, QUERY_KEY):  # ...without the credentials in the URLs
        assert secret not in log
    assert MARK in log


def test_api_key_env_names_only_provider_keys_through_the_api(
    provider: FakeOpenAI, tmp_path: Path
) -> None:
    (tmp_path / "arbiter.toml").write_text(variant_toml("plain", provider.base_url))
    extra = {
        "ARBITER_PROVIDER_KEY_TEAM": PROVIDER_KEY,
        "MY_TEAM_KEY": PROVIDER_KEY,
        "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
        # Listing a server secret does not make it sendable.
        "ARBITER_PROVIDER_KEY_ENVS": "MY_TEAM_KEY,ARBITER_ADMIN_KEY,AWS_SECRET_ACCESS_KEY",
    }

    def add(name: str, key_env: str) -> httpx.Response:
        spec = {
            "provider": "openai",
            "base_url": provider.base_url,
            "model": "m",
            "api_key_env": key_env,
        }
        return httpx.post(
            f"{server.url}/api/variants", json={"name": name, "model": spec}, headers=AS_ADMIN
        )

    with arbiter_server(tmp_path, env=env(**extra)) as server:
        for name, key_env in [
            ("leak-aws", "AWS_SECRET_ACCESS_KEY"),
            ("leak-admin", "ARBITER_ADMIN_KEY"),
            ("leak-home", "HOME"),
        ]:
            r = add(name, key_env)
            assert r.status_code == 422, r.text
            error = r.json()["error"]
            assert error["code"] == "key_env_not_allowed"
            assert key_env in error["message"]
            assert "ARBITER_PROVIDER_KEY_" in error["hint"]
            compare = httpx.post(
                f"{server.url}/api/compare",
                json={"prompt": "hi", "variants": [name, "plain"]},
                headers=AS_ADMIN,
                timeout=60,
            )
            assert compare.status_code == 404  # never created, so never called
        listed = httpx.get(f"{server.url}/api/variants", headers=AS_ADMIN).json()
        assert not [v["name"] for v in listed if v["name"].startswith("leak-")]

        assert add("team", "ARBITER_PROVIDER_KEY_TEAM").status_code == 201
        assert add("listed", "MY_TEAM_KEY").status_code == 201
        r = httpx.post(
            f"{server.url}/api/compare",
            json={"prompt": "hi", "variants": ["team", "listed"]},
            headers=AS_ADMIN,
            timeout=60,
        )
        assert r.status_code == 200, r.text
        assert [a["status"] for a in r.json()["answers"]] == ["ok", "ok"]
        log = log_text(server.log)
    assert provider.authorizations.count(f"Bearer {PROVIDER_KEY}") == 2
    sent = " ".join(a or "" for a in provider.authorizations)
    assert AWS_SECRET not in sent and ADMIN not in sent
    assert PROVIDER_KEY not in log


@pytest.mark.parametrize("key_env", ["AWS_SECRET_ACCESS_KEY", "ARBITER_ADMIN_KEY"])
def test_a_variants_file_naming_a_server_secret_is_refused_at_start_up(
    key_env: str, tmp_path: Path
) -> None:
    (tmp_path / "arbiter.toml").write_text(
        variant_toml("ok", "http://127.0.0.1:9/v1")
        + variant_toml("leak", "http://127.0.0.1:9/v1", api_key_env=key_env)
    )
    extra = {"AWS_SECRET_ACCESS_KEY": AWS_SECRET, "ARBITER_PROVIDER_KEY_ENVS": key_env}
    with pytest.raises(RuntimeError) as refused, arbiter_server(tmp_path, env=env(**extra)):
        pass
    output = " ".join(str(refused.value).split())  # the console wraps long lines
    assert "did not start" in output
    assert f"api_key_env {key_env!r}" in output
    assert "ARBITER_PROVIDER_KEY_" in output  # what to do instead
