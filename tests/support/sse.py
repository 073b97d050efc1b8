"""Read Server-Sent Events from an httpx response (test helper)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx


def iter_sse(response: httpx.Response) -> Iterator[tuple[str, Any]]:
    event, data = "message", []
    for line in response.iter_lines():
        if not line:
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


@contextmanager
def compare_stream(
    base_url: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Iterator[tuple[httpx.Response, Iterator[tuple[str, Any]]]]:
    """POST /api/compare/stream; yields the response and its events as they arrive."""
    with httpx.stream(
        "POST", f"{base_url}/api/compare/stream", json=body, headers=headers, timeout=10
    ) as response:
        yield response, iter_sse(response)
