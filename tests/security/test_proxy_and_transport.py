"""Header mode believes user headers only from the proxy's real address (issue 23, item 1):
a local client cannot pose as the proxy with `X-Forwarded-For`. Served as `arbiter serve`
serves, in a subprocess."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.processes import arbiter_server, openai_variants_toml

FORGED = {
    "X-Forwarded-User": "mallory",
    "X-Forwarded-Groups": "admin",
    "X-Forwarded-For": "10.9.9.9",
    "X-Forwarded-Proto": "https",
}
ENV = {
    "ARBITER_AUTH": "header",
    "ARBITER_RAG_SAMPLE_CORPUS": "false",
    "ARBITER_EXAMPLE_USE_CASE": "false",
    "ARBITER_ONLINE_METRICS": "",
}


def _env(home: Path, proxies: str) -> dict[str, str]:
    """Two variants on an endpoint nobody calls here (no local model to load)."""
    (home / "variants.toml").write_text(openai_variants_toml("http://127.0.0.1:9/v1"))
    return {**ENV, "ARBITER_TRUSTED_PROXIES": proxies, "ARBITER_VARIANTS_FILE": "variants.toml"}


def test_a_forged_forwarded_for_does_not_make_a_client_the_proxy(tmp_path: Path) -> None:
    env = _env(tmp_path, "10.9.9.9/32")
    with arbiter_server(tmp_path, env=env) as server:
        minted = httpx.post(
            f"{server.url}/api/keys", json={"name": "x", "scopes": ["admin"]}, headers=FORGED
        )
        assert minted.status_code == 401, minted.text
        assert httpx.get(f"{server.url}/api/turns", headers=FORGED).status_code == 401
        page = httpx.get(f"{server.url}/config", headers=FORGED)
        assert page.status_code in (401, 403) and "mallory" not in page.text


def test_the_real_proxy_is_still_believed(tmp_path: Path) -> None:
    env = _env(tmp_path, "127.0.0.1/32")
    with arbiter_server(tmp_path, env=env) as server:
        admin = {"X-Forwarded-User": "grace", "X-Forwarded-Groups": "admin"}
        minted = httpx.post(
            f"{server.url}/api/keys", json={"name": "ci", "scopes": ["compare"]}, headers=admin
        )
        assert minted.status_code == 201, minted.text
        # the proxy passes on who the user's client is; it does not change who the peer is
        relayed = {**admin, "X-Forwarded-For": "203.0.113.7"}
        assert httpx.get(f"{server.url}/api/keys", headers=relayed).status_code == 200
