"""Variants over HTTP: list them (anyone who may compare), add one (admin; audited)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from service.api.deps import PrincipalDep, RuntimeDep, error_responses
from service.app import Runtime
from service.app import create_variant as add_to_service
from service.models import Variant
from service.schemas import VariantOut

router = APIRouter(prefix="/api/variants", tags=["variants"])


def variant_out(runtime: Runtime, v: Variant) -> VariantOut:
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
    return [variant_out(runtime, v) for v in runtime.catalog.all()]


@router.post("", status_code=201, responses=error_responses(409, 422))
async def create_variant(
    runtime: RuntimeDep, variant: Variant, principal: PrincipalDep
) -> VariantOut:
    """Add a variant (admin; audited). Its `api_key_env` must be allowed: an
    ARBITER_PROVIDER_KEY_* variable or one listed in ARBITER_PROVIDER_KEY_ENVS."""
    await asyncio.to_thread(add_to_service, runtime, variant, actor=principal.name)
    return variant_out(runtime, variant)
