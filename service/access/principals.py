"""Who is acting: a `Principal` (a key, a person, or the local admin) with its scopes and
limits, and the roles people have. Values only; `auth` decides who a request comes from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from service.errors import Forbidden

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


def rater_for(principal: Principal, on_behalf_of: str | None) -> str:
    """Whose label this is: the caller's own, or (admins importing labels) `on_behalf_of`."""
    if on_behalf_of is None or on_behalf_of == principal.name:
        return principal.name
    if not principal.allows("admin"):
        raise Forbidden(
            f"{principal.name} may not label on behalf of {on_behalf_of}",
            hint="Labels are stored as the signed-in caller's; only admins (imports) may "
            "send `on_behalf_of`.",
        )
    return on_behalf_of
