"""Who is using the page, and whether they may do something. With ARBITER_AUTH=none the
page is the local admin's; otherwise the signed-in person (keys mode: the page's sign-in;
header mode: the proxy's user) with the scopes of their role. Links the page hands the
browser for requests of its own (cited chunks, report frames) are signed for that person."""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

from service.access import LOCAL_ADMIN, Principal, check_scope, person
from service.app import Runtime
from service.errors import Unauthenticated


def principal(runtime: Runtime, request: gr.Request | None) -> Principal:
    if runtime.settings.auth == "none":
        return LOCAL_ADMIN
    name = getattr(request, "username", None)
    if not name:
        raise Unauthenticated("sign in first")
    return person(runtime.store, name)


def require(runtime: Runtime, request: gr.Request | None, scope: str, what: str) -> Principal:
    """The person, if they have the scope; else `Forbidden` (shown as a warning)."""
    who = principal(runtime, request)
    check_scope(who, scope, what)
    return who


Link = Callable[[str], str]  # a page's path (and query) -> a URL this browser may open


def links_for(runtime: Runtime, request: gr.Request | None) -> Link:
    """How the page writes a chunk or report URL for the signed-in person's browser, which
    holds no API key: signed for them, short-lived (service/access/links.py)."""
    name = principal(runtime, request).name
    return lambda url: runtime.links.sign(url, name)
