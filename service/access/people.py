"""People who sign in to the page: passwords (scrypt, its parameters kept in each hash) and
the scopes of their role."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass

from service.access.principals import ROLE_SCOPES, Principal
from service.errors import InvalidRequest, NotFound
from service.store import Store, raters

# OWASP's scrypt parameters (Password Storage Cheat Sheet): N=2^17, r=8, p=1.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
# Hashes written before the parameters were stored in them ("scrypt$salt$digest") used these.
_LEGACY_N, _LEGACY_R, _LEGACY_P = 2**14, 8, 1
# scrypt needs 128·N·r bytes (128 MiB here); hashlib refuses more than 32 MiB unless told.
# At most two hashes at once, so a burst of sign-ins cannot take the server's memory.
_HASHING = threading.BoundedSemaphore(2)


@dataclass(frozen=True)
class _Hash:
    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    with _HASHING:
        return hashlib.scrypt(
            password.encode(), salt=salt, n=n, r=r, p=p, maxmem=128 * r * (n + p + 2) + 2**20
        )


def password_hash(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """`scrypt$n=131072,r=8,p=1$<salt hex>$<digest hex>`."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, n, r, p)
    return f"scrypt$n={n},r={r},p={p}${salt.hex()}${digest.hex()}"


def _parse(stored: str) -> _Hash | None:
    parts = stored.split("$")
    try:
        if len(parts) == 3 and parts[0] == "scrypt":
            _, salt, digest = parts
            return _Hash(
                _LEGACY_N, _LEGACY_R, _LEGACY_P, bytes.fromhex(salt), bytes.fromhex(digest)
            )
        if len(parts) == 4 and parts[0] == "scrypt":
            _, params, salt, digest = parts
            values = dict(item.split("=", 1) for item in params.split(","))
            return _Hash(
                int(values["n"]),
                int(values["r"]),
                int(values["p"]),
                bytes.fromhex(salt),
                bytes.fromhex(digest),
            )
    except (ValueError, KeyError):
        return None
    return None


# Checked when a name has no usable hash, so an unknown name costs as much time as a known
# one (the salt is random and the digest matches no password).
_DUMMY = _Hash(SCRYPT_N, SCRYPT_R, SCRYPT_P, secrets.token_bytes(16), bytes(64))


def password_ok(password: str, stored: str | None) -> bool:
    """Whether the password matches the stored hash. Takes a full hash's time even when
    there is no hash, or it cannot be read."""
    parsed = _parse(stored) if stored else None
    known = parsed is not None
    h = parsed if parsed is not None else _DUMMY
    given = _scrypt(password, h.salt, h.n, h.r, h.p)
    return hmac.compare_digest(given, h.digest) and known


def needs_rehash(stored: str) -> bool:
    """A hash made with other parameters than today's (or in the old format)."""
    parsed = _parse(stored)
    return parsed is None or (parsed.n, parsed.r, parsed.p) != (SCRYPT_N, SCRYPT_R, SCRYPT_P)


def set_password(store: Store, name: str, password: str) -> None:
    if len(password) < 8:
        raise InvalidRequest("the password is too short", hint="Use at least 8 characters.")
    if not raters.set_password_hash(store, name, password_hash(password)):
        raise NotFound(
            f"there is no person {name!r}", hint="Create them with `arbiter rater set NAME`."
        )


def person(store: Store, name: str) -> Principal:
    """A signed-in person's scopes, from their role (someone unknown is a rater)."""
    role = raters.role_of(store, name) or "rater"
    return Principal(name, ROLE_SCOPES.get(role, ROLE_SCOPES["rater"]), role=role)


def check_password(store: Store, name: str, password: str) -> bool:
    """Whether this person has this password, in the same time whether or not the name
    exists. A hash with older parameters is replaced by one with today's on success."""
    stored = raters.password_hash_of(store, name)
    ok = password_ok(password, stored)
    if ok and stored is not None and needs_rehash(stored):
        raters.set_password_hash(store, name, password_hash(password))
    return ok
