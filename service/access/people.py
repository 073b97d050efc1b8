"""People who sign in to the page: passwords (scrypt) and the scopes of their role."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from service.access.principals import ROLE_SCOPES, Principal
from service.errors import InvalidRequest, NotFound
from service.store import Store, raters


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
    if not raters.set_password_hash(store, name, password_hash(password)):
        raise NotFound(
            f"there is no person {name!r}", hint="Create them with `arbiter rater set NAME`."
        )


def person(store: Store, name: str) -> Principal:
    """A signed-in person's scopes, from their role (someone unknown is a rater)."""
    role = raters.role_of(store, name) or "rater"
    return Principal(name, ROLE_SCOPES.get(role, ROLE_SCOPES["rater"]), role=role)


def sign_in(store: Store, name: str, password: str) -> bool:
    return password_ok(password, raters.password_hash_of(store, name))
