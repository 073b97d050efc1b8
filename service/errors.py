"""One exception hierarchy. Every error has a stable `code`, a message saying what happened,
and a `hint` saying what to do about it. The API renders them as JSON; the CLI prints them."""

from __future__ import annotations


class ArbiterError(Exception):
    code = "internal_error"
    http_status = 500

    def __init__(self, message: str, *, hint: str = "", code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "hint": self.hint}

    def headers(self) -> dict[str, str]:
        """HTTP headers the response carries (e.g. Retry-After)."""
        return {}


class Unauthenticated(ArbiterError):
    code = "unauthenticated"
    http_status = 401

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class TooManyRequests(ArbiterError):
    """A limit was reached: rate, concurrency or token budget. Says when to come back."""

    code = "rate_limited"
    http_status = 429

    def __init__(
        self, message: str, *, retry_after_s: float, hint: str = "", code: str | None = None
    ) -> None:
        super().__init__(message, hint=hint or f"Retry in {retry_after_s:.0f} s.", code=code)
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(max(1, round(self.retry_after_s)))}


class ConfigError(ArbiterError):
    code = "config_invalid"
    http_status = 500


class InvalidRequest(ArbiterError):
    code = "invalid_request"
    http_status = 422


class NotFound(ArbiterError):
    code = "not_found"
    http_status = 404


class Forbidden(ArbiterError):
    code = "forbidden"
    http_status = 403


class Conflict(ArbiterError):
    code = "conflict"
    http_status = 409


class StoreUnavailable(ArbiterError):
    code = "store_unavailable"
    http_status = 503


class ProviderError(ArbiterError):
    """A model call failed. `code` says why: model_not_found, access_denied,
    credentials_invalid, throttled, timeout, cancelled, provider_unreachable, provider_error."""

    code = "provider_error"
    http_status = 502
    retryable = False


class ModelNotFound(ProviderError):
    code = "model_not_found"


class AccessDenied(ProviderError):
    code = "access_denied"


class CredentialsInvalid(ProviderError):
    code = "credentials_invalid"


class Throttled(ProviderError):
    code = "throttled"
    retryable = True


class ProviderUnreachable(ProviderError):
    code = "provider_unreachable"


class CircuitOpen(ProviderUnreachable):
    """The endpoint failed many times in a row: calls fail at once until a trial succeeds."""

    code = "circuit_open"
    http_status = 503

    def __init__(self, message: str, *, retry_after_s: float, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(max(1, round(self.retry_after_s)))}


class ProviderTimeout(ProviderError):
    code = "timeout"
    http_status = 504


class PayloadTooLarge(InvalidRequest):
    code = "prompt_too_long"
    http_status = 413


class RequestTooLarge(ArbiterError):
    code = "request_too_large"
    http_status = 413
