"""Text that cannot be stored or sent: a lone UTF-16 surrogate (`\\ud800`) is a valid JSON
escape and a valid Python string, but not Unicode text — it cannot be encoded as UTF-8, so
every database, JSON encoder and model call after it fails. Requests are refused with it at
the boundary (`first_unencodable`); text stored before that rule is shown with U+FFFD in its
place (`scrub`)."""

from __future__ import annotations

import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def first_unencodable(value: Any, where: str = "") -> str | None:
    """Where the first string that is not valid Unicode is (`a.0.b`, `(root)`), or None.
    Keys of objects are checked too."""
    if isinstance(value, str):
        return (where or "(root)") if _SURROGATE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and _SURROGATE.search(key):
                return _SURROGATE.sub(REPLACEMENT, here)
            found = first_unencodable(item, here)
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = first_unencodable(item, f"{where}.{i}" if where else str(i))
            if found is not None:
                return found
    return None


def scrub(value: Any) -> Any:
    """`value` with every lone surrogate replaced by U+FFFD, in nested dicts and lists too."""
    if isinstance(value, str):
        return _SURROGATE.sub(REPLACEMENT, value)
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub(v) for v in value)
    return value
