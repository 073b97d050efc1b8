"""The Evaluations page's progress box: state and counts first, the right words for each
state, the file's name rather than its server path, and markup escaped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ui.evaluations import progress_html


def _run(**fields: Any) -> dict[str, Any]:
    start = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    return {
        "id": "0193aaaa-bbbb-7ccc-8ddd-eeeeffff0000",
        "name": "/tmp/gradio/3f9c/questions.jsonl",
        "dataset_path": "/tmp/gradio/3f9c/questions.jsonl",
        "variants": ["alpha", "beta"],
        "status": "running",
        "stored": 6,
        "total": 24,
        "errors": 0,
        "created_at": start,
        "finished_at": None,
        **fields,
    }


def _head(html: str) -> str:
    return html.split('class="eval-progress-head">', 1)[1].split("</div>", 1)[0]


def test_running_shows_counts_a_bar_and_time_left() -> None:
    html = progress_html(_run(), "en")
    assert _head(html) == "<strong>Running</strong> · 6 of 24 answers"
    assert '<progress max="24" value="6"' in html
    assert "about " in html and " left" in html
    assert "questions.jsonl" in html and "/tmp/gradio" not in html


def test_a_run_with_nothing_yet_has_a_moving_bar() -> None:
    html = progress_html(_run(stored=0), "en")
    assert '<progress max="24" style' in html  # no value: the browser's indeterminate bar


def test_finished_and_failed_say_so_with_the_next_step() -> None:
    start = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    done = progress_html(
        _run(status="done", stored=24, errors=2, finished_at=start + timedelta(seconds=136)),
        "en",
    )
    assert _head(done) == "<strong>Finished</strong> · 24 of 24 answers · 2 failed"
    assert "2:16 elapsed" in done and "left" not in done and "Show report" in done
    failed = progress_html(_run(status="failed"), "zh-CN", "collection <b>x</b> does not exist")
    assert "<strong>失败</strong>" in failed
    assert "collection &lt;b&gt;x&lt;/b&gt; does not exist" in failed
    assert "<code>arbiter eval run DATASET --resume RUN_ID</code>" in failed


def test_a_run_named_by_its_user_keeps_its_name() -> None:
    html = progress_html(_run(name="prompt v2 / baseline"), "en")
    assert "prompt v2 / baseline" in html
