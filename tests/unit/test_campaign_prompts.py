"""A campaign's prompts from pasted text or a file: .txt one per line, .jsonl / .csv with a
prompt column; a file that cannot be used is refused with the reason and what it should
look like."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.errors import InvalidRequest
from service.labels.campaigns import prompts_from_file, prompts_from_text


def test_pasted_prompts_are_one_per_line_blank_lines_skipped() -> None:
    assert prompts_from_text("  A?\n\n B? \r\n\n") == ["A?", "B?"]
    assert prompts_from_text("\n  \n") == []


def test_prompt_files_of_each_kind(tmp_path: Path) -> None:
    txt = tmp_path / "p.txt"
    txt.write_text("\ufeffFirst?\n\n第二个问题？\n", encoding="utf-8")
    assert prompts_from_file(txt) == ["First?", "第二个问题？"]
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text('{"question": "Q1", "answer": "A1"}\n{"prompt": "Q2"}\n')
    assert prompts_from_file(jsonl) == ["Q1", "Q2"]
    csv = tmp_path / "p.CSV"
    csv.write_text('prompt,reference\nQ1,A1\n"Q2, with a comma",A2\n')
    assert prompts_from_file(csv) == ["Q1", "Q2, with a comma"]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("p.jsonl", b'{"prompt": "ok"}\n{"prompt": \n', "line 2: not valid JSON"),
        ("p.jsonl", b'{"reference": "no prompt"}\n', "line 1: no prompt"),
        ("p.csv", b"question\n\n", "has no rows"),
        ("p.txt", b"\n \n", "has no prompts"),
        ("p.txt", b"\xff\xfe bad", "not UTF-8"),
        ("p.pdf", b"%PDF", "not a prompt file"),
    ],
)
def test_a_file_that_cannot_be_used_says_why_and_how(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidRequest) as caught:
        prompts_from_file(path)
    assert reason in caught.value.message
    assert ".txt file with one prompt per line" in caught.value.hint
