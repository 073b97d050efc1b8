"""Map provider exceptions (botocore, httpx, asyncio) to the Arbiter error hierarchy."""

from __future__ import annotations

import asyncio

import httpx
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from service.errors import (
    AccessDenied,
    CredentialsInvalid,
    ErrorCode,
    ModelNotFound,
    ProviderError,
    ProviderTimeout,
    ProviderUnreachable,
    Throttled,
)
from service.redact import redact

_AWS_CODES: dict[str, tuple[type[ProviderError], str]] = {
    "throttlingexception": (
        Throttled,
        "The model is rate limited; retry later or raise your quota.",
    ),
    "toomanyrequestsexception": (Throttled, "The model is rate limited; retry later."),
    "servicequotaexceededexception": (
        Throttled,
        "A service quota was exceeded; ask for a higher quota.",
    ),
    "modelnotreadyexception": (Throttled, "The model is still loading; retry in a minute."),
    "resourcenotfoundexception": (ModelNotFound, "Check the model id and region."),
    "modelerror": (ProviderError, "The model container returned an error; check its logs."),
    "accessdeniedexception": (
        AccessDenied,
        "Grant bedrock:InvokeModel* to your role and request model access in the Bedrock console.",
    ),
    "unrecognizedclientexception": (CredentialsInvalid, "Check your AWS credentials."),
    "invalidsignatureexception": (CredentialsInvalid, "Check your AWS secret key."),
    "expiredtokenexception": (
        CredentialsInvalid,
        "Your AWS session expired; refresh it (aws sso login).",
    ),
    "expiredtoken": (CredentialsInvalid, "Your AWS session expired; refresh it (aws sso login)."),
    "modeltimeoutexception": (ProviderTimeout, "The model took too long; try a shorter prompt."),
}


def _from_client_error(exc: ClientError) -> ProviderError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "")).strip()
    message = str(error.get("Message", "")) or str(exc)
    cls, hint = _AWS_CODES.get(code.lower(), (ProviderError, ""))
    if code.lower() == "validationexception":
        lowered = message.lower()
        if (
            "model identifier is invalid" in lowered
            or "not found" in lowered
            or "doesn't exist" in lowered
        ):
            cls, hint = ModelNotFound, "Check the model id and that it is offered in this region."
        else:
            hint = "The request was rejected by the model; check the variant's parameters."
    if code.lower() == "validationerror" and "endpoint" in message.lower():
        cls, hint = ModelNotFound, "Check the SageMaker endpoint name and region."
    return cls(f"{code}: {message}" if code else message, hint=hint)


def classify_error(exc: BaseException) -> ProviderError:
    """The provider's error in our tree, its message redacted: it may quote the endpoint's
    URL, credentials included."""
    err = _classify(exc)
    err.message = redact(err.message)
    err.args = (err.message,)
    return err


def _classify(exc: BaseException) -> ProviderError:
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(
        exc, asyncio.TimeoutError | TimeoutError | ReadTimeoutError | httpx.TimeoutException
    ):
        return ProviderTimeout(
            f"the model did not answer in time ({type(exc).__name__})",
            hint="Raise the variant's timeout_s or check the endpoint's health.",
        )
    if isinstance(exc, ClientError):
        return _from_client_error(exc)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return CredentialsInvalid(
            "no AWS credentials were found",
            hint="Set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws sso login`.",
        )
    if isinstance(exc, NoRegionError):
        return ProviderError(
            "no AWS region is configured",
            hint="Set AWS_REGION or the variant's `region`.",
            code=ErrorCode.INVALID_CONFIG,
        )
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | httpx.ConnectError):
        return ProviderUnreachable(
            f"cannot reach the model endpoint: {exc}",
            hint="Check the endpoint URL, the network and that the server is running.",
        )
    if isinstance(exc, BotoCoreError | httpx.HTTPError):
        return ProviderError(str(exc) or type(exc).__name__)
    return ProviderError(f"{type(exc).__name__}: {exc}")
