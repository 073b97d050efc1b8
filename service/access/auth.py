"""Who may do what.

Modes (`ARBITER_AUTH`):
- `none` (default): one local admin, no credentials — only on a loopback address.
- `keys`: API keys (`Authorization: Bearer arb_...` or `X-API-Key`), stored as SHA-256
  hashes, each with scopes; people sign in to the page with a name and password.
- `header`: behind a company proxy (OIDC, SSO) that authenticates people and passes their
  name and roles in headers (`X-Forwarded-User`, `X-Forwarded-Groups`); trusted only from
  the proxy's addresses (`ARBITER_TRUSTED_PROXIES`).

Scopes: `compare` (ask, read results), `vote` (votes, ratings, feedback), `review` (accept
or reject labels), `export` (training data), `admin` (variants, deployments, keys, use
cases, documents, eval runs, audit log). People's roles map to scopes: a rater may compare
and vote, a reviewer also review, an admin everything."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select

from service.errors import ArbiterError, Forbidden, InvalidRequest, NotFound, Unauthenticated
from service.ids import new_id, utcnow
from service.store import Store
from service.store.tables import ApiKeyRow, RaterRow

AuthMode = Literal["none", "keys", "header"]
SCOPES = ("compare", "vote", "review", "export", "admin")
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "rater": frozenset({"compare", "vote"}),
    "reviewer": frozenset({"compare", "vote", "review"}),
    "admin": frozenset(SCOPES),
}
KEY_PREFIX = "arb_"


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


# ---- which scope each endpoint needs ----------------------------------------------------------

_ID = r"[^/]+"
RULES: list[tuple[frozenset[str], re.Pattern[str], str]] = [
    (frozenset(methods.split()), re.compile(f"^{path}$"), scope)
    for methods, path, scope in [
        ("GET", "/v1/models", "compare"),
        ("POST", "/v1/chat/completions", "compare"),
        ("POST", "/v1/feedback", "vote"),
        ("POST", "/api/compare(/stream)?", "compare"),
        ("GET", f"/api/turns(/{_ID})?", "compare"),
        ("GET", f"/api/turns/{_ID}/votes", "compare"),
        ("POST", f"/api/turns/{_ID}/cancel", "compare"),
        ("POST", f"/api/turns/{_ID}/(votes|labels)", "vote"),
        ("POST", "/api/votes", "vote"),
        ("POST", f"/api/answers/{_ID}/feedback", "vote"),
        ("GET", "/api/(variants|jobs)", "compare"),
        ("GET", f"/api/collections(/{_ID}/documents)?", "compare"),
        ("POST", f"/api/collections/{_ID}/retrieve", "compare"),
        ("GET", f"/api/chunks/{_ID}", "compare"),
        ("GET", "/api/(leaderboard|usecases|eval-runs|deployments)(/.*)?", "compare"),
        ("GET", f"/api/exports/{_ID}", "export"),
        ("GET", f"/api/campaigns(/{_ID}(/next)?)?", "vote"),
        ("POST", "/api/reviews", "review"),
        ("GET", "/api/keys/me", "compare"),
    ]
]
DEFAULT_SCOPE = "admin"  # anything not listed: variants, deployments, keys, audit, writes


def required_scope(method: str, path: str) -> str:
    """The scope a request needs; unlisted API paths need `admin` (deny by default)."""
    method = "GET" if method == "HEAD" else method
    for methods, pattern, scope in RULES:
        if method in methods and pattern.match(path):
            return scope
    return DEFAULT_SCOPE


def guarded(path: str) -> bool:
    """The API and the gateway; the page has its own sign-in, health and metrics are open."""
    return path.startswith(("/api/", "/v1/"))


# ---- API keys ------------------------------------------------------------------------------------


def key_hash(secret: str) -> str:
    # Keys are 256-bit random tokens: a fast hash is enough (as for GitHub tokens); a slow
    # password hash would only add latency to every request.
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class KeyInfo:
    id: str
    name: str
    prefix: str
    scopes: list[str]
    limits: KeyLimits
    created_at: Any
    revoked_at: Any = None


def _info(row: ApiKeyRow) -> KeyInfo:
    return KeyInfo(
        row.id,
        row.name,
        row.prefix,
        list(row.scopes),
        KeyLimits(row.rate_per_min, row.max_concurrency, row.daily_tokens),
        row.created_at,
        row.revoked_at,
    )


class Keys:
    """API keys in the store; lookups are cached for a few seconds (revocation applies
    within `cache_s`)."""

    def __init__(self, store: Store, cache_s: float = 5.0) -> None:
        self.store = store
        self.cache_s = cache_s
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def create(
        self, name: str, scopes: Iterable[str], limits: KeyLimits = KeyLimits()
    ) -> tuple[KeyInfo, str]:
        """A new key; the secret is returned here and never again."""
        scopes = sorted(set(scopes))
        unknown = [s for s in scopes if s not in SCOPES]
        if unknown or not scopes:
            raise InvalidRequest(
                f"unknown or missing scopes: {', '.join(unknown) or '(none)'}",
                code="invalid_scope",
                hint="Scopes: " + ", ".join(SCOPES),
            )
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        row = ApiKeyRow(
            id=new_id(),
            name=name,
            prefix=secret[:10],
            sha256=key_hash(secret),
            scopes=scopes,
            rate_per_min=limits.rate_per_min,
            max_concurrency=limits.max_concurrency,
            daily_tokens=limits.daily_tokens,
            created_at=utcnow(),
        )
        with self.store.session() as s:
            s.add(row)
            s.flush()
            info = _info(row)
        return info, secret

    def ensure(self, name: str, secret: str, scopes: Iterable[str]) -> None:
        """A key with a secret chosen by the operator (ARBITER_ADMIN_KEY), once."""
        digest = key_hash(secret)
        with self.store.session() as s:
            if s.scalar(select(ApiKeyRow.id).where(ApiKeyRow.sha256 == digest)) is None:
                s.add(
                    ApiKeyRow(
                        id=new_id(),
                        name=name,
                        prefix=secret[:10],
                        sha256=digest,
                        scopes=sorted(scopes),
                        created_at=utcnow(),
                    )
                )

    def revoke(self, key_id: str) -> KeyInfo:
        with self.store.session() as s:
            row = s.get(ApiKeyRow, key_id)
            if row is None:
                raise NotFound(f"there is no key {key_id}", code="key_not_found")
            row.revoked_at = row.revoked_at or utcnow()
            info = _info(row)
        with self._lock:
            self._cache.clear()
        return info

    def list(self) -> list[KeyInfo]:
        with self.store.session() as s:
            return [_info(r) for r in s.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at))]

    def lookup(self, secret: str) -> Principal | None:
        digest = key_hash(secret)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and now - hit[0] < self.cache_s:
            return hit[1]
        with self.store.session() as s:
            row = s.scalar(select(ApiKeyRow).where(ApiKeyRow.sha256 == digest))
            principal = None
            if (
                row is not None
                and row.revoked_at is None
                and hmac.compare_digest(row.sha256, digest)
            ):
                principal = Principal(
                    name=f"key:{row.name}",
                    scopes=frozenset(row.scopes),
                    key_id=row.id,
                    limits=KeyLimits(row.rate_per_min, row.max_concurrency, row.daily_tokens),
                )
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now, principal)
        return principal


# ---- people ---------------------------------------------------------------------------------------


def password_hash(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def password_ok(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, salt, digest = stored.split("$")
    given = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=2**14, r=8, p=1)
    return hmac.compare_digest(given.hex(), digest)


def set_password(store: Store, name: str, password: str) -> None:
    if len(password) < 8:
        raise InvalidRequest("the password is too short", hint="Use at least 8 characters.")
    with store.session() as s:
        row = s.scalar(select(RaterRow).where(RaterRow.name == name))
        if row is None:
            raise NotFound(
                f"there is no person {name!r}", hint="Create them with `arbiter rater set NAME`."
            )
        row.password_hash = password_hash(password)


def person(store: Store, name: str) -> Principal:
    """A signed-in person's scopes, from their role (someone unknown is a rater)."""
    with store.session() as s:
        role = s.scalar(select(RaterRow.role).where(RaterRow.name == name)) or "rater"
    return Principal(name, ROLE_SCOPES.get(role, ROLE_SCOPES["rater"]), role=role)


