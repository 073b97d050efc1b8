"""Secrets out of text: what the logs, error messages, `/readyz` and the audit log show passes
through `redact` first. It removes credential header values (`Authorization`, `X-API-Key`,
`Cookie`, ...), bearer tokens, Arbiter keys (`arb_...`), credentials in URLs (user:password@
and query parameters such as `api_key`, `token`, `X-Amz-Signature`), `password=...` pairs,
and any literal secret registered with `register_secret` (the admin key, provider keys)."""

from __future__ import annotations

import re
import threading
from typing import Any

MARK = "[REDACTED]"

_HEADERS = r"authorization|proxy-authorization|x-api-key|cookie|set-cookie"
_KEYS = (
    r"password|passwd|secret|client_secret|api[_-]?key|access[_-]?token"
    r"|secret[_-]?access[_-]?key|session[_-]?token"
)
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # `Authorization: Bearer x`, `'authorization': b'Bearer x'`, `(b'cookie', b'a=b')`,
    # `"X-API-Key": "x"`: the value up to the end of the quoted string or line.
    (
        re.compile(rf"""(?i)\b({_HEADERS})(['"]?\s*[:=,]\s*b?)(['"])(?:(?!\3).)*\3"""),
        rf"\1\2\3{MARK}\3",
    ),
    (re.compile(rf"""(?im)\b({_HEADERS})(\s*[:=]\s*)(?!\s*['"])[^\r\n`]+"""), rf"\1\2{MARK}"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=:-]{4,}"), rf"\1 {MARK}"),
    (re.compile(r"\barb_[A-Za-z0-9_-]{4,}"), MARK),
    # scheme://user:password@host
    (re.compile(r"""(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@'"<>?#]+@"""), rf"\1{MARK}@"),
    # ?api_key=x&X-Amz-Signature=y (any parameter whose name says it holds a secret)
    (
        re.compile(
            r"""(?i)([?&;][a-z0-9_.-]*(?:key|token|secret|signature|sig|password|passwd|pwd"""
            r"""|credential|auth|session)[a-z0-9_.-]*=)[^&#\s'"<>]+"""
        ),
        rf"\1{MARK}",
    ),
    # password=x and "client_secret": "x" (not `password: too short`, a sentence)
    (
        re.compile(rf"(?i)\b({_KEYS})=(?!\[REDACTED\])[^\s'\",}}&]+"),
        rf"\1={MARK}",
    ),
    (
        re.compile(rf"""(?i)(['"])({_KEYS})\1(\s*:\s*)(['"])(?:(?!\4).)*\4"""),
        rf"\1\2\1\3\4{MARK}\4",
    ),
]

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """A literal value that must never be shown (too short ones would blank ordinary text)."""
    if value and len(value) >= 8:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MARK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any) -> Any:
    """Strings redacted inside dicts, lists and tuples; anything else as it is."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(v) for v in value)
    return value
