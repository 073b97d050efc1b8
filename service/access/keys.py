"""API keys: random secrets shown once, kept as SHA-256 hashes with their scopes and limits;
looked up on every request through a short cache (a revoked key stops working within
`cache_s`)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Iterable

from service.access.principals import SCOPES, KeyLimits, Principal
from service.errors import ErrorCode, InvalidRequest
from service.store import KeyInfo, Store
from service.store import keys as stored_keys

KEY_PREFIX = "arb_"


def key_hash(secret: str) -> str:
    # Keys are 256-bit random tokens: a fast hash is enough (as for GitHub tokens); a slow
    # password hash would only add latency to every request.
    return hashlib.sha256(secret.encode()).hexdigest()


def limits_of(info: KeyInfo) -> KeyLimits:
    return KeyLimits(info.rate_per_min, info.max_concurrency, info.daily_tokens)


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
                code=ErrorCode.INVALID_SCOPE,
                hint="Scopes: " + ", ".join(SCOPES),
            )
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        info = stored_keys.add_key(
            self.store,
            name=name,
            sha256=key_hash(secret),
            scopes=scopes,
            rate_per_min=limits.rate_per_min,
            max_concurrency=limits.max_concurrency,
            daily_tokens=limits.daily_tokens,
        )
        return info, secret

    def ensure(self, name: str, secret: str, scopes: Iterable[str]) -> None:
        """A key with a secret chosen by the operator (ARBITER_ADMIN_KEY), once."""
        digest = key_hash(secret)
        if not stored_keys.has_key(self.store, digest):
            stored_keys.add_key(self.store, name=name, sha256=digest, scopes=sorted(scopes))

    def revoke(self, key_id: str) -> KeyInfo:
        info = stored_keys.revoke_key(self.store, key_id)
        with self._lock:
            self._cache.clear()
        return info

    def list(self) -> list[KeyInfo]:
        return stored_keys.list_keys(self.store)

    def lookup(self, secret: str) -> Principal | None:
        digest = key_hash(secret)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and now - hit[0] < self.cache_s:
            return hit[1]
        found = stored_keys.find_key(self.store, digest)
        principal = None
        if found is not None:
            info, stored = found
            if info.revoked_at is None and hmac.compare_digest(stored, digest):
                principal = Principal(
                    name=f"key:{info.name}",
                    scopes=frozenset(info.scopes),
                    key_id=info.id,
                    limits=limits_of(info),
                )
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now, principal)
        return principal
