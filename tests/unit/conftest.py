"""Unit tests run without a database, a server, a browser or a fake cloud: asking for one of
those fixtures here is a collection error (the test belongs in integration/ or e2e/)."""

from __future__ import annotations

import pytest

NOT_IN_UNIT_TESTS = {
    "store",
    "runtime",
    "live",
    "live_ui",
    "browser",
    "page",
    "moto_server",
    "fake_aws",
    "fake_openai",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        heavy = NOT_IN_UNIT_TESTS.intersection(getattr(item, "fixturenames", ()))
        if heavy:
            raise pytest.UsageError(
                f"{item.nodeid} is a unit test but uses {', '.join(sorted(heavy))}: "
                "move it to tests/integration/ or tests/e2e/"
            )
