"""End-to-end tests use the shared fixtures of `tests/support/fixtures.py`."""

from tests.support.fixtures import *  # noqa: F403  (its fixtures, found by name)
