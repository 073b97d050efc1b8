"""One exception tree and one list of error codes for the whole service.

Every error has a stable `code` (an `ErrorCode`), a `message` saying what happened and a
`hint` saying what to do about it. The API renders them as JSON
(`{"error": {"code", "message", "hint"}}`), the CLI prints message and hint, the page shows
them in a warning. The tree (HTTP status in brackets):

    ArbiterError [500 internal_error]
    ├── InvalidRequest [422 invalid_request]
    │   └── PayloadTooLarge [413 prompt_too_long]
    ├── Unauthenticated [401 unauthenticated]
    ├── Forbidden [403 forbidden]
    ├── NotFound [404 not_found]
    ├── Conflict [409 conflict]
    ├── RequestTooLarge [413 request_too_large]
    ├── TooManyRequests [429 rate_limited, with Retry-After]
    ├── ConfigError [500 invalid_config]
    ├── StoreError [500 internal_error]: the database refused a statement (a bug, not an outage)
    │   └── StoreUnavailable [503 store_unavailable]: the database cannot be reached or is busy
    └── ProviderError [502 provider_error]: a model call failed
        ├── ModelNotFound [model_not_found]
        ├── AccessDenied [access_denied]
        ├── CredentialsInvalid [credentials_invalid]
        ├── Throttled [throttled; retryable]
        ├── ProviderUnreachable [provider_unreachable]
        │   └── CircuitOpen [503 circuit_open, with Retry-After]
        └── ProviderTimeout [504 timeout]

A subclass's code may be made more precise where it is raised (`NotFound(...,
code=ErrorCode.UNKNOWN_VARIANT)`): the class gives the HTTP status, the code says which case.

The libraries below the service have their own small error types — `rag.RagError` (code,
hint, HTTP status) and `evals.EvalError` (code, hint) — and `as_arbiter_error` turns them into
this tree: the one place the API, the CLI and the page all go through."""

from __future__ import annotations

from enum import StrEnum

from evals.errors import EvalError
from rag import RagError


