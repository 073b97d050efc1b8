"""Datasets and batch evaluation runs on the real store, with scripted models."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.datasets import load_dataset
from evals.errors import DatasetError
from tests.support.batch import write_jsonl


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.jsonl", "", "is empty"),
        ("bad.jsonl", '{"prompt": "a"}\n{"prompt": "b"\n', "line 2: not valid JSON"),
        ("array.jsonl", '["prompt"]\n', "line 1: expected a JSON object"),
        ("noprompt.jsonl", '{"prompt": "a"}\n{"text": "b"}\n', "line 2: no prompt"),
        ("noprompt.csv", "text,reference\nhello,hi\n", "line 2: no prompt"),
        ("dup.jsonl", '{"id": 1, "prompt": "a"}\n{"id": 1, "prompt": "b"}\n', "repeats line 1"),
        ("data.txt", "prompt\nhello\n", "use a .jsonl or .csv file"),
    ],
)
def test_bad_datasets_are_reported_by_line(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DatasetError) as err:
        load_dataset(path)
    assert message in str(err.value)


def test_csv_and_jsonl_datasets_load(tmp_path: Path) -> None:
    csv_path = tmp_path / "d.csv"
    csv_path.write_text('question,answer,topic\nCapital of France?,Paris,geo\n"2+2?",4,math\n')
    data = load_dataset(csv_path)
    assert [(e.id, e.prompt, e.reference, e.meta) for e in data.examples] == [
        ("2", "Capital of France?", "Paris", {"topic": "geo"}),
        ("3", "2+2?", "4", {"topic": "math"}),
    ]
    jsonl = write_jsonl(tmp_path / "d.jsonl", [{"id": "q1", "prompt": "hi", "contexts": ["c1"]}])
    [example] = load_dataset(jsonl).examples
    assert example.id == "q1" and example.reference is None and example.contexts == ("c1",)
    numbered = write_jsonl(tmp_path / "n.jsonl", [{"id": i, "prompt": "p"} for i in range(3)])
    assert [e.id for e in load_dataset(numbered).examples] == ["0", "1", "2"]  # 0 is an id
