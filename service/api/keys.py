"""API keys (admin): create (the secret is shown once), list (never the secret), revoke;
and `GET /api/keys/me`: who the caller is and what they may do."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from service.access import SCOPES, KeyLimits, Keys, audit
from service.api.deps import PrincipalDep, RuntimeDep, StoreDep, error_responses
from service.store import KeyInfo

_ERRORS = error_responses(404, 422)


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128, description="Whose key, or what for.")
    scopes: list[str] = Field(min_length=1, description=f"Of: {', '.join(SCOPES)}.")
    rate_per_min: int | None = Field(default=None, ge=1)
    max_concurrency: int | None = Field(default=None, ge=1)
    daily_tokens: int | None = Field(default=None, ge=1)


class KeyOut(BaseModel):
    id: str
    name: str
    prefix: str = Field(
        description="A handle to tell keys apart (`arb_` and the end of the key's id); "
        "nothing of the secret."
    )
    scopes: list[str]
    rate_per_min: int | None
    max_concurrency: int | None
    daily_tokens: int | None
    created_at: datetime
    revoked_at: datetime | None = None


class NewKeyOut(KeyOut):
    secret: str = Field(description="Shown once: store it now. Only its hash is kept.")


class WhoAmIOut(BaseModel):
    name: str
    scopes: list[str]
    role: str | None
    tokens_today: int


def _out(info: KeyInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "prefix": info.prefix,
        "scopes": info.scopes,
        "rate_per_min": info.rate_per_min,
        "max_concurrency": info.max_concurrency,
        "daily_tokens": info.daily_tokens,
        "created_at": info.created_at,
        "revoked_at": info.revoked_at,
    }


router = APIRouter(prefix="/api/keys", tags=["admin"])


async def _keys(runtime: RuntimeDep) -> Keys:
    return runtime.keys


KeysDep = Annotated[Keys, Depends(_keys)]


@router.post("", status_code=201, responses=_ERRORS)
async def create_key(keys: KeysDep, store: StoreDep, body: KeyIn, request: Request) -> NewKeyOut:
    limits = KeyLimits(body.rate_per_min, body.max_concurrency, body.daily_tokens)
    info, secret = await asyncio.to_thread(keys.create, body.name, body.scopes, limits)
    await asyncio.to_thread(
        audit.record,
        store,
        request,
        "key.create",
        info.id,
        {"name": info.name, "prefix": info.prefix, "scopes": info.scopes},
    )
    return NewKeyOut(**_out(info), secret=secret)


@router.get("")
async def list_keys(keys: KeysDep) -> list[KeyOut]:
    return [KeyOut(**_out(i)) for i in await asyncio.to_thread(keys.list)]


@router.delete("/{key_id}", responses=_ERRORS)
async def revoke_key(keys: KeysDep, store: StoreDep, key_id: str, request: Request) -> KeyOut:
    info = await asyncio.to_thread(keys.revoke, key_id)
    await asyncio.to_thread(audit.record, store, request, "key.revoke", key_id, {"name": info.name})
    return KeyOut(**_out(info))


@router.get("/me")
async def whoami(runtime: RuntimeDep, p: PrincipalDep) -> WhoAmIOut:
    return WhoAmIOut(
        name=p.name,
        scopes=sorted(p.scopes),
        role=p.role,
        tokens_today=runtime.limiter.spent_today(p),
    )
