"""Errors as JSON: `{"error": {"code", "message", "hint"}}` with a stable code. Never a traceback."""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.app import mark_logged
from service.errors import LIBRARY_ERRORS, ArbiterError, ErrorCode, as_arbiter_error
from service.ids import new_id
from service.redact import redact

log = structlog.get_logger(__name__)


def error_response(
    status: int,
    code: ErrorCode,
    message: str,
    hint: str = "",
    headers: dict[str, str] | None = None,
    *,
    openai: bool = False,
) -> JSONResponse:
    """`openai`: the gateway's shape, which OpenAI clients show (`message` carries the hint,
    `type` the code); the same keys as everywhere else are kept beside them. The message is
    redacted: it may quote what a provider or a library said, URLs with credentials included."""
    message = redact(message)
    error: dict[str, str | None] = {"code": code, "message": message, "hint": hint}
    if openai:
        error |= {"message": f"{message}. {hint}" if hint else message, "type": code, "param": None}
    return JSONResponse(status_code=status, content={"error": error}, headers=headers)


def _is_gateway(request: Request) -> bool:
    return request.url.path.startswith("/v1/")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ArbiterError)
    async def _arbiter(request: Request, exc: ArbiterError) -> JSONResponse:
        return error_response(
            exc.http_status,
            exc.code,
            exc.message,
            exc.hint,
            exc.headers(),
            openai=_is_gateway(request),
        )

    async def _library(request: Request, exc: Exception) -> JSONResponse:
        err = as_arbiter_error(exc)
        assert err is not None  # registered for LIBRARY_ERRORS only
        return await _arbiter(request, err)

    for library_error in LIBRARY_ERRORS:
        app.add_exception_handler(library_error, _library)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
        return error_response(
            422,
            ErrorCode.INVALID_REQUEST,
            "; ".join(parts),
            "See the API schema at /docs.",
            openai=_is_gateway(request),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED}.get(
            exc.status_code, ErrorCode.HTTP_ERROR
        )
        return error_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The answer names the error by an id only: its text may hold what the caller must
        # not see (paths, SQL, URLs). The log has it, redacted like every line.
        error_id = new_id()
        log.error(
            "api.unhandled",
            error_id=error_id,
            error=type(exc).__name__,
            route=f"{request.method} {request.url.path}",
            exc_info=exc,
        )
        mark_logged(exc)
        return error_response(
            500,
            ErrorCode.INTERNAL_ERROR,
            f"an unexpected error occurred (error id {error_id})",
            "It has been logged; give the operator this error id.",
            openai=_is_gateway(request),
        )