def sign_in(store: Store, name: str, password: str) -> bool:
    with store.session() as s:
        stored = s.scalar(select(RaterRow.password_hash).where(RaterRow.name == name))
    return password_ok(password, stored)


# ---- authenticating a request ----------------------------------------------------------------------


class Authenticator:
    def __init__(
        self,
        mode: AuthMode,
        keys: Keys,
        store: Store,
        *,
        user_header: str = "x-forwarded-user",
        roles_header: str = "x-forwarded-groups",
        trusted_proxies: Iterable[str] = ("127.0.0.1/32", "::1/128"),
    ) -> None:
        self.mode = mode
        self.keys = keys
        self.store = store
        self.user_header = user_header.lower().encode()
        self.roles_header = roles_header.lower().encode()
        self.trusted = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies]

    def authenticate(self, headers: dict[bytes, bytes], client: str | None) -> Principal:
        if self.mode == "none":
            return LOCAL_ADMIN
        if self.mode == "header":
            return self._from_proxy(headers, client)
        secret = _bearer(headers)
        if secret is None:
            raise Unauthenticated(
                "an API key is needed",
                hint="Send `Authorization: Bearer <key>` (or X-API-Key); an admin creates keys "
                "with `arbiter key create`.",
            )
        principal = self.keys.lookup(secret)
        if principal is None:
            raise Unauthenticated("the API key is not valid (unknown or revoked)")
        return principal

    def _from_proxy(self, headers: dict[bytes, bytes], client: str | None) -> Principal:
        try:
            trusted = client is not None and any(
                ipaddress.ip_address(client) in net for net in self.trusted
            )
        except ValueError:
            trusted = False
        user = headers.get(self.user_header, b"").decode().strip()
        if not trusted or not user:
            raise Unauthenticated(
                "no authenticated user from the proxy",
                hint="In header mode requests come through the authenticating proxy "
                "(ARBITER_TRUSTED_PROXIES), which sets the user header.",
            )
        groups = {g.strip() for g in headers.get(self.roles_header, b"").decode().split(",")}
        role = next((r for r in ("admin", "reviewer", "rater") if r in groups), None)
        if role is None:
            return person(self.store, user)
        return Principal(user, ROLE_SCOPES[role], role=role)


def _bearer(headers: dict[bytes, bytes]) -> str | None:
    auth = headers.get(b"authorization", b"").decode()
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    key = headers.get(b"x-api-key", b"").decode().strip()
    return key or None


def check_scope(principal: Principal, scope: str, what: str) -> None:
    if not principal.allows(scope):
        raise Forbidden(
            f"{principal.name} may not {what}: it needs the `{scope}` scope",
            hint="Ask an admin for a key (or role) with that scope.",
        )


def check_bind(host: str, mode: AuthMode) -> None:
    """Refuse to listen beyond this machine without authentication."""
    if mode != "none":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ArbiterError(
            f"refusing to listen on {host} without authentication",
            code="auth_required",
            hint="Set ARBITER_AUTH=keys (with ARBITER_ADMIN_KEY) or ARBITER_AUTH=header behind "
            "an authenticating proxy, or listen on 127.0.0.1.",
        )
