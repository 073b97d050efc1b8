"""The Export page's progress bar (issue 18): the page's export of a few thousand labels,
submitted through the page's own event API, reports how many labels it has read as it goes
(what Gradio draws as the bar), in the reader's language."""

from __future__ import annotations

import time
from typing import Any

from gradio_client import Client

from service.app.runtime import Runtime
from tests.support.bulk import fill
from tests.support.fixtures import LiveServer
from tests.support.gradio import page_client

VOTES = 6_000  # enough for the export to take several of Gradio's progress intervals


def _progress_while_exporting(client: Client) -> tuple[list[Any], Any]:
    """Every distinct progress unit seen while the export ran, and its result."""
    job = client.submit("trl-kto", ".parquet", "all", 0, False, False, api_name="/export")
    seen: list[Any] = []
    while not job.done():
        status = job.status()
        for unit in status.progress_data or ():
            if not seen or seen[-1] != unit:
                seen.append(unit)
        time.sleep(0.005)
    return seen, job.result(timeout=120)


def test_a_big_page_export_reports_its_progress(runtime: Runtime, live_ui: LiveServer) -> None:
    fill(runtime.store, VOTES, text_bytes=20)

    seen, (summary, files) = _progress_while_exporting(page_client(live_ui.url))
    assert "Written." in summary and len(files) == 1
    assert seen, "no progress update arrived while the page exported"
    assert all(u.desc == "labels read" and u.unit == "labels" for u in seen)
    total = seen[-1].length
    assert total is not None and total >= VOTES
    assert all(u.length == total and 0 <= u.index <= total for u in seen)
    indexes = [u.index for u in seen]
    assert indexes == sorted(indexes) and indexes[-1] > indexes[0]  # it moves, forward

    zh, _ = _progress_while_exporting(page_client(live_ui.url, headers={"accept-language": "zh"}))
    assert zh and all(u.desc == "已读取的标注" and u.unit == "条标注" for u in zh)
