"""Helpers shared by the auth and security tests: an admin key, a runtime on scripted models
with any settings (keys or header mode), a new API key, and one request per kind of
endpoint with the scope it needs."""

from __future__ import annotations

from pathlib import Path

import httpx

from service.app.bootstrap import build_runtime
from service.app.runtime import Runtime
from service.config import Settings
from service.store import Store
from tests.fakes.script import Script
from tests.fakes.scripted import ScriptedFactory

ADMIN = "arb_test-admin-key-0123456789abcdef"


def secured(
    store: Store,
    variants_file: Path,
    scripts: dict[str, Script],
    tmp_path: Path,
    **settings: object,
) -> Runtime:
    """A runtime on the store with scripted models and these settings (auth="keys", ...)."""
    return build_runtime(
        Settings(
            home=tmp_path,
            variants_file=variants_file,
            max_prompt_chars=1000,
            online_metrics="",
            example_use_case=False,
            **settings,  # type: ignore[arg-type]
        ),
        model_factory=ScriptedFactory(scripts),
        store=store,
    )


def new_key(url: str, name: str, scopes: list[str], **limits: int) -> str:
    """A new API key (its secret), made by the admin through the API."""
    r = httpx.post(
        f"{url}/api/keys",
        json={"name": name, "scopes": scopes, **limits},
        headers={"Authorization": f"Bearer {ADMIN}"},
        timeout=30,  # httpx's 5 s default failed in CI on a loaded machine
    )
    assert r.status_code == 201, r.text
    return str(r.json()["secret"])


# One request per kind of endpoint, with the scope it needs.
ENDPOINTS = [
    ("GET", "/v1/models", None, "compare"),
    (
        "POST",
        "/v1/chat/completions",
        {"model": "alpha", "messages": [{"role": "user", "content": "hi"}]},
        "compare",
    ),
    ("POST", "/api/compare", {"prompt": "hi", "variants": ["alpha", "beta"]}, "compare"),
    ("GET", "/api/turns", None, "compare"),
    ("GET", "/api/leaderboard", None, "compare"),
    ("GET", "/api/usecases", None, "compare"),
    ("GET", "/api/deployments", None, "compare"),
    ("POST", "/api/votes", {"votes": []}, "vote"),
    ("POST", "/v1/feedback", {"response_id": "chatcmpl-x", "positive": True}, "vote"),
    ("GET", "/api/campaigns", None, "vote"),
    (
        "POST",
        "/api/reviews",
        {"label_kind": "vote", "label_id": "x", "status": "accepted"},
        "review",
    ),
    ("GET", "/api/exports/trl-preference?dry_run=true", None, "export"),
    (
        "POST",
        "/api/variants",
        {
            "name": "new",
            "model": {"provider": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m"},
        },
        "admin",
    ),
    ("PUT", "/api/deployments/d1", {"live": "alpha"}, "admin"),
    ("PUT", "/api/usecases/u1", {"variants": ["alpha"], "targets": ["error_rate <= 0.1"]}, "admin"),
    ("GET", "/api/keys", None, "admin"),
    ("GET", "/api/audit", None, "admin"),
    ("POST", "/api/collections", {"name": "c1"}, "admin"),
    ("POST", "/api/eval-runs", {"variants": ["alpha"], "metrics": ["rouge_l"]}, "admin"),
]
