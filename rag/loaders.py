"""Files to text sections. Each loader returns the text with where it came from (page for
PDFs, row for CSV/JSONL); anything that cannot become text raises `NotIngestible` with the
reason, before the collection is touched.

Files are untrusted: each loader keeps to `ParseLimits` — what a file may unpack to (a
.docx's zip parts, by their declared sizes and as read; a PDF's text) and how many elements
it may hold (paragraphs, table rows and runs; pages; rows; tags). The time limit is kept by
`rag.parsing`, which runs the loaders in a worker process."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import IO, Any
from zipfile import BadZipFile

from charset_normalizer import from_bytes

from rag.errors import NotIngestible

# pypdf logs what it repairs in damaged files; the outcome (ingested or rejected with the
# reason) is what a user needs, not its warnings.
logging.getLogger("pypdf").setLevel(logging.ERROR)

TEXT_TYPES = {".txt", ".md", ".markdown", ".rst"}
SUPPORTED = sorted(TEXT_TYPES | {".html", ".htm", ".pdf", ".docx", ".csv", ".jsonl"})
TEXT_COLUMNS = ("text", "content", "body", "document", "passage")


@dataclass(frozen=True)
class ParseLimits:
    """How much reading one untrusted file may cost."""

    unpacked_bytes: int = 100 * 2**20
    elements: int = 200_000
    timeout_s: float = 60.0


def unpacked_too_large(name: str, limits: ParseLimits) -> NotIngestible:
    return NotIngestible(
        f"{name} unpacks to more than {limits.unpacked_bytes / 2**20:.0f} MiB",
        hint="Split it into smaller files, or raise ARBITER_RAG_MAX_UNPACKED_MB.",
        status=413,
        code="unpacked_too_large",
    )


def too_many_elements(name: str, what: str, limits: ParseLimits) -> NotIngestible:
    return NotIngestible(
        f"{name} has more than {limits.elements:,} {what}",
        hint="Split it into smaller files, or raise ARBITER_RAG_MAX_ELEMENTS.",
        status=413,
        code="too_many_elements",
    )


@dataclass(frozen=True)
class Section:
    """A run of text from one place in a file (a page, a row, or the whole file)."""

    text: str
    page: int | None = None
    row: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def doc_type(name: str) -> str:
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in SUPPORTED:
        raise NotIngestible(
            f"{name}: files of type {suffix or '(no extension)'!r} are not supported",
            hint="Supported: " + ", ".join(SUPPORTED),
            status=415,
        )
    return suffix


def _decode(name: str, data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise NotIngestible(
            f"{name} looks like a binary file, not text (it contains NUL bytes)",
            hint="Check that the file is what its name says; only text formats are read.",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    # Not UTF-8: let charset-normalizer name the encoding. Short Western European texts
    # decode equally well as several code pages; among those tied for best, take Windows-1252,
    # by far the most common legacy encoding of such files.
    matches = list(from_bytes(data))
    if not matches:
        raise NotIngestible(
            f"{name} is not text in any encoding we could recognise",
            hint="Save it as UTF-8 and try again.",
        )
    best = matches[0]
    tied = [
        m
        for m in matches
        if (m.percent_chaos, m.percent_coherence) == (best.percent_chaos, best.percent_coherence)
    ]
    preferred = next((m for m in tied if m.encoding == "cp1252"), best)
    return str(preferred)


def _text(name: str, data: bytes, text_column: str | None, limits: ParseLimits) -> list[Section]:
    return [Section(_decode(name, data))]


_TAG = re.compile(rb"<[A-Za-z!/?]")


def _html(name: str, data: bytes, text_column: str | None, limits: ParseLimits) -> list[Section]:
    from bs4 import BeautifulSoup  # lazy: bs4 is only needed for HTML files

    for count, _ in enumerate(_TAG.finditer(data), start=1):
        if count > limits.elements:
            raise too_many_elements(name, "tags", limits)

    soup = BeautifulSoup(_decode(name, data), "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    title = soup.title.get_text(strip=True) if soup.title else None
    text = soup.get_text("\n", strip=True)
    return [Section(text, meta={"title": title} if title else {})]


def _pdf(name: str, data: bytes, text_column: str | None, limits: ParseLimits) -> list[Section]:
    # lazy: pypdf is only needed for PDF files
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise NotIngestible(
                f"{name} is an encrypted PDF", hint="Remove the password and ingest it again."
            )
        if len(reader.pages) > limits.elements:
            raise too_many_elements(name, "pages", limits)
        sections, unpacked = [], 0
        for number, page in enumerate(reader.pages, start=1):
            text = page.extract_text() or ""
            unpacked += len(text.encode())
            if unpacked > limits.unpacked_bytes:
                raise unpacked_too_large(name, limits)
            sections.append(Section(text, page=number))
        return sections
    except NotIngestible:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise NotIngestible(
            f"{name} is not a readable PDF: {exc}",
            hint="Open it in a PDF viewer to check it; re-export or print it to PDF again.",
        ) from None


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_DOCX_ELEMENTS = (f"{_W}p", f"{_W}tr", f"{_W}r")  # paragraphs, table rows, runs


class _Unpacked:
    """Reads a zip member, counting what all members have unpacked to so far; stops with
    `unpacked_too_large` as soon as that passes the limit (whatever the sizes declared)."""

    def __init__(self, name: str, limits: ParseLimits) -> None:
        self.name = name
        self.limits = limits
        self.total = 0
        self.member: IO[bytes] | None = None

    def read(self, size: int = -1) -> bytes:
        assert self.member is not None
        room = self.limits.unpacked_bytes - self.total + 1
        data = self.member.read(room if size is None or size < 0 else min(size, room))
        self.total += len(data)
        if self.total > self.limits.unpacked_bytes:
            raise unpacked_too_large(self.name, self.limits)
        return data


def _check_docx(name: str, data: bytes, limits: ParseLimits) -> None:
    """Before python-docx opens the package: its parts unpack to no more than the limit (by
    their declared sizes, then as read) and its XML holds no more paragraphs, table rows
    and runs than the limit (counted while streaming, elements dropped once counted)."""
    from lxml import etree  # lazy, with python-docx

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (BadZipFile, ValueError) as exc:
        raise NotIngestible(
            f"{name} is not a readable Word (.docx) file: {exc}",
            hint="Open it in Word or LibreOffice and save it as .docx again.",
        ) from None
    with archive:
        members = archive.infolist()
        if sum(m.file_size for m in members) > limits.unpacked_bytes:
            raise unpacked_too_large(name, limits)
        reader, elements = _Unpacked(name, limits), 0
        for member in members:
            with archive.open(member) as reader.member:
                try:
                    for _, element in etree.iterparse(
                        reader,
                        events=("end",),
                        tag=_DOCX_ELEMENTS,
                        resolve_entities=False,
                        no_network=True,
                    ):
                        elements += 1
                        if elements > limits.elements:
                            raise too_many_elements(name, "paragraphs, table rows and runs", limits)
                        element.clear()
                        while element.getprevious() is not None:
                            del element.getparent()[0]
                except etree.XMLSyntaxError:
                    pass  # not XML (an image): its bytes still count
                while reader.read(2**20):
                    pass


def _docx(name: str, data: bytes, text_column: str | None, limits: ParseLimits) -> list[Section]:
    import docx  # lazy: python-docx (and its lxml) is only needed for Word files

    _check_docx(name, data, limits)
    try:
        document = docx.Document(io.BytesIO(data))
    except (BadZipFile, KeyError, ValueError) as exc:
        raise NotIngestible(
            f"{name} is not a readable Word (.docx) file: {exc}",
            hint="Open it in Word or LibreOffice and save it as .docx again.",
        ) from None
    parts = [p.text for p in document.paragraphs if p.text.strip()]
    for table in document.tables:
        for row in table.rows:
            parts.append(" | ".join(cell.text.strip() for cell in row.cells))
    return [Section("\n\n".join(parts))]


def _pick_column(name: str, columns: list[str], text_column: str | None) -> str:
    if text_column:
        if text_column not in columns:
            raise NotIngestible(
                f"{name} has no column {text_column!r}",
                hint=f"Its columns are: {', '.join(columns) or '(none)'}.",
            )
        return text_column
    for candidate in TEXT_COLUMNS:
        if candidate in columns:
            return candidate
    raise NotIngestible(
        f"{name}: which column holds the text? None is called {', '.join(TEXT_COLUMNS)}",
        hint=f"Name it with --text-column (columns: {', '.join(columns) or '(none)'}).",
    )


def _rows(name: str, rows: list[dict[str, Any]], text_column: str | None) -> list[Section]:
    if not rows:
        return []
    column = _pick_column(name, list(rows[0].keys()), text_column)
    sections = []
    for number, row in enumerate(rows, start=1):
        value = row.get(column)
        if value is None or not str(value).strip():
            continue
        meta = {k: v for k, v in row.items() if k != column and isinstance(v, str | int | float)}
        sections.append(Section(str(value), row=number, meta=meta))
    return sections


def _csv(name: str, data: bytes, text_column: str | None, limits: ParseLimits) -> list[Section]:
    text = _decode(name, data)
    rows: list[dict[str, Any]] = []
    try:
        for row in csv.DictReader(io.StringIO(text)):
            if len(rows) >= limits.elements:
                raise too_many_elements(name, "rows", limits)
            rows.append(row)
    except csv.Error as exc:
        raise NotIngestible(f"{name} is not valid CSV: {exc}") from None
    return _rows(name, rows, text_column)


def _jsonl(name: str, data: bytes, text_column: str | None, limits: ParseLimits) -> list[Section]:
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(_decode(name, data).splitlines(), start=1):
        if not line.strip():
            continue
        if len(rows) >= limits.elements:
            raise too_many_elements(name, "rows", limits)
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise NotIngestible(
                f"{name}, line {number}: not valid JSON ({exc.msg})",
                hint="Each line must be one JSON object.",
            ) from None
        if not isinstance(row, dict):
            raise NotIngestible(f"{name}, line {number}: expected a JSON object")
        rows.append(row)
    return _rows(name, rows, text_column)


_LOADERS: dict[str, Callable[[str, bytes, str | None, ParseLimits], list[Section]]] = {
    **dict.fromkeys(TEXT_TYPES, _text),
    ".html": _html,
    ".htm": _html,
    ".pdf": _pdf,
    ".docx": _docx,
    ".csv": _csv,
    ".jsonl": _jsonl,
}


def load(
    name: str,
    data: bytes,
    *,
    text_column: str | None = None,
    limits: ParseLimits = ParseLimits(),
) -> list[Section]:
    """The text sections of a file, or `NotIngestible` saying why there are none. In this
    process: untrusted files go through `rag.parsing.Parser`, which adds the time limit."""
    loader = _LOADERS[doc_type(name)]
    if not data.strip():
        raise NotIngestible(f"{name} is empty", hint="There is nothing to index in it.")
    sections = [s for s in loader(name, data, text_column, limits) if s.text.strip()]
    if not sections:
        raise NotIngestible(
            f"{name} has no extractable text",
            hint="A scanned PDF needs OCR first; an empty table has no rows.",
        )
    return sections
