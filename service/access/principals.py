"""Who is acting: a `Principal` (a key, a person, or the local admin) with its scopes and
limits, and the roles people have. Values only; `auth` decides who a request comes from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AuthMode = Literal["none", "keys", "header"]
SCOPES = ("compare", "vote", "review", "export", "admin")
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "rater": frozenset({"compare", "vote"}),
    "reviewer": frozenset({"compare", "vote", "review"}),
    "admin": frozenset(SCOPES),
}


@dataclass(frozen=True)
class KeyLimits:
    rate_per_min: int | None = None
    max_concurrency: int | None = None
    daily_tokens: int | None = None


@dataclass(frozen=True)
class Principal:
    name: str
    scopes: frozenset[str]
    key_id: str | None = None  # limits are kept per key
    role: str | None = None  # for people
    limits: KeyLimits = KeyLimits()

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


LOCAL_ADMIN = Principal("local", frozenset(SCOPES), role="admin")
