"""Models discovered in the AWS account (admin): GET /api/discover lists the Bedrock models
and inference profiles and the SageMaker endpoints and inference components the service can
call; POST /api/discover/add turns one into a variant, stored and usable at once."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from service.api.deps import PrincipalDep, RuntimeDep, error_responses
from service.api.variants import variant_out
from service.app import Runtime, create_variant
from service.models import (
    AdapterName,
    AwsTarget,
    Discovery,
    TemplateName,
    discover,
    discovered_variant,
)
from service.schemas import VariantOut

router = APIRouter(prefix="/api/discover", tags=["discover"])


def target_of(runtime: Runtime, region: str | None = None) -> AwsTarget:
    """The configured target; an admin may name another region (never another endpoint URL:
    the server would call it)."""
    return AwsTarget.of(runtime.settings, region=region)


@router.get("")
async def list_discovered(
    runtime: RuntimeDep,
    bedrock: bool = Query(True, description="List Bedrock models and inference profiles."),
    sagemaker: bool = Query(True, description="List SageMaker endpoints InService."),
    region: str | None = Query(None, max_length=32, pattern=r"^[a-z0-9-]+$"),
) -> Discovery:
    """A service that cannot be listed (no credentials, access denied) is named in
    `problems`; the other's models are still listed."""
    target = target_of(runtime, region)
    return await asyncio.to_thread(discover, target, bedrock=bedrock, sagemaker=sagemaker)


class AddDiscovered(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=512, description="A discovered model's `id`.")
    name: str | None = Field(default=None, description="The variant's name (default: from the id).")
    adapter: AdapterName | None = Field(
        default=None, description="SageMaker: the payload adapter, when the image's is unknown."
    )
    prompt_template: TemplateName | None = None
    region: str | None = Field(default=None, max_length=32, pattern=r"^[a-z0-9-]+$")


@router.post("/add", status_code=201, responses=error_responses(404, 409, 422))
async def add_discovered(
    runtime: RuntimeDep, body: AddDiscovered, principal: PrincipalDep
) -> VariantOut:
    """Turn a discovered model into a variant (audited), in the comparison pickers at once."""
    variant = await asyncio.to_thread(
        discovered_variant,
        target_of(runtime, body.region),
        body.id,
        name=body.name,
        adapter=body.adapter,
        prompt_template=body.prompt_template,
    )
    await asyncio.to_thread(
        create_variant, runtime, variant, actor=principal.name, detail={"discovered": body.id}
    )
    return variant_out(runtime, variant)