class ErrorCode(StrEnum):
    """Every error code Arbiter answers with: in API errors, CLI messages, stored answers
    (`answers.error_code`) and telemetry. Clients may rely on them; add, never rename."""

    # requests and access
    INTERNAL_ERROR = "internal_error"
    INVALID_REQUEST = "invalid_request"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    HTTP_ERROR = "http_error"
    NUL_CHARACTER = "nul_character"
    REQUEST_TOO_LARGE = "request_too_large"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    AUTH_REQUIRED = "auth_required"
    LINK_INVALID = "link_invalid"
    LINK_EXPIRED = "link_expired"
    INVALID_SCOPE = "invalid_scope"
    KEY_NOT_FOUND = "key_not_found"
    RATE_LIMITED = "rate_limited"
    TOO_MANY_IN_FLIGHT = "too_many_in_flight"
    TOKEN_BUDGET_EXHAUSTED = "token_budget_exhausted"
    SIGN_IN_LOCKED = "sign_in_locked"
    INVALID_CONFIG = "invalid_config"
    KEY_ENV_NOT_ALLOWED = "key_env_not_allowed"
    UNENCODABLE_TEXT = "unencodable_text"
    STORE_UNAVAILABLE = "store_unavailable"
    INVALID_OPTION = "invalid_option"
    FILE_NOT_FOUND = "file_not_found"
    NO_S3 = "no_s3"
    ADAPTER_UNKNOWN = "adapter_unknown"
    # model calls
    PROVIDER_ERROR = "provider_error"
    MODEL_NOT_FOUND = "model_not_found"
    ACCESS_DENIED = "access_denied"
    CREDENTIALS_INVALID = "credentials_invalid"
    THROTTLED = "throttled"
    PROVIDER_UNREACHABLE = "provider_unreachable"
    CIRCUIT_OPEN = "circuit_open"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    # comparisons and the gateway
    EMPTY_PROMPT = "empty_prompt"
    PROMPT_TOO_LONG = "prompt_too_long"
    BAD_PANE_COUNT = "bad_pane_count"
    UNKNOWN_VARIANT = "unknown_variant"
    NO_VARIANTS = "no_variants"
    NAME_MISMATCH = "name_mismatch"
    RAG_UNAVAILABLE = "rag_unavailable"
    INVALID_REGENERATE = "invalid_regenerate"
    INVALID_CURSOR = "invalid_cursor"
    TURN_NOT_FINISHED = "turn_not_finished"
    ALREADY_VOTED = "already_voted"
    TURN_NOT_RUNNING = "turn_not_running"
    INVALID_DEPLOYMENT = "invalid_deployment"
    # labels
    INVALID_VOTE = "invalid_vote"
    INVALID_RANKING = "invalid_ranking"
    INVALID_PANE = "invalid_pane"
    INVALID_CAMPAIGN = "invalid_campaign"
    INVALID_FILTER = "invalid_filter"
    INVALID_EXPORT = "invalid_export"
    INVALID_SPLIT = "invalid_split"
    UNKNOWN_FORMAT = "unknown_format"
    BAD_EXPORT_PATH = "bad_export_path"
    # evaluation and use cases
    EVAL_ERROR = "eval_error"
    INVALID_DATASET = "invalid_dataset"
    UNKNOWN_METRIC = "unknown_metric"
    INVALID_TARGET = "invalid_target"
    UNPARSABLE_VERDICT = "unparsable_verdict"
    MIXED_METRIC_VERSIONS = "mixed_metric_versions"
    BAD_THRESHOLD = "bad_threshold"
    AMBIGUOUS_SIDE = "ambiguous_side"
    BAD_REPORT_FORMAT = "bad_report_format"
    INVALID_USE_CASE = "invalid_use_case"
    UNKNOWN_USE_CASE = "unknown_use_case"
    INVALID_BASELINE = "invalid_baseline"
    NO_DATASETS = "no_datasets"
    INVALID_LANGUAGE = "invalid_language"
    # eval runs on batch backends (Bedrock batch inference, SageMaker batch transform)
    BATCH_NOT_CONFIGURED = "batch_not_configured"
    UNSUPPORTED_BACKEND = "unsupported_backend"
    TOO_FEW_RECORDS = "too_few_records"
    S3_BUCKET_MISSING = "s3_bucket_missing"
    BATCH_JOB_FAILED = "batch_job_failed"
    # documents (from `rag`)
    RAG_ERROR = "rag_error"
    NOT_INGESTIBLE = "not_ingestible"
    UNPACKED_TOO_LARGE = "unpacked_too_large"
    TOO_MANY_ELEMENTS = "too_many_elements"
    PARSE_TIMEOUT = "parse_timeout"
    UNKNOWN_COLLECTION = "unknown_collection"
    EMBEDDER_MISMATCH = "embedder_mismatch"
    COLLECTION_EXISTS = "collection_exists"
    INVALID_COLLECTION_NAME = "invalid_collection_name"
    READ_ONLY_COLLECTION = "read_only_collection"
    UNKNOWN_DOCUMENT = "unknown_document"
    UNKNOWN_CHUNK = "unknown_chunk"
    EMPTY_QUERY = "empty_query"
    EMPTY_S3_PREFIX = "empty_s3_prefix"
    # tuning (fine-tuning jobs)
    TUNING_LIMIT = "tuning_limit"
    UNKNOWN_TUNING = "unknown_tuning"
    INVALID_TUNING = "invalid_tuning"
    TUNING_FAILED = "tuning_failed"
    PRICE_NOT_ACCEPTED = "price_not_accepted"


class ArbiterError(Exception):
    code: ErrorCode = ErrorCode.INTERNAL_ERROR
    http_status = 500

    def __init__(self, message: str, *, hint: str = "", code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, str]:
        return {"code": str(self.code), "message": self.message, "hint": self.hint}

    def headers(self) -> dict[str, str]:
        """HTTP headers the response carries (e.g. Retry-After)."""
        return {}


