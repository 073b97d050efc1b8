"""End-to-end tests use the shared fixtures of `tests/support/fixtures.py`."""

from tests.support.fixtures import (  # noqa: F401  (fixtures, found by name)
    browser,
    fake_aws,
    fake_openai,
    live,
    live_ui,
    moto_server,
    page,
    runtime,
    scripts,
    store,
    variants_file,
)
