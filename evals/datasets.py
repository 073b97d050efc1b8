"""Evaluation datasets: JSONL or CSV, one example per row.

Columns: `prompt` (or `question` / `input`), optional `reference` (or `answer` / `expected`
/ `ideal`), optional `id` (default: the row number), optional `contexts` (a JSON list of
strings), optional `language` (an ISO 639 code such as `zh`, `ja` or `de`: how the metrics
tokenize the row; without it they detect the language from the script). Problems are reported with the line number; nothing is silently dropped."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals.errors import DatasetError, LanguageError
from evals.languages import normalize_language

PROMPT_COLUMNS = ("prompt", "question", "input")
REFERENCE_COLUMNS = ("reference", "answer", "expected", "ideal")


@dataclass(frozen=True)
class Example:
    id: str
    prompt: str
    reference: str | None = None
    contexts: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    language: str | None = None


@dataclass(frozen=True)
class Dataset:
    path: str
    sha256: str
    examples: list[Example]


def _first(row: dict[str, Any], names: tuple[str, ...]) -> Any:
    return next((row[n] for n in names if n in row and row[n] not in (None, "")), None)


def _example(row: dict[str, Any], line: int, name: str) -> Example:
    prompt = _first(row, PROMPT_COLUMNS)
    if prompt is None or not str(prompt).strip():
        raise DatasetError(
            f"{name}, line {line}: no prompt (expected a non-empty column named "
            f"{' / '.join(PROMPT_COLUMNS)}; found {', '.join(row) or 'no columns'})"
        )
    reference = _first(row, REFERENCE_COLUMNS)
    contexts = row.get("contexts") or ()
    if isinstance(contexts, str):
        try:
            contexts = json.loads(contexts)
        except json.JSONDecodeError:
            contexts = (contexts,)
    if not isinstance(contexts, list | tuple) or not all(isinstance(c, str) for c in contexts):
        raise DatasetError(f"{name}, line {line}: `contexts` must be a list of strings")
    language = row.get("language")
    if language in (None, ""):
        language = None
    else:
        try:
            language = normalize_language(str(language))
        except LanguageError as exc:
            raise DatasetError(f"{name}, line {line}: `language` {exc}", hint=exc.hint) from None
    used = {*PROMPT_COLUMNS, *REFERENCE_COLUMNS, "id", "contexts", "language"}
    return Example(
        id=str(line if row.get("id") in (None, "") else row["id"]),
        prompt=str(prompt),
        reference=None if reference is None else str(reference),
        contexts=tuple(contexts),
        meta={k: v for k, v in row.items() if k not in used},
        language=language,
    )


def load_dataset(path: Path) -> Dataset:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DatasetError(f"{path} is not UTF-8 text") from None
    if not text.strip():
        raise DatasetError(f"{path} is empty")
    rows: list[tuple[int, dict[str, Any]]] = []
    if path.suffix.lower() == ".jsonl":
        for line, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise DatasetError(
                    f"{path.name}, line {line}: not valid JSON ({exc.msg})"
                ) from None
            if not isinstance(row, dict):
                raise DatasetError(f"{path.name}, line {line}: expected a JSON object")
            rows.append((line, row))
    elif path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        rows = [(reader.line_num, dict(r)) for r in reader]
    else:
        raise DatasetError(f"{path.name}: use a .jsonl or .csv file")
    if not rows:
        raise DatasetError(f"{path} has no rows")
    examples = [_example(row, line, path.name) for line, row in rows]
    seen: dict[str, int] = {}
    for (line, _), example in zip(rows, examples, strict=True):
        if example.id in seen:
            raise DatasetError(
                f"{path.name}, line {line}: id {example.id!r} repeats line {seen[example.id]}"
            )
        seen[example.id] = line
    return Dataset(str(path), hashlib.sha256(data).hexdigest(), examples)


EXAMPLE_DATASET = Path(__file__).parent / "data" / "lumen_qa.jsonl"
"""Bundled: questions on the sample corpus with reference answers and the passages that
hold them, so `arbiter eval run` works out of the box."""
