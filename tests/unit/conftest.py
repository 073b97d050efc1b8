"""Unit tests run without a database, a server, a browser or a fake cloud: asking for one of
those fixtures here is a collection error (the test belongs in integration/ or e2e/)."""

from __future__ import annotations

from pathlib import Path

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


UNIT = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if UNIT not in Path(str(item.fspath)).resolve().parents:
            continue  # a hook sees every item, not only this folder's
        heavy = NOT_IN_UNIT_TESTS.intersection(getattr(item, "fixturenames", ()))
        if heavy:
            raise pytest.UsageError(
                f"{item.nodeid} is a unit test but uses {', '.join(sorted(heavy))}: "
                "move it to tests/integration/ or tests/e2e/"
            )
