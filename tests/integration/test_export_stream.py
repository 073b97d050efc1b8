"""A streamed export that its reader stops midway (a client that goes away) leaves the
store's connections usable: on PostgreSQL the query still running is cancelled and its
rows drained."""

from __future__ import annotations

from service.labels import ExportOptions, jsonl_chunks
from service.store import Store
from tests.support.bulk import fill


def test_an_export_stopped_midway_leaves_the_store_usable(store: Store) -> None:
    expected = fill(store, 3000)
    options = ExportOptions("trl-preference", redact=False)
    for _ in range(3):  # more times than the pool has idle connections to hide a broken one
        chunks = jsonl_chunks(store, options, chunk_bytes=1024)
        first = next(chunks)
        chunks.close()
    whole = b"".join(jsonl_chunks(store, options))
    assert whole.startswith(first) and whole.count(b"\n") == expected["pairs"]
