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

import ipaddress
import re
from collections.abc import Iterable

import structlog

from service.access.keys import Keys
from service.access.people import person
from service.access.principals import LOCAL_ADMIN, ROLE_SCOPES, AuthMode, Principal
from service.errors import ArbiterError, ErrorCode, Forbidden, Unauthenticated
from service.store import Store

log = structlog.get_logger(__name__)

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
        ("GET", f"/chunks/{_ID}", "compare"),  # a chunk's page: a signed link or a key
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
    """The API, the gateway and chunk pages (opened from the page by signed links); the page
    has its own sign-in, health and metrics are open."""
    return path.startswith(("/api/", "/v1/", "/chunks/"))


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
        user = _text(headers, self.user_header).strip()
        if not trusted or not user:
            raise Unauthenticated(
                "no authenticated user from the proxy",
                hint="In header mode requests come through the authenticating proxy "
                "(ARBITER_TRUSTED_PROXIES), which sets the user header.",
            )
        groups = {g.strip() for g in _text(headers, self.roles_header).split(",")}
        role = next((r for r in ("admin", "reviewer", "rater") if r in groups), None)
        if role is None:
            return person(self.store, user)
        return Principal(user, ROLE_SCOPES[role], role=role)


def _bearer(headers: dict[bytes, bytes]) -> str | None:
    auth = _text(headers, b"authorization")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    key = _text(headers, b"x-api-key").strip()
    return key or None


def _text(headers: dict[bytes, bytes], name: bytes) -> str:
    """A credential header as text; one that is not UTF-8 is no credential (401), logged in
    one line that names the header only (its value may be a key with a typo)."""
    try:
        return headers.get(name, b"").decode()
    except UnicodeDecodeError:
        header = name.decode("latin-1")
        log.warning("auth.bad_header", header=header)
        raise Unauthenticated(
            f"the {header} header is not valid UTF-8",
            hint="Send the key (or the proxy's user and groups) as plain UTF-8 text.",
        ) from None


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
            code=ErrorCode.AUTH_REQUIRED,
            hint="Set ARBITER_AUTH=keys (with ARBITER_ADMIN_KEY) or ARBITER_AUTH=header behind "
            "an authenticating proxy, or listen on 127.0.0.1.",
        )
