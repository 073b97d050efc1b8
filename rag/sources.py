"""Where documents come from: local files, folders and `s3://bucket/prefix` URIs, turned into
one reader per file (each refusing files over the size limit) and ingested one by one."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from rag.errors import NotIngestible, RagError
from rag.ingest import IngestOutcome
from rag.s3 import list_s3, read_s3


class IngestTarget(Protocol):
    """What `ingest_sources` needs of a `Library`."""

    max_file_bytes: int

    def ingest(
        self, collection: str, source: str, data: bytes, *, text_column: str | None = None
    ) -> IngestOutcome: ...

    def flush(self, collection: str | None = None) -> None: ...


def iter_files(paths: Iterable[Path]) -> list[Path]:
    """Files under the given paths (folders walked recursively, hidden files skipped), in a
    stable order; unsupported files are kept so they can be reported, not silently skipped."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        else:
            found.append(path)
    return found


def read_limited(path: Path, limit: int) -> bytes:
    """The file's bytes, refusing before reading when it is over the limit."""
    size = path.stat().st_size
    if size > limit:
        raise NotIngestible(
            f"{path} is {size / 2**20:.1f} MiB; the limit is {limit / 2**20:.0f} MiB",
            hint="Split it into smaller files, or raise ARBITER_RAG_MAX_FILE_MB.",
            status=413,
        )
    return path.read_bytes()


def ingest_sources(
    library: IngestTarget,
    collection: str,
    sources: Sequence[str],
    *,
    text_column: str | None = None,
    s3_client_factory: Callable[[], Any] | None = None,
    on_progress: Callable[[IngestOutcome, int, int], None] | None = None,
) -> list[IngestOutcome]:
    """Ingest local files, folders and `s3://bucket/prefix` URIs, one outcome per file."""
    plan: list[tuple[str, Callable[[], bytes]]] = []
    for source in sources:
        if source.startswith("s3://"):
            if s3_client_factory is None:
                raise RagError("S3 sources need AWS credentials configured", code="no_s3")
            client = s3_client_factory()
            for uri, size in list_s3(client, source):
                plan.append((uri, _s3_reader(client, uri, size, library.max_file_bytes)))
        else:
            path = Path(source)
            if not path.exists():
                plan.append((source, _missing(source)))
                continue
            for file in iter_files([path]):
                plan.append((str(file), _file_reader(file, library.max_file_bytes)))
    outcomes = []
    for done, (source, read) in enumerate(plan, start=1):
        try:
            outcome = library.ingest(collection, source, read(), text_column=text_column)
        except NotIngestible as exc:
            outcome = IngestOutcome.rejected(source, exc)
        outcomes.append(outcome)
        if on_progress:
            on_progress(outcome, done, len(plan))
    library.flush(collection)
    return outcomes


def _file_reader(path: Path, limit: int) -> Callable[[], bytes]:
    return lambda: read_limited(path, limit)


def _s3_reader(client: Any, uri: str, size: int, limit: int) -> Callable[[], bytes]:
    def read() -> bytes:
        if size > limit:
            raise NotIngestible(
                f"{uri} is {size / 2**20:.1f} MiB; the limit is {limit / 2**20:.0f} MiB",
                status=413,
            )
        return read_s3(client, uri)

    return read


def _missing(source: str) -> Callable[[], bytes]:
    def read() -> bytes:
        raise NotIngestible(f"{source} does not exist", hint="Check the path.", status=404)

    return read
