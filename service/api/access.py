"""Access control for the API, the gateway and chunk pages, as ASGI middleware (it wraps
streamed responses without buffering them): request size, authentication (a credential, or
a signed link from the page), the endpoint's scope, and the caller's limits. The principal is left in `request.state.principal`."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from service.access import Authenticator, Limiter, Links, check_scope, guarded, required_scope
from service.api.errors import error_response
from service.errors import ArbiterError, ErrorCode, InvalidRequest, RequestTooLarge
from service.text import first_unencodable

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
        limit = _BodyLimit(receive, send, self.max_body_bytes, too_large, path)
        receive, send = limit.receive, limit.send
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
        if _is_json(headers.get(b"content-type")):
            body, receive = await _json_body(receive)
            problem = None if limit.rejected else _unstorable_text(body)
            if limit.rejected or problem is not None:
                release()
                if problem is not None:
                    await _error(send, problem, path)
                return
        try:
            await self.app(scope, receive, send)
        finally:
            release()


class _BodyLimit:
    """A body without Content-Length (chunked) is counted as it arrives. Past the limit the
    client is answered 413 at once, and the app is told the client left: an exception raised
    inside `receive` would reach the app as a body it could not parse (400)."""

    def __init__(
        self, receive: Receive, send: Send, max_bytes: int, too_large: RequestTooLarge, path: str
    ) -> None:
        self._receive, self._send = receive, send
        self.max_bytes, self.too_large, self.path = max_bytes, too_large, path
        self.seen = 0
        self.started = False
        self.rejected = False

    async def receive(self) -> Message:
        if self.rejected:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            if self.seen > self.max_bytes:
                self.rejected = True
                if not self.started:
                    self.started = True
                    await _error(self._send, self.too_large, self.path)
                return {"type": "http.disconnect"}
        return message

    async def send(self, message: Message) -> None:
        if self.rejected:  # the 413 is the answer; what the app says after it is dropped
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


def _is_json(content_type: bytes | None) -> bool:
    """Whether FastAPI reads the body as JSON: so declared, or not declared at all."""
    if content_type is None:
        return True
    mime = content_type.split(b";")[0].strip().lower()
    return mime == b"application/json" or (
        mime.startswith(b"application/") and mime.endswith(b"+json")
    )


# A JSON escape of a UTF-16 surrogate: the cheap test before parsing the body.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _unstorable_text(body: bytes) -> InvalidRequest | None:
    """Text no database stores and no JSON encoder writes: NUL characters, lone surrogates.
    Refused here, for every route at once, before any of it is stored."""
    if b"\\u0000" in body:  # JSON carries NUL only escaped
        return InvalidRequest(
            "the request contains a NUL character (\\u0000)",
            code=ErrorCode.NUL_CHARACTER,
            hint="Remove it: text cannot hold NUL characters.",
        )
    if not _SURROGATE_ESCAPE.search(body):
        return None
    try:
        where = first_unencodable(json.loads(body))
    except ValueError:  # not JSON: the route answers that
        return None
    if where is None:  # only surrogate pairs: one character each
        return None
    return InvalidRequest(
        f"{where}: the text is not valid Unicode (a lone surrogate such as \\ud800)",
        code=ErrorCode.UNENCODABLE_TEXT,
        hint="Send UTF-8 text; a character beyond U+FFFF escaped in JSON needs both halves "
        "of its surrogate pair (\\ud83d\\ude00), or write it unescaped.",
    )


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
