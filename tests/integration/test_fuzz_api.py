"""Property-based fuzzing of the HTTP API from its own OpenAPI schema (schemathesis): for
every operation, generated requests — valid and not — never get a 500 and every response
matches the schema. In process over ASGI, bounded in examples per operation, the same cases
every run (derandomized) so a failure is reproducible."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from service.app.runtime import Runtime
from service.web import build_web_app

EXAMPLES_PER_OPERATION = 25


def test_no_server_errors_and_responses_match_the_schema(runtime: Runtime) -> None:
    app = build_web_app(runtime, with_ui=False)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40  # the whole API, not a part of it

    for operation in operations:
        # /readyz answers 503 by design when a model is unreachable (these variants are).
        checks = [response_schema_conformance]
        if operation.path != "/readyz":
            checks.append(not_a_server_error)
        try:
            fuzzer(operation, checks)()
        except (Exception, BaseExceptionGroup) as exc:  # every operation's, not the first
            failures.append(f"{operation.label}: {describe(exc)}")
    runtime.gateway.writer.close()
    assert failures == [], "\n\n".join(failures)


def describe(exc: BaseException) -> str:
    """The failure and, for a group (Hypothesis' several distinct failures, or flaky ones),
    each cause by type: some (a timeout) have no message of their own."""
    causes = [f"{type(e).__name__}: {str(e)[:400]}" for e in getattr(exc, "exceptions", [])]
    return "; ".join([str(exc)[:600], *causes])


def fuzzer(operation: Any, checks: list[Any]) -> Callable[[], None]:
    """A Hypothesis test of one operation, bounded and derandomized."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: schemathesis.Case) -> None:
        case.call_and_validate(checks=checks)

    return fuzz  # type: ignore[no-any-return]
