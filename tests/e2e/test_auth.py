"""Authentication, scopes and limits on the live server: the auth matrix (each kind of
caller x each endpoint), keys hashed and never shown again, the proxy-header mode, the
refusal to listen openly without auth, and 401/403/413/429 with what to do."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from service.access.auth import check_bind
from service.access.people import set_password
from service.errors import ArbiterError
from service.labels.reviews import set_rater
from service.store import Store, turns, votes
from service.store.audit_log import events
from service.store.tables import ApiKeyRow, RatingRow
from tests.fakes.script import Script
from tests.support.auth import ADMIN, ENDPOINTS, new_key, secured
from tests.support.fixtures import LiveServer
from tests.support.gradio import page_client


@pytest.fixture
def keyed(
    store: Store, variants_file: Path, scripts: dict[str, Script], tmp_path: Path
) -> Iterator[LiveServer]:
    runtime = secured(
        store, variants_file, scripts, tmp_path, auth="keys", admin_key=ADMIN, max_request_mb=1
    )
    with LiveServer(runtime) as server:
        yield server


CALLERS = {
    "rater": ["compare", "vote"],
    "reviewer": ["compare", "vote", "review"],
    "exporter": ["compare", "export"],
    "admin": ["compare", "vote", "review", "export", "admin"],
}


def audit_events(store: Store) -> list[dict[str, object]]:

    return events(store)


def test_auth_matrix(keyed: LiveServer) -> None:
    url = keyed.url
    keys = {name: new_key(url, name, scopes) for name, scopes in CALLERS.items()}
    failures = []
    for caller, scopes in [("nobody", []), *CALLERS.items()]:
        headers = {"Authorization": f"Bearer {keys[caller]}"} if caller in keys else {}
        for method, path, body, needed in ENDPOINTS:
            r = httpx.request(method, url + path, json=body, headers=headers, timeout=30)
            allowed = needed in scopes
            if caller == "nobody":
                ok = r.status_code == 401 and r.headers.get("www-authenticate") == "Bearer"
            elif allowed:
                ok = r.status_code not in (401, 403)
            else:
                ok = r.status_code == 403 and f"needs the `{needed}` scope" in r.text
            if not ok:
                failures.append((caller, method, path, r.status_code, r.text[:120]))
    assert failures == []
    # X-API-Key works as well as a bearer token.
    assert httpx.get(f"{url}/api/turns", headers={"X-API-Key": keys["rater"]}).status_code == 200
    me = httpx.get(f"{url}/api/keys/me", headers={"X-API-Key": keys["exporter"]}).json()
    assert me["name"] == "key:exporter" and me["scopes"] == ["compare", "export"]


def test_keys_are_hashed_shown_once_logged_never_and_revocable(
    keyed: LiveServer, capfd: pytest.CaptureFixture[str]
) -> None:
    url, admin = keyed.url, {"Authorization": f"Bearer {ADMIN}"}
    secret = new_key(url, "ci", ["compare"])
    assert secret.startswith("arb_") and len(secret) > 40
    r = httpx.get(f"{url}/api/turns", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 200
    listed = httpx.get(f"{url}/api/keys", headers=admin)
    assert secret not in listed.text and "secret" not in listed.text
    assert secret[4:10] not in listed.text  # the handle shown is the id's, not the secret's
    audit = httpx.get(f"{url}/api/audit", headers=admin)
    assert secret not in audit.text and '"key.create"' in audit.text
    with keyed.runtime.store.session() as s:
        stored = [row.sha256 for row in s.scalars(select(ApiKeyRow))]
    assert secret not in stored and all(len(h) == 64 for h in stored)
    key_id = next(k["id"] for k in listed.json() if k["name"] == "ci")
    assert httpx.delete(f"{url}/api/keys/{key_id}", headers=admin).status_code == 200
    r = httpx.get(f"{url}/api/turns", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 401 and "unknown or revoked" in r.json()["error"]["message"]
    out, err = capfd.readouterr()
    assert secret not in out + err and ADMIN not in out + err


def test_limits_answer_429_with_retry_after(keyed: LiveServer, scripts: dict[str, Script]) -> None:
    url = keyed.url
    slow = new_key(url, "slow", ["compare"], rate_per_min=3)
    headers = {"Authorization": f"Bearer {slow}"}
    codes = [httpx.get(f"{url}/api/turns", headers=headers).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = httpx.get(f"{url}/api/turns", headers=headers)
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 20

    budget = new_key(url, "budget", ["compare"], daily_tokens=20)
    headers = {"Authorization": f"Bearer {budget}"}
    body = {"model": "alpha", "messages": [{"role": "user", "content": "hi"}]}
    first = httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers)
    assert first.status_code == 200  # 11 + 5 tokens
    second = httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers)
    assert second.status_code == 200  # 32 tokens now: over the budget for what follows
    third = httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers)
    assert third.status_code == 429 and third.json()["error"]["type"] == "token_budget_exhausted"
    assert 0 < int(third.headers["retry-after"]) <= 86400

    scripts["gamma"].first_token_delay_s = 1.0
    single = new_key(url, "single", ["compare"], max_concurrency=1)
    headers = {"Authorization": f"Bearer {single}"}
    slow_body = {"model": "gamma", "messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client(timeout=30) as c1, httpx.Client(timeout=30) as c2:
        import threading

        results: list[int] = []
        t = threading.Thread(
            target=lambda: results.append(
                c1.post(f"{url}/v1/chat/completions", json=slow_body, headers=headers).status_code
            )
        )
        t.start()
        time.sleep(0.3)
        busy = c2.post(f"{url}/v1/chat/completions", json=slow_body, headers=headers)
        t.join()
    assert results == [200] and busy.status_code == 429
    assert busy.json()["error"]["type"] == "too_many_in_flight"


def test_daily_token_budgets_survive_a_restart(
    store: Store, variants_file: Path, scripts: dict[str, Script], tmp_path: Path
) -> None:
    """The day's tokens are written to the store (at the latest on shutdown): a restarted
    server refuses a key that had used its budget."""
    body = {"model": "alpha", "messages": [{"role": "user", "content": "hi"}]}
    first = secured(store, variants_file, scripts, tmp_path, auth="keys", admin_key=ADMIN)
    with LiveServer(first) as server:
        budget = new_key(server.url, "budget", ["compare"], daily_tokens=20)
        headers = {"Authorization": f"Bearer {budget}"}
        for _ in range(2):  # 16 tokens each
            r = httpx.post(f"{server.url}/v1/chat/completions", json=body, headers=headers)
            assert r.status_code == 200
    restarted = secured(store, variants_file, scripts, tmp_path, auth="keys", admin_key=ADMIN)
    with LiveServer(restarted) as server:
        r = httpx.post(f"{server.url}/v1/chat/completions", json=body, headers=headers)
        assert r.status_code == 429 and r.json()["error"]["type"] == "token_budget_exhausted"


def test_oversized_requests_are_refused_before_they_are_read(keyed: LiveServer) -> None:
    big = {"prompt": "x" * (2 * 2**20), "variants": ["alpha", "beta"]}
    r = httpx.post(
        f"{keyed.url}/api/compare", json=big, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert r.status_code == 413 and "ARBITER_MAX_REQUEST_MB" in r.json()["error"]["hint"]


def test_header_mode_trusts_only_the_proxy(
    store: Store, variants_file: Path, scripts: dict[str, Script], tmp_path: Path
) -> None:
    runtime = secured(store, variants_file, scripts, tmp_path, auth="header")
    with LiveServer(runtime) as server:
        url = server.url
        rater = {"X-Forwarded-User": "ada", "X-Forwarded-Groups": "staff,rater"}
        assert httpx.get(f"{url}/api/turns", headers=rater).status_code == 200
        assert httpx.get(f"{url}/api/keys", headers=rater).status_code == 403
        admin = {"X-Forwarded-User": "grace", "X-Forwarded-Groups": "admin"}
        assert httpx.get(f"{url}/api/keys", headers=admin).status_code == 200
        assert httpx.get(f"{url}/api/turns").status_code == 401
        for name, who in (("ada-only", ["ada"]), ("bob-only", ["bob"]), ("open", None)):
            httpx.post(
                f"{url}/api/campaigns",
                json={"name": name, "variants": ["alpha", "beta"], "prompts": ["p"], "raters": who},
                headers=admin,
            ).raise_for_status()
        seen = httpx.get(f"{url}/api/campaigns", headers=rater).json()
        assert sorted(c["name"] for c in seen) == ["ada-only", "open"]  # raters: their own
        assert len(httpx.get(f"{url}/api/campaigns", headers=admin).json()) == 3
        other = httpx.get(
            f"{url}/api/campaigns/open/next", params={"on_behalf_of": "bob"}, headers=rater
        )
        assert other.status_code == 403  # not as someone else
        me = httpx.get(f"{url}/api/keys/me", headers=rater).json()
        assert me == {
            "name": "ada",
            "scopes": ["compare", "vote"],
            "role": "rater",
            "tokens_today": 0,
        }
    untrusting = secured(
        store, variants_file, scripts, tmp_path, auth="header", trusted_proxies="10.9.9.9/32"
    )
    with LiveServer(untrusting) as server:
        r = httpx.get(f"{server.url}/api/turns", headers=admin)
        assert r.status_code == 401  # 127.0.0.1 is not the proxy: its headers mean nothing


def test_listening_openly_without_auth_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArbiterError, match=r"refusing to listen on 0\.0\.0\.0"):
        check_bind("0.0.0.0", "none")
    check_bind("127.0.0.1", "none")
    check_bind("::1", "none")
    check_bind("0.0.0.0", "keys")
    result = subprocess.run(
        [sys.executable, "-m", "service", "serve", "--host", "0.0.0.0"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "ARBITER_HOME": str(tmp_path / "h"), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "refusing to listen on 0.0.0.0 without authentication" in result.stdout + result.stderr
    assert "ARBITER_AUTH=keys" in result.stdout + result.stderr


def test_page_sign_in_and_roles(
    store: Store, variants_file: Path, scripts: dict[str, Script], tmp_path: Path
) -> None:
    """ARBITER_AUTH=keys: the page asks for a name and password; a rater may not export
    from it, an admin may (and it is audited under their name)."""

    runtime = secured(store, variants_file, scripts, tmp_path, auth="keys", admin_key=ADMIN)
    set_rater(store, "ada", "rater")
    set_password(store, "ada", "rater-password")
    set_rater(store, "root", "admin")
    set_password(store, "root", "admin-password")
    with LiveServer(runtime, with_ui=True) as server:
        assert httpx.get(f"{server.url}/config").status_code in (401, 403)
        with pytest.raises(Exception, match=r"(?i)login|auth|credentials|401"):
            page_client(server.url, auth=("ada", "wrong-password"))
        rater = page_client(server.url, auth=("ada", "rater-password"))
        denied = rater.predict("trl-kto", "all", 0, False, True, api_name="/export_dry_run")
        assert "records" not in str(denied)  # a warning, no summary
        # Whatever name the caller sends in the name box, the turn, the vote and the
        # ratings are the signed-in person's.
        rater.submit("hello", "root", False, None, 3, api_name="/arena_send").result()
        rater.predict("root", api_name="/arena_vote_a")
        rater.predict("root", "", "", 5, 4, 5, 3, 3, 3, api_name="/arena_rate")
        turn = turns.list_turns(store)[0]
        assert turn.rater == "ada"
        assert [v.rater for v in votes.vote_history(store, turn.id)] == ["ada"]
        with store.session() as s:
            assert set(s.scalars(select(RatingRow.rater))) == {"ada"}
        admin = page_client(server.url, auth=("root", "admin-password"))
        summary, _ = admin.predict(
            "trl-preference", ".jsonl", "all", 0, False, True, api_name="/export"
        )
        assert "records" in summary
    events = [e for e in audit_events(store) if e["action"] == "export"]
    assert [e["actor"] for e in events] == ["root"]
