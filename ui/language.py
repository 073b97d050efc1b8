"""Puts `ui.i18n.LANGUAGE_SCRIPT` first in the <head> of every page Gradio serves, so the
page starts in the language the header's switch chose (Gradio reads the browser's language
once, as its scripts start, and offers no hook before that)."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ui.i18n import LANGUAGE_SCRIPT

_HEAD = b"<head>"
_SCRIPT = LANGUAGE_SCRIPT.encode()
_PAGE_MARK = b"<gradio-app"  # only Gradio's page templates carry it (not /docs, not the API)


class LanguageMiddleware:
    """On a GET that answers with HTML: the language script after `<head>`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        body: list[bytes] = []

        async def rewrite(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                content_type = MutableHeaders(raw=message["headers"]).get("content-type", "")
                if content_type.startswith("text/html"):
                    start = message  # hold it until the whole page is here
                    return
                await send(message)
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            page = b"".join(body)
            if _PAGE_MARK in page:
                page = page.replace(_HEAD, _HEAD + _SCRIPT, 1)
            headers = MutableHeaders(raw=start["headers"])
            if "content-length" in headers:
                headers["content-length"] = str(len(page))
            await send(start)
            await send({"type": "http.response.body", "body": page})

        await self.app(scope, receive, rewrite)
