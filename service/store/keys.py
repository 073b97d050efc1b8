"""API keys as stored: a SHA-256 of the secret, never the secret, with scopes and limits, and a
handle to tell keys apart made from the key's id (nothing of the secret)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select

from service.errors import ErrorCode, NotFound
from service.ids import new_id, utcnow
from service.store.engine import Store
from service.store.tables import ApiKeyRow


def key_handle(key_id: str) -> str:
    """`arb_` and the id's last 8 characters (random in a UUIDv7): shown next to a key's name
    in lists and the audit log. The secret's own first characters were shown once; for a short
    key they were the whole key."""
    return "arb_" + key_id[-8:]


@dataclass(frozen=True)
class KeyInfo:
    """A key as listed: everything but its hash."""

    id: str
    name: str
    prefix: str
    scopes: list[str]
    rate_per_min: int | None
    max_concurrency: int | None
    daily_tokens: int | None
    created_at: datetime
    revoked_at: datetime | None = None


def _info(row: ApiKeyRow) -> KeyInfo:
    return KeyInfo(
        row.id,
        row.name,
        row.prefix,
        list(row.scopes),
        row.rate_per_min,
        row.max_concurrency,
        row.daily_tokens,
        row.created_at,
        row.revoked_at,
    )


def add_key(
    store: Store,
    *,
    name: str,
    sha256: str,
    scopes: list[str],
    rate_per_min: int | None = None,
    max_concurrency: int | None = None,
    daily_tokens: int | None = None,
) -> KeyInfo:
    key_id = new_id()
    row = {
        "id": key_id,
        "name": name,
        "prefix": key_handle(key_id),
        "sha256": sha256,
        "scopes": scopes,
        "rate_per_min": rate_per_min,
        "max_concurrency": max_concurrency,
        "daily_tokens": daily_tokens,
        "created_at": utcnow(),
    }
    with store.session() as s:
        s.execute(insert(ApiKeyRow), row)
        return _info(s.get_one(ApiKeyRow, row["id"]))


def has_key(store: Store, sha256: str) -> bool:
    with store.session() as s:
        return s.scalar(select(ApiKeyRow.id).where(ApiKeyRow.sha256 == sha256)) is not None


def find_key(store: Store, sha256: str) -> tuple[KeyInfo, str] | None:
    """The key with this hash, and the hash as stored (to compare in constant time)."""
    with store.session() as s:
        row = s.scalar(select(ApiKeyRow).where(ApiKeyRow.sha256 == sha256))
        return None if row is None else (_info(row), row.sha256)


def revoke_key(store: Store, key_id: str) -> KeyInfo:
    with store.session() as s:
        row = s.get(ApiKeyRow, key_id)
        if row is None:
            raise NotFound(f"there is no key {key_id}", code=ErrorCode.KEY_NOT_FOUND)
        row.revoked_at = row.revoked_at or utcnow()
        return _info(row)


def list_keys(store: Store) -> list[KeyInfo]:
    with store.session() as s:
        return [_info(r) for r in s.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at))]
