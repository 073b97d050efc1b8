"""A variant created or a deployment set on one `arbiter serve` replica reaches another on the
same PostgreSQL schema without a restart: a compare or gateway call naming it on the other
replica works at once (the unknown name makes it check the store), and it is listed there,
or a changed deployment followed, by the periodic check alone (ARBITER_VARIANT_SYNC_SECONDS)."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fixtures import pg_schema
from tests.support.processes import (
    fake_openai_process,
    openai_variants_toml,
    replica_env,
    start_arbiter,
    stop,
    wait_healthy,
)

ADMIN_KEY = "arb_" + "v" * 40
SYNC_S = 1


def _variant(name: str, provider: str) -> dict[str, Any]:
    return {"name": name, "model": {"provider": "openai", "base_url": provider, "model": "m"}}


def _names(client: httpx.Client) -> set[str]:
    return {v["name"] for v in client.get("/api/variants").json()}


@pytest.mark.timeout(600)
def test_a_variant_created_on_one_replica_is_used_and_listed_on_another(
    tmp_path: Path, wait_for: Any
) -> None:
    with ExitStack() as stack:
        url, _ = stack.enter_context(pg_schema())
        provider = stack.enter_context(fake_openai_process(tokens=5))
        variants = tmp_path / "arbiter.toml"
        variants.write_text(openai_variants_toml(provider))
        env = {
            **replica_env(url, variants, ADMIN_KEY),
            "ARBITER_ONLINE_METRICS": "",
            "ARBITER_VARIANT_SYNC_SECONDS": str(SYNC_S),
        }
        replicas = []
        for i in range(2):
            home = tmp_path / f"r{i}"
            home.mkdir()
            replicas.append(start_arbiter(home, env=env))
        for r in replicas:
            stack.callback(stop, r)
        for r in replicas:
            wait_healthy(r, timeout_s=300)
        a, b = (
            stack.enter_context(
                httpx.Client(
                    base_url=r.url, headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=60
                )
            )
            for r in replicas
        )
        assert _names(b) == {"a", "b"}

        # Used on B right after its creation on A: the unknown name is looked up at once.
        made = a.post("/api/variants", json=_variant("fresh", provider))
        assert made.status_code == 201, made.text
        turn = b.post("/api/compare", json={"prompt": "hi", "variants": ["a", "fresh"]})
        assert turn.status_code == 200, turn.text
        assert [p["variant"] for p in turn.json()["answers"]] == ["a", "fresh"]
        assert all(p["status"] == "ok" for p in turn.json()["answers"])
        made = a.post("/api/variants", json=_variant("gated", provider))
        assert made.status_code == 201, made.text
        chat = b.post(
            "/v1/chat/completions",
            json={"model": "gated", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert chat.status_code == 200, chat.text
        assert chat.json()["choices"][0]["message"]["content"]

        # Listed on B by the periodic check alone (a listing looks nothing up).
        made = a.post("/api/variants", json=_variant("listed", provider))
        assert made.status_code == 201, made.text
        wait_for(lambda: "listed" in _names(b), 60)
        assert _names(b) == _names(a) == {"a", "b", "fresh", "gated", "listed"}
        # A name no replica created is still refused, saying which ones exist.
        unknown = b.post("/api/compare", json={"prompt": "hi", "variants": ["a", "nope"]})
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "unknown_variant"
        assert "listed" in unknown.json()["error"]["hint"]
        # A name taken on another replica is a conflict here too.
        again = b.post("/api/variants", json=_variant("listed", provider))
        assert again.status_code == 409

        # A deployment set on A: routed on B at once (an unknown name looks in the store),
        # and B follows when A changes it, by the periodic check alone.
        def routed_on_b(model: str) -> str:
            call = b.post(
                "/v1/chat/completions",
                json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
            )
            assert call.status_code == 200, call.text
            return call.headers["x-arbiter-variant"]

        put = a.put("/api/deployments/support", json={"live": "a"})
        assert put.status_code == 200, put.text
        assert routed_on_b("support") == "a"
        put = a.put("/api/deployments/support", json={"live": "fresh"})
        assert put.status_code == 200, put.text
        wait_for(lambda: routed_on_b("support") == "fresh", 60)
        assert b.get("/api/deployments/support").json()["split"] == {"fresh": 1.0}
