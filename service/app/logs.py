"""Structured logging: key=value lines for people, JSON lines when ARBITER_LOG_JSON=true.

Every line is redacted (`service.redact`) on its way out, whoever wrote it: our structlog
events, and the standard-library records of uvicorn, httpx, SQLAlchemy and the rest, messages,
arguments and tracebacks alike. Tracebacks are plain text without local variables (the pretty
ones print every frame's locals, request headers included)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from typing import TextIO

import structlog

from service.redact import redact, redact_value, register_secret


class RedactingFilter(logging.Filter):
    """Rewrites a record in place: its message (arguments merged in), traceback and stack
    redacted, so any formatter downstream sees only the clean text."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what can be shown
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_LOGGED = "_arbiter_logged"


def mark_logged(exc: BaseException) -> None:
    """The exception was logged (with its error id): the server's own report of it, when it
    re-raises, would only repeat its traceback."""
    setattr(exc, _LOGGED, True)


class SkipLogged(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not getattr(exc, _LOGGED, False)


class RedactingFormatter(logging.Formatter):
    """The whole formatted line redacted: what a filter could not see (a formatter's own
    fields) is covered too."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def _redact_event(
    _: structlog.typing.WrappedLogger, __: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    return {key: redact_value(value) for key, value in event_dict.items()}


def _redacted_traceback(sio: TextIO, exc_info: structlog.typing.ExcInfo) -> None:
    plain = io.StringIO()
    structlog.dev.plain_traceback(plain, exc_info)
    sio.write(redact(plain.getvalue()))


def install_redaction(handlers: Iterable[logging.Handler]) -> None:
    for handler in handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(SkipLogged())
            handler.addFilter(RedactingFilter())
        if not isinstance(handler.formatter, RedactingFormatter):
            fmt = handler.formatter._fmt if handler.formatter else "%(message)s"
            handler.setFormatter(RedactingFormatter(fmt))


def configure_logging(
    level: str = "info", *, json: bool = False, secrets: Iterable[str | None] = ()
) -> None:
    """`secrets`: literal values never to be logged (the admin key), on top of the patterns."""
    for secret in secrets:
        register_secret(secret)
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    logging.basicConfig(level=numeric, format="%(message)s")
    logging.getLogger().setLevel(numeric)
    install_redaction(logging.getLogger().handlers)
    # JSON: the traceback becomes the `exception` text before the event is redacted; for
    # people, the console renderer formats it with `_redacted_traceback`.
    tail: list[structlog.typing.Processor] = (
        [structlog.processors.format_exc_info, _redact_event, structlog.processors.JSONRenderer()]
        if json
        else [
            _redact_event,
            structlog.dev.ConsoleRenderer(colors=False, exception_formatter=_redacted_traceback),
        ]
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *tail,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        cache_logger_on_first_use=True,
    )
