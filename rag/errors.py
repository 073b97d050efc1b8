"""One exception for everything retrieval can refuse, with a stable code and a hint that
says what to do. `service` maps it onto its own error hierarchy."""

from __future__ import annotations


class RagError(Exception):
    def __init__(self, message: str, *, code: str = "rag_error", hint: str = "", status: int = 400):
        super().__init__(message)
        self.message = message
        self.code = code
        self.hint = hint
        self.status = status


class NotIngestible(RagError):
    """A file that cannot become text: unknown type, binary, malformed, too large, empty,
    or over a parsing limit (`code` says which: `unpacked_too_large`, `too_many_elements`,
    `parse_timeout`)."""

    def __init__(
        self, message: str, *, hint: str = "", status: int = 422, code: str = "not_ingestible"
    ) -> None:
        super().__init__(message, code=code, hint=hint, status=status)


class UnknownCollection(RagError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"collection {name!r} does not exist",
            code="unknown_collection",
            hint="Create it by ingesting documents into it (`arbiter ingest PATH --collection "
            f"{name}`) or pick one from GET /api/collections.",
            status=404,
        )


class EmbedderMismatch(RagError):
    def __init__(self, message: str) -> None:
        super().__init__(
            message,
            code="embedder_mismatch",
            hint="A collection keeps the embedding model it was created with; ingest into a "
            "new collection to use another model.",
            status=409,
        )
