"""Who is using the page, and whether they may do something. With ARBITER_AUTH=none the
page is the local admin's; otherwise the signed-in person (keys mode: the page's sign-in;
header mode: the proxy's user) with the scopes of their role."""

from __future__ import annotations

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
