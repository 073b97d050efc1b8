"""Security tests (issue 23) use the shared fixtures of `tests/support/fixtures.py`: live
servers in `keys` and `header` mode, real stores, a real browser."""

from tests.support.fixtures import *  # noqa: F403  (its fixtures, found by name)
