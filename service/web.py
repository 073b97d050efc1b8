"""The whole web app: the HTTP API with the page mounted at `/`. This is where the UI is
wired in; the API itself knows nothing of it."""

from __future__ import annotations

from fastapi import FastAPI

from service.api import create_app
from service.app import Runtime


def build_web_app(runtime: Runtime, *, with_ui: bool = True) -> FastAPI:
    app = create_app(runtime)
    if with_ui:
        from ui import (
            mount_ui,
        )  # the composition root may import the UI; nothing else in service does

        mount_ui(app, runtime)
    return app
