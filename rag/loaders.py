"""Files to text sections. Each loader returns the text with where it came from (page for
PDFs, row for CSV/JSONL); anything that cannot become text raises `NotIngestible` with the
reason, before the collection is touched."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
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


def _text(name: str, data: bytes, text_column: str | None) -> list[Section]:
    return [Section(_decode(name, data))]


def _html(name: str, data: bytes, text_column: str | None) -> list[Section]:
    from bs4 import BeautifulSoup  # lazy: bs4 is only needed for HTML files

    soup = BeautifulSoup(_decode(name, data), "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    title = soup.title.get_text(strip=True) if soup.title else None
    text = soup.get_text("\n", strip=True)
    return [Section(text, meta={"title": title} if title else {})]


def _pdf(name: str, data: bytes, text_column: str | None) -> list[Section]:
    # lazy: pypdf is only needed for PDF files
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise NotIngestible(
                f"{name} is an encrypted PDF", hint="Remove the password and ingest it again."
            )
        return [
            Section(page.extract_text() or "", page=number)
            for number, page in enumerate(reader.pages, start=1)
        ]
    except NotIngestible:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise NotIngestible(
            f"{name} is not a readable PDF: {exc}",
            hint="Open it in a PDF viewer to check it; re-export or print it to PDF again.",
        ) from None


def _docx(name: str, data: bytes, text_column: str | None) -> list[Section]:
    import docx  # lazy: python-docx (and its lxml) is only needed for Word files

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


def _csv(name: str, data: bytes, text_column: str | None) -> list[Section]:
    text = _decode(name, data)
    try:
        rows = list(csv.DictReader(io.StringIO(text)))
    except csv.Error as exc:
        raise NotIngestible(f"{name} is not valid CSV: {exc}") from None
    return _rows(name, rows, text_column)


def _jsonl(name: str, data: bytes, text_column: str | None) -> list[Section]:
    rows = []
    for number, line in enumerate(_decode(name, data).splitlines(), start=1):
        if not line.strip():
            continue
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


_LOADERS: dict[str, Callable[[str, bytes, str | None], list[Section]]] = {
    **dict.fromkeys(TEXT_TYPES, _text),
    ".html": _html,
    ".htm": _html,
    ".pdf": _pdf,
    ".docx": _docx,
    ".csv": _csv,
    ".jsonl": _jsonl,
}


def load(name: str, data: bytes, *, text_column: str | None = None) -> list[Section]:
    """The text sections of a file, or `NotIngestible` saying why there are none."""
    loader = _LOADERS[doc_type(name)]
    if not data.strip():
        raise NotIngestible(f"{name} is empty", hint="There is nothing to index in it.")
    sections = [s for s in loader(name, data, text_column) if s.text.strip()]
    if not sections:
        raise NotIngestible(
            f"{name} has no extractable text",
            hint="A scanned PDF needs OCR first; an empty table has no rows.",
        )
    return sections
