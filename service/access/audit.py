"""The audit log: who did what, when — admin actions (variants, deployments, keys, use
cases) and exports. Append-only; read with `GET /api/audit` or `arbiter audit`."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from service.redact import redact_value
from service.store import Store, audit_log


def actor_of(request: Request | None) -> str:
    """The authenticated principal's name, or `local` in the default single-admin mode."""
    principal = getattr(request.state, "principal", None) if request is not None else None
    return getattr(principal, "name", "local")


def record(
    store: Store,
    request: Request | None,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
    *,
    actor: str | None = None,
) -> None:
    """`detail` is redacted: an admin's input may carry a URL with credentials."""
    audit_log.add_event(
        store, actor or actor_of(request), action, target, redact_value(detail or {})
    )
