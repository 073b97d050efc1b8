"""The whole web app: the HTTP API with the page mounted at `/`. This is where the UI is
wired in; the API itself knows nothing of it."""

from __future__ import annotations

from fastapi import FastAPI

from service.api import create_app
from service.app import Runtime


def build_web_app(runtime: Runtime, *, with_ui: bool = True) -> FastAPI:
    app = create_app(runtime)
    if with_ui:
        # The one project import in a function body (tests/unit/test_layering.py allows it):
        # the page pulls in Gradio, seconds of imports no CLI command but `serve` needs.
        from ui.app import mount_ui

        mount_ui(app, runtime)
    return app
