"""Read Server-Sent Events from an httpx response (test helper)."""

from __future__ import annotations

import json
from collections.abc import Iterator
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
