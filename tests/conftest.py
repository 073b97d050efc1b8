"""Shared by every kind of test: dummy AWS credentials (tests never reach AWS), a polling
helper, and the unit / integration / e2e / security marks taken from each test's folder. The heavy
fixtures (stores, servers, browser) are in `tests/support/fixtures.py`, which only the
integration and e2e folders load."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")

# httpx's top-level calls (`httpx.get(url)`) wait 5 s for an answer unless given a timeout.
# On the 2-core CI machine, with two test workers and their servers, a page, report or
# campaign call has passed that now and then: a timeout there is load, not a finding. Calls
# without a timeout of their own wait up to 60 s; a test about a timeout passes its own.
# (The service's own httpx calls all pass theirs.)
TEST_HTTP_TIMEOUT_S = 60.0


def _patient(call: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(call)
    def with_timeout(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", TEST_HTTP_TIMEOUT_S)
        return call(*args, **kwargs)

    return with_timeout


for _name in ("request", "stream", "get", "options", "head", "post", "put", "patch", "delete"):
    setattr(httpx, _name, _patient(getattr(httpx, _name)))


@pytest.fixture(autouse=True)
def _aws_dummy_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never reach AWS: dummy credentials, a fixed region, no config files."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    # Model discovery (GET /api/discover, the fuzzer included) never looks in a real account:
    # a closed local port unless a test points it at the fake.
    monkeypatch.setenv("ARBITER_DISCOVER_ENDPOINT_URL", "http://127.0.0.1:9")


@pytest.fixture
def wait_for() -> Callable[[Callable[[], bool], float], None]:
    def _wait(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("condition not met in time")
            time.sleep(0.02)

    return _wait


KINDS = ("unit", "integration", "e2e", "security")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test is marked by its folder: unit, integration or e2e (`-m unit` selects)."""
    for item in items:
        kind = Path(str(item.fspath)).parent.name
        if kind in KINDS:
            item.add_marker(getattr(pytest.mark, kind))