class _RetryAfter(ArbiterError):
    """An error that says when to try again (429, 503): the Retry-After header."""

    def __init__(
        self,
        message: str,
        *,
        retry_after_s: float,
        hint: str = "",
        code: ErrorCode | None = None,
    ) -> None:
        super().__init__(message, hint=hint, code=code)
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(max(1, round(self.retry_after_s)))}


class InvalidRequest(ArbiterError):
    code = ErrorCode.INVALID_REQUEST
    http_status = 422


class PayloadTooLarge(InvalidRequest):
    code = ErrorCode.PROMPT_TOO_LONG
    http_status = 413


class Unauthenticated(ArbiterError):
    code = ErrorCode.UNAUTHENTICATED
    http_status = 401

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(ArbiterError):
    code = ErrorCode.FORBIDDEN
    http_status = 403


class NotFound(ArbiterError):
    code = ErrorCode.NOT_FOUND
    http_status = 404


class Conflict(ArbiterError):
    code = ErrorCode.CONFLICT
    http_status = 409


class RequestTooLarge(ArbiterError):
    code = ErrorCode.REQUEST_TOO_LARGE
    http_status = 413


class TooManyRequests(_RetryAfter):
    """A limit was reached: rate, concurrency or token budget. Says when to come back."""

    code = ErrorCode.RATE_LIMITED
    http_status = 429

    def __init__(
        self,
        message: str,
        *,
        retry_after_s: float,
        hint: str = "",
        code: ErrorCode | None = None,
    ) -> None:
        hint = hint or f"Retry in {retry_after_s:.0f} s."
        super().__init__(message, retry_after_s=retry_after_s, hint=hint, code=code)


class ConfigError(ArbiterError):
    code = ErrorCode.INVALID_CONFIG
    http_status = 500


class StoreError(ArbiterError):
    """The database answered but refused what it was asked (a missing table, a query it
    cannot run): a bug or a broken deployment, reported with its cause. Not an outage."""

    code = ErrorCode.INTERNAL_ERROR
    http_status = 500


class StoreUnavailable(StoreError):
    """The database cannot be reached, or is too busy to answer: try again later."""

    code = ErrorCode.STORE_UNAVAILABLE
    http_status = 503


class ProviderError(ArbiterError):
    """A model call failed; `code` says why."""

    code = ErrorCode.PROVIDER_ERROR
    http_status = 502
    retryable = False


class ModelNotFound(ProviderError):
    code = ErrorCode.MODEL_NOT_FOUND


class AccessDenied(ProviderError):
    code = ErrorCode.ACCESS_DENIED


class CredentialsInvalid(ProviderError):
    code = ErrorCode.CREDENTIALS_INVALID


class Throttled(ProviderError):
    code = ErrorCode.THROTTLED
    retryable = True


class ProviderUnreachable(ProviderError):
    code = ErrorCode.PROVIDER_UNREACHABLE


class CircuitOpen(_RetryAfter, ProviderUnreachable):
    """The endpoint failed many times in a row: calls fail at once until a trial succeeds."""

    code = ErrorCode.CIRCUIT_OPEN
    http_status = 503


class ProviderTimeout(ProviderError):
    code = ErrorCode.TIMEOUT
    http_status = 504


def as_arbiter_error(exc: Exception) -> ArbiterError | None:
    """The library's error in this tree (`rag` keeps its HTTP status, an `evals` error is a
    bad request), or None for anything else."""
    if isinstance(exc, ArbiterError):
        return exc
    if isinstance(exc, RagError):
        err = ArbiterError(exc.message, hint=exc.hint, code=ErrorCode(exc.code))
        err.http_status = exc.status
        return err
    if isinstance(exc, EvalError):
        return InvalidRequest(str(exc), hint=exc.hint, code=ErrorCode(exc.code))
    return None


LIBRARY_ERRORS: tuple[type[Exception], ...] = (RagError, EvalError)
