"""Variants over HTTP: list them (anyone who may compare), add one (admin; audited)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from service.access import audit
from service.api.deps import RuntimeDep, error_responses
from service.app import Runtime
from service.errors import Conflict
from service.models import Variant
from service.schemas import VariantOut
from service.store import variants

router = APIRouter(prefix="/api/variants", tags=["variants"])


def _variant_out(runtime: Runtime, v: Variant) -> VariantOut:
    return VariantOut(
        name=v.name,
        description=v.description,
        provider=v.provider,
        model=v.model_label,
        params=v.params,
        system_prompt=v.system_prompt,
        uses_context=v.rag.use_context,
        source=runtime.catalog.source(v.name),
    )


@router.get("")
async def list_variants(runtime: RuntimeDep) -> list[VariantOut]:
    return [_variant_out(runtime, v) for v in runtime.catalog.all()]


@router.post("", status_code=201, responses=error_responses(409, 422))
async def create_variant(runtime: RuntimeDep, variant: Variant, request: Request) -> VariantOut:
    """Add a variant (admin; audited). Its `api_key_env` must be allowed: an
    ARBITER_PROVIDER_KEY_* variable or one listed in ARBITER_PROVIDER_KEY_ENVS."""
    runtime.catalog.check(variant)
    if variant.name in runtime.catalog.names():
        raise Conflict(
            f"a variant named {variant.name!r} already exists", hint="Pick another name."
        )
    await asyncio.to_thread(variants.add_variant, runtime.store, variant)
    runtime.catalog.add(variant)
    runtime.gateway.deployments.known_variant(variant.name)
    await asyncio.to_thread(
        audit.record,
        runtime.store,
        request,
        "variant.create",
        variant.name,
        {"provider": variant.provider, "model": variant.model_label},
    )
    return _variant_out(runtime, variant)
