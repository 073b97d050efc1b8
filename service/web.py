"""The whole web app: the HTTP API with the page mounted at `/`. This is where the UI is
wired in; the API itself knows nothing of it."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from service.api import create_app
from service.app import Runtime
from service.config import Settings


def build_web_app(runtime: Runtime, *, with_ui: bool = True) -> FastAPI:
    app = create_app(runtime)
    if with_ui:
        # The one project import in a function body (tests/unit/test_layering.py allows it):
        # the page pulls in Gradio, seconds of imports no CLI command but `serve` needs.
        from ui.app import mount_ui

        mount_ui(app, runtime)
    return app


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for serving the app (`arbiter serve`, and the tests' live servers).

    Proxy headers are off: uvicorn would otherwise rewrite the client address from
    `X-Forwarded-For` for any peer on its allow-list (127.0.0.1 by default), and a local
    client could then pose as a trusted proxy and forge the user headers of `header` mode.
    Access control needs the real peer, so the app sees the socket's address."""
    return {
        "proxy_headers": False,
        "server_header": False,
        "access_log": False,
        # uvicorn's loggers write through the root handler, which redacts secrets.
        "log_config": None,
        # On SIGTERM requests in flight finish (streams included) for up to this long;
        # then they are cancelled, and their answers stored as cancelled.
        "timeout_graceful_shutdown": settings.shutdown_grace_s,
    }
