"""`gradio_client.Client` for tests, with a patient timeout: its default of 5 s for reading
the page's API description (`/gradio_api/info`, about 400 KB for every page's events) is
too short on a loaded two-core CI machine, where it failed tests that had nothing wrong."""

from __future__ import annotations

from typing import Any

from gradio_client import Client

TIMEOUT_S = 60.0


def page_client(url: str, **kwargs: Any) -> Client:
    return Client(url, verbose=False, httpx_kwargs={"timeout": TIMEOUT_S}, **kwargs)
