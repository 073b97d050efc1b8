"""A Parquet export bigger than one row group (the path the CLI and the page write files
by), on SQLite and PostgreSQL: written in several row groups, and holding the same records
as the JSONL export of the same labels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from service.labels import ExportOptions, export
from service.labels.export_files import ROW_GROUP
from service.store import Store
from tests.support.bulk import fill

VOTES = 3_200  # trl-kto gives about two records a vote: over ROW_GROUP records


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.timeout(600)
def test_a_big_parquet_export_has_row_groups_and_the_jsonl_records(
    store: Store, tmp_path: Path
) -> None:
    fill(store, VOTES, text_bytes=20)
    options = ExportOptions("trl-kto")
    as_jsonl = export(store, options, str(tmp_path / "kto.jsonl"))
    as_parquet = export(store, options, str(tmp_path / "kto.parquet"))
    assert as_parquet.records == as_jsonl.records > ROW_GROUP

    parquet = pq.ParquetFile(tmp_path / "kto.parquet")
    assert parquet.num_row_groups == -(-as_parquet.records // ROW_GROUP) >= 2
    assert parquet.metadata.num_rows == as_parquet.records
    rows = parquet.read().to_pylist()
    for row in rows:  # Parquet keeps provenance as one JSON text column
        row["provenance"] = json.loads(row["provenance"])
    assert rows == _jsonl(tmp_path / "kto.jsonl")
