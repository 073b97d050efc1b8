"""Helpers shared by the auth tests of several kinds."""

from __future__ import annotations

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
