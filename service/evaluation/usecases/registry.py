"""The use cases the service knows: created or replaced from a spec (their variants must
exist), read back, and the bundled example defined at start-up."""

from __future__ import annotations

from service.errors import ErrorCode, InvalidRequest, NotFound
from service.evaluation.usecases.spec import EXAMPLE_FILE, UseCaseSpec, load_file
from service.models import Catalog
from service.store import Store, usecases


def apply(store: Store, catalog: Catalog, spec: UseCaseSpec) -> bool:
    """Create or replace the use case; True when it is new. Its variants must exist."""
    unknown = [v for v in spec.variants if v not in catalog.names()]
    if unknown:
        raise InvalidRequest(
            f"use case {spec.name!r}: unknown variant(s) {', '.join(unknown)}",
            code=ErrorCode.UNKNOWN_VARIANT,
            hint="Known variants: " + ", ".join(catalog.names()),
        )
    return usecases.upsert_spec(store, spec.name, spec.model_dump())


def get(store: Store, name: str) -> UseCaseSpec:
    spec = usecases.get_spec(store, name)
    if spec is None:
        raise NotFound(
            f"use case {name!r} does not exist",
            code=ErrorCode.UNKNOWN_USE_CASE,
            hint="List them with `arbiter usecase list`; define one with "
            "`arbiter usecase apply FILE`.",
        )
    return UseCaseSpec.model_validate(spec)


def list_all(store: Store) -> list[UseCaseSpec]:
    return [UseCaseSpec.model_validate(x) for x in usecases.all_specs(store)]


def apply_example(store: Store, catalog: Catalog) -> str | None:
    """The bundled example, when its variants are configured and it is not stored yet."""
    spec = load_file(EXAMPLE_FILE)
    if any(v not in catalog.names() for v in spec.variants) or usecases.has_use_case(
        store, spec.name
    ):
        return None
    apply(store, catalog, spec)
    return spec.name
