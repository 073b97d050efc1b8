"""The page's sign-in form (ARBITER_AUTH=keys) under the sign-in policy of
`service.access.signin`. Gradio hands its `auth` callable only the name and password; the
client address comes from a middleware on the form's route (`POST /login`), which also turns
a locked-out attempt into a 429 that says when to retry (Gradio would answer 400,
"Incorrect credentials")."""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from dataclasses import dataclass

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.access import SignIn
from service.errors import TooManyRequests

LOGIN_PATHS = ("/login", "/login/")  # Gradio's form posts here (gradio/routes.py `login`)


@dataclass
class _Attempt:
    address: str | None
    refused: TooManyRequests | None = None


_ATTEMPT: ContextVar[_Attempt | None] = ContextVar("arbiter_signin_attempt", default=None)


async def sign_in(signin: SignIn, name: str, password: str) -> bool:
    """Gradio's `auth` callable. Async, so Gradio awaits it: the password hash (a few
    hundred milliseconds of CPU) runs in a thread, not on the event loop."""
    attempt = _ATTEMPT.get()
    try:
        return await asyncio.to_thread(
            signin.attempt, name, password, attempt.address if attempt else None
        )
    except TooManyRequests as refused:
        if attempt is not None:
            attempt.refused = refused
        return False


class SignInMiddleware:
    """On `POST /login`: lets `sign_in` know the client's address, and answers a locked-out
    attempt with 429, the reason and Retry-After instead of Gradio's 400."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"].endswith(LOGIN_PATHS)
        ):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        attempt = _Attempt(client[0] if client else None)

        async def send_or_refuse(message: Message) -> None:
            refused = attempt.refused
            if refused is None:
                await send(message)
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                response = JSONResponse(
                    {"detail": f"{refused.message}. {refused.hint}", "error": refused.to_dict()},
                    status_code=refused.http_status,
                    headers=refused.headers(),
                )
                await response(scope, receive, send)
            # Gradio's own answer ("Incorrect credentials.") is dropped.

        token = _ATTEMPT.set(attempt)
        try:
            await self.app(scope, receive, send_or_refuse)
        finally:
            _ATTEMPT.reset(token)
