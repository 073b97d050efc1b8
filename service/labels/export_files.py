"""Where an export's records go, one at a time: JSONL written line by line, Parquet by row
groups (pyarrow's `ParquetWriter`), into staged files that are moved into place — or
uploaded to S3 as multipart uploads — only once every record has been written and checked.
A failed export leaves nothing behind, and memory stays flat in the number of records."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq
from boto3.s3.transfer import TransferConfig

from evals.exports import json_line, json_text
from service.errors import ErrorCode, InvalidRequest

ROW_GROUP = 5000  # Parquet rows buffered before a row group is written
PART_SIZE = 8 * 1024 * 1024  # S3: files above this go up in parts of this size


class _Jsonl:
    def __init__(self, path: Path) -> None:
        self.file: IO[bytes] = path.open("wb", buffering=1 << 20)

    def write(self, row: dict[str, Any]) -> None:
        self.file.write(json_line(row))

    def close(self) -> None:
        self.file.close()


class _Parquet:
    """Rows in row groups of ROW_GROUP; the first group fixes the schema."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: list[dict[str, Any]] = []
        self.writer: pq.ParquetWriter | None = None

    def write(self, row: dict[str, Any]) -> None:
        # Provenance varies in shape (parameters differ by provider): one JSON text column.
        if "provenance" in row:
            row = {**row, "provenance": json_text(row["provenance"])}
        self.rows.append(row)
        if len(self.rows) >= ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if not self.rows:
            return
        schema = self.writer.schema if self.writer is not None else None
        table = pa.Table.from_pylist(self.rows, schema=schema)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema)
        self.writer.write_table(table)
        self.rows = []

    def close(self) -> None:
        self._flush()
        if self.writer is not None:
            self.writer.close()


def check_destination(out: str, inline: bool) -> None:
    """Refuse a destination before anything is read."""
    suffix = Path(out.rsplit("/", 1)[-1]).suffix.lower()
    if suffix not in (".jsonl", ".parquet"):
        raise InvalidRequest(
            f"cannot write {out}",
            code=ErrorCode.BAD_EXPORT_PATH,
            hint="End the path in .jsonl or .parquet.",
        )
    if suffix == ".parquet" and not inline:
        raise InvalidRequest(
            "Bedrock formats are JSONL only",
            code=ErrorCode.BAD_EXPORT_PATH,
            hint="Use a .jsonl path.",
        )
    if not out.startswith("s3://") and ".." in Path(out).parts:
        raise InvalidRequest(f"refusing a path with '..': {out}", code=ErrorCode.BAD_EXPORT_PATH)


class StagedFiles:
    """The files of one export, named after `out` (`name.jsonl`, or `name-train.jsonl` and
    `name-test.jsonl` for splits; Bedrock formats allow no extra keys, so their provenance
    goes to a line-aligned `name.provenance.jsonl`), written into a scratch folder."""

    def __init__(self, out: str, inline: bool) -> None:
        check_destination(out, inline)
        self.out, self.inline = out, inline
        path = Path(out.rsplit("/", 1)[-1])
        self.stem, self.suffix = path.stem, path.suffix.lower()
        if out.startswith("s3://"):
            self.scratch = Path(tempfile.mkdtemp(prefix="arbiter-export-"))
        else:
            target = Path(out)
            target.parent.mkdir(parents=True, exist_ok=True)
            self.scratch = Path(tempfile.mkdtemp(prefix=".arbiter-export-", dir=target.parent))
        self.sinks: dict[str, tuple[Any, Any]] = {}
        self.names: list[str] = []

    def _open(self, name: str) -> Any:
        self.names.append(name)
        path = self.scratch / name
        return _Parquet(path) if name.endswith(".parquet") else _Jsonl(path)

    def write(self, split: str, row: dict[str, Any]) -> None:
        if split not in self.sinks:
            stem = self.stem if split == "all" else f"{self.stem}-{split}"
            main = self._open(stem + self.suffix)
            side = None if self.inline else self._open(stem + ".provenance.jsonl")
            self.sinks[split] = (main, side)
        main, side = self.sinks[split]
        if side is None:
            main.write(row)
        else:
            main.write(row["record"])
            side.write(row["provenance"])

    def _close(self) -> None:
        for main, side in self.sinks.values():
            main.close()
            if side is not None:
                side.close()

    def discard(self) -> None:
        for main, side in self.sinks.values():
            for sink in (main, side):
                if sink is not None and isinstance(sink, _Jsonl):
                    sink.file.close()  # a Parquet writer left open is removed with its file
        shutil.rmtree(self.scratch, ignore_errors=True)

    def publish(self, s3: Any = None, part_size: int = PART_SIZE) -> list[str]:
        """Close the files and put them in place (a move each: no half files) or upload
        them to S3 (multipart above `part_size`). Returns where they went."""
        self._close()
        try:
            if self.out.startswith("s3://"):
                return self._upload(s3, part_size)
            parent = Path(self.out).parent
            for name in self.names:
                (self.scratch / name).replace(parent / name)
            return [str(parent / name) for name in self.names]
        finally:
            self.discard()

    def _upload(self, s3: Any, part_size: int) -> list[str]:
        if s3 is None:
            raise InvalidRequest("no S3 client for an s3:// destination", code=ErrorCode.NO_S3)
        bucket, _, key = self.out[5:].partition("/")
        prefix = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
        config = TransferConfig(
            multipart_threshold=part_size, multipart_chunksize=part_size, max_concurrency=4
        )
        for name in self.names:
            with (self.scratch / name).open("rb") as body:
                s3.upload_fileobj(body, bucket, prefix + name, Config=config)
        return [f"s3://{bucket}/{prefix}{name}" for name in self.names]
