"""Redis down under a running `arbiter serve` (issue 19): a key's requests keep getting
answers (counted by the process on its own), the failure shows on /metrics, and once a
`redis-server` answers on the same port again the limits are counted there again."""

from __future__ import annotations

import re
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import redis

from service.access.limits import SHARED_RETRY_S
from tests.support.processes import arbiter_server, openai_variants_toml, redis_server, replica_env

ADMIN_KEY = "arb_" + "d" * 40


def _metric(text: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found is not None, f"{name} not on /metrics"
    return float(found.group(1))


def test_redis_down_keeps_answering_counts_the_failure_and_comes_back(tmp_path: Path) -> None:
    variants = tmp_path / "arbiter.toml"
    variants.write_text(openai_variants_toml("http://127.0.0.1:9/v1"))  # never called
    with ExitStack() as stack:
        first_redis = stack.enter_context(redis_server())
        env = {
            **replica_env(f"sqlite:///{tmp_path / 'arbiter.db'}", variants, ADMIN_KEY),
            "ARBITER_REDIS_URL": first_redis.url,
        }
        server = stack.enter_context(arbiter_server(tmp_path, env=env))
        admin = stack.enter_context(
            httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {ADMIN_KEY}"})
        )
        made = admin.post(
            "/api/keys", json={"name": "limited", "scopes": ["compare"], "rate_per_min": 600}
        )
        assert made.status_code == 201, made.text
        limited = stack.enter_context(
            httpx.Client(
                base_url=server.url, headers={"authorization": f"Bearer {made.json()['secret']}"}
            )
        )
        assert limited.get("/v1/models").status_code == 200
        metrics = admin.get("/metrics").text
        assert _metric(metrics, "arbiter_limits_shared") == 1.0
        assert _metric(metrics, "arbiter_limits_redis_failures_total") == 0.0
        # The request was counted in Redis: its bucket is there.
        probe = redis.Redis.from_url(first_redis.url)
        assert any(b":rate" in k for k in probe.keys("arbiter:limits:*"))
        probe.close()

        first_redis.proc.terminate()
        first_redis.proc.wait(timeout=10)
        statuses = [limited.get("/v1/models").status_code for _ in range(5)]
        assert statuses == [200] * 5  # counted in the process: no outage
        metrics = admin.get("/metrics").text
        assert _metric(metrics, "arbiter_limits_shared") == 0.0
        assert _metric(metrics, "arbiter_limits_redis_failures_total") == 1.0  # then local

        # After the retry pause Redis is still not counting (the gauge says so until a call
        # succeeds); the next request tries it again, fails, and is counted.
        time.sleep(SHARED_RETRY_S + 0.2)
        assert _metric(admin.get("/metrics").text, "arbiter_limits_shared") == 0.0
        assert limited.get("/v1/models").status_code == 200
        metrics = admin.get("/metrics").text
        failures = _metric(metrics, "arbiter_limits_redis_failures_total")
        assert failures == 2.0 and _metric(metrics, "arbiter_limits_shared") == 0.0

        # Redis is back on the same port (empty: it keeps nothing on disk).
        second_redis = stack.enter_context(redis_server(first_redis.port))
        time.sleep(SHARED_RETRY_S + 0.2)
        assert limited.get("/v1/models").status_code == 200
        metrics = admin.get("/metrics").text
        assert _metric(metrics, "arbiter_limits_shared") == 1.0
        assert _metric(metrics, "arbiter_limits_redis_failures_total") == failures  # no new one
        probe = redis.Redis.from_url(second_redis.url)
        assert any(b":rate" in k for k in probe.keys("arbiter:limits:*"))  # counted there
        probe.close()
