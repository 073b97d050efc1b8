"""Adding a variant to the running service: checked, stored (it outlives a restart), known
to the catalog, the gateway and the page's pickers at once, and audited. The API's
POST /api/variants, a discovered model added from the API or the page, and anything else
that makes variants at run time go through `create_variant`."""

from __future__ import annotations

from typing import Any

from service.access import audit
from service.app.runtime import Runtime
from service.errors import Conflict
from service.models import Variant
from service.store import variants


def create_variant(
    runtime: Runtime,
    variant: Variant,
    *,
    actor: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Blocking (it writes to the store): call it in a thread from async code. `actor` is
    the authenticated caller's name, for the audit log. `Conflict` when the name is taken,
    `InvalidRequest` when the variant may not be added (its `api_key_env`)."""
    runtime.catalog.check(variant)
    if variant.name in runtime.catalog.names():
        raise Conflict(
            f"a variant named {variant.name!r} already exists", hint="Pick another name."
        )
    variants.add_variant(runtime.store, variant)
    runtime.catalog.add(variant)
    runtime.gateway.deployments.known_variant(variant.name)
    audit.record(
        runtime.store,
        None,
        "variant.create",
        variant.name,
        {"provider": variant.provider, "model": variant.model_label, **(detail or {})},
        actor=actor,
    )
