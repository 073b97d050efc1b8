"""Access control for the API, the gateway and chunk pages, as ASGI middleware (it wraps
streamed responses without buffering them): request size, authentication (a credential, or
a signed link from the page), the endpoint's scope, and the caller's limits. The principal is left in `request.state.principal`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from service.access import Authenticator, Limiter, Links, check_scope, guarded, required_scope
from service.api.errors import error_response
from service.errors import ArbiterError, ErrorCode, InvalidRequest, RequestTooLarge

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _error(send: Send, exc: ArbiterError, path: str) -> None:
    response = error_response(
        exc.http_status,
        exc.code,
        exc.message,
        exc.hint,
        exc.headers(),
        openai=path.startswith("/v1/"),
    )
    await send(
        {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": response.raw_headers,
        }
    )
    await send({"type": "http.response.body", "body": response.body})


class AccessControl:
    def __init__(
        self,
        app: ASGIApp,
        auth: Authenticator,
        limiter: Limiter,
        max_body_bytes: int,
        links: Links,
    ) -> None:
        self.app = app
        self.auth = auth
        self.links = links
        self.limiter = limiter
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = dict(scope["headers"])
        try:
            length = int(headers.get(b"content-length", b"0") or 0)
        except ValueError:
            length = 0
        too_large = RequestTooLarge(
            f"the request body is over {self.max_body_bytes // 2**20} MB",
            hint="Send less at once (split the upload or the batch), or raise "
            "ARBITER_MAX_REQUEST_MB.",
        )
        if length > self.max_body_bytes:
            await _error(send, too_large, path)
            return
        if b"%00" in scope.get("query_string", b"") or "\x00" in path:
            await _error(
                send,
                InvalidRequest("the URL contains a NUL character", code=ErrorCode.NUL_CHARACTER),
                path,
            )
            return
        receive = self._counting(receive, too_large)
        if not guarded(path):
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or (None,))[0]
        try:
            principal = self.links.authenticate(
                scope["method"],
                path,
                scope.get("query_string", b"").decode("latin-1"),
                lambda: self.auth.authenticate(headers, client),
            )
            check_scope(principal, required_scope(scope["method"], path), _what(scope))
            release = self.limiter.admit(principal)
        except ArbiterError as exc:
            await _error(send, exc, path)
            return
        scope.setdefault("state", {})["principal"] = principal
        if headers.get(b"content-type", b"").startswith(b"application/json"):
            try:
                body, receive = await _json_body(receive)
            except ArbiterError as exc:
                release()
                await _error(send, exc, path)
                return
            if b"\\u0000" in body:  # JSON carries NUL only escaped; no database stores it
                release()
                await _error(
                    send,
                    InvalidRequest(
                        "the request contains a NUL character (\\u0000)",
                        code=ErrorCode.NUL_CHARACTER,
                        hint="Remove it: text cannot hold NUL characters.",
                    ),
                    path,
                )
                return
        try:
            await self.app(scope, receive, send)
        finally:
            release()

    def _counting(self, receive: Receive, too_large: RequestTooLarge) -> Receive:
        """A body without Content-Length (chunked) is counted as it arrives."""
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise too_large
            return message

        return counted


async def _json_body(receive: Receive) -> tuple[bytes, Receive]:
    """Read a JSON body whole (FastAPI would), and a `receive` that gives it again."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _what(scope: Scope) -> str:
    return f"{scope['method']} {scope['path']}"
