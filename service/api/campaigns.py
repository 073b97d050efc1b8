"""Campaigns, raters and reviews over HTTP."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from service.access import audit
from service.api.deps import PrincipalDep, RuntimeDep, StoreDep, acting_rater, error_responses
from service.errors import ErrorCode, InvalidRequest
from service.labels import campaigns, reviews
from service.schemas import Labelled
from service.serving import blind
from service.store import Store, raters

_ERRORS = error_responses(403, 404, 409, 422)


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    description: str = Field(default="", max_length=5000)
    variants: list[str] = Field(
        default_factory=list, max_length=4, description="2-4 (not with `from_gateway`)."
    )
    raters_per_item: int = Field(default=3, ge=1, le=50)
    raters: list[str] | None = Field(
        default=None, description="Who may take part (default: anyone)."
    )
    prompts: list[str] = Field(default_factory=list, max_length=campaigns.MAX_ITEMS)
    from_traffic: int | None = Field(
        default=None,
        ge=1,
        le=campaigns.MAX_ITEMS,
        description="Take the latest N distinct prompts people asked, instead of `prompts`.",
    )
    from_gateway: int | None = Field(
        default=None,
        ge=1,
        le=campaigns.MAX_ITEMS,
        description="Review production traffic: the latest N stored gateway turns with a "
        "shadow's answer beside the live one, judged as they are.",
    )
    deployment: str | None = Field(default=None, description="With `from_gateway`: only this.")


class RaterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    role: Literal["rater", "reviewer", "admin"] = "rater"


class ReviewIn(Labelled):
    """A review by the signed-in reviewer (an admin may name another: `on_behalf_of`)."""

    label_kind: Literal["vote", "rating"]
    label_id: str = Field(min_length=1, max_length=36)
    status: Literal["accepted", "rejected"]
    note: str | None = Field(default=None, max_length=5000)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


router = APIRouter(tags=["campaigns"])


@router.post("/api/campaigns", status_code=201, responses=_ERRORS)
async def create(
    runtime: RuntimeDep, store: StoreDep, body: CampaignIn, request: Request
) -> dict[str, Any]:
    """Store the campaign; its answers are generated in the background (or, with
    `from_gateway`, are the production answers already stored)."""
    if body.from_gateway:
        items = await asyncio.to_thread(
            campaigns.create_from_gateway,
            store,
            body.name,
            body.from_gateway,
            deployment=body.deployment,
            raters_per_item=body.raters_per_item,
            raters=body.raters,
            description=body.description,
        )
        await asyncio.to_thread(_audit, store, request, body, items)
        return {"name": body.name, "items": items}
    if not 2 <= len(body.variants) <= 4:
        raise InvalidRequest("a campaign compares 2 to 4 variants", code=ErrorCode.INVALID_CAMPAIGN)
    prompts = body.prompts
    if body.from_traffic:
        prompts = await asyncio.to_thread(campaigns.prompts_from_traffic, store, body.from_traffic)
    if not prompts:
        raise InvalidRequest("give `prompts` or `from_traffic`", code=ErrorCode.INVALID_CAMPAIGN)
    spec = campaigns.CampaignSpec(
        name=body.name,
        variants=body.variants,
        prompts=prompts,
        raters_per_item=body.raters_per_item,
        raters=body.raters,
        description=body.description,
    )
    await campaigns.start(store, runtime.catalog, spec, runtime.generate_campaign_later)
    await asyncio.to_thread(_audit, store, request, body, len(prompts))
    return {"name": body.name, "items": len(prompts)}


def _audit(store: Store, request: Request, body: CampaignIn, items: int) -> None:
    """Who created it: the authenticated caller (never a field of the request)."""
    detail = body.model_dump(exclude={"prompts"}) | {"items": items}
    audit.record(store, request, "campaign.create", body.name, detail)


@router.get("/api/campaigns")
async def list_all(store: StoreDep, who: PrincipalDep) -> list[dict[str, Any]]:
    """The campaigns; a rater sees only those open to them."""
    return await asyncio.to_thread(campaigns.list_campaigns, store, who=who.name, role=who.role)


@router.get("/api/campaigns/{name}", responses=_ERRORS)
async def status(store: StoreDep, name: str) -> dict[str, Any]:
    """Progress (per campaign and per rater) and agreement (Fleiss' kappa, Krippendorff's
    alpha, each rater's Cohen's kappa against the majority; far-off raters flagged)."""
    return _plain(await asyncio.to_thread(campaigns.status, store, name))


@router.get("/api/campaigns/{name}/next", responses=_ERRORS)
async def next_item(
    store: StoreDep,
    request: Request,
    name: str,
    on_behalf_of: str | None = Query(None, description="Admins only: another rater's next item."),
) -> Response:
    """Your next item (its blind turn: vote on it as usual); 204 when you are done. The
    turn names no model and shows nobody's vote until yours is stored."""
    rater = await acting_rater(request, on_behalf_of)
    found = await asyncio.to_thread(campaigns.next_item, store, name, rater)
    if found is None:
        return Response(status_code=204)
    return Response(
        content=json.dumps({**found, "turn": blind(found["turn"], rater).model_dump(mode="json")}),
        media_type="application/json",
    )


@router.post("/api/raters", status_code=201, tags=["raters"], responses=_ERRORS)
async def set_rater(store: StoreDep, body: RaterIn) -> dict[str, Any]:
    return await asyncio.to_thread(reviews.set_rater, store, body.name, body.role)


@router.get("/api/raters", tags=["raters"])
async def list_raters(store: StoreDep) -> list[dict[str, Any]]:
    return await asyncio.to_thread(raters.list_raters, store)


@router.post("/api/reviews", status_code=201, tags=["raters"], responses=_ERRORS)
async def review(store: StoreDep, body: ReviewIn, request: Request) -> dict[str, Any]:
    """Accept or reject a vote or rating; rejected labels leave exports and rankings. The
    reviewer is the caller (the `review` scope is checked before this runs), or the person
    an admin names in `on_behalf_of`, who must have the reviewer role."""
    reviewer = await acting_rater(request, body.on_behalf_of)
    named = body.on_behalf_of is not None
    row = await asyncio.to_thread(
        reviews.review,
        store,
        body.label_kind,
        body.label_id,
        body.status,
        reviewer,
        body.note,
        check_role=named,
    )
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
