"""Eval runs over HTTP and from the Evaluations tab: started in the background, followed
to the end, reported as HTML and Markdown."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from gradio_client import handle_file

from service.app.runtime import Runtime
from tests.fakes.script import Script
from tests.support.fixtures import LiveServer
from tests.support.gradio import page_client

ROWS = [
    {"id": "fr", "prompt": "Capital of France?", "reference": "Paris is the capital."},
    {"id": "fr2", "prompt": "France's capital?", "reference": "Paris is the capital."},
    {
        "id": "fr3",
        "prompt": "Which city is the capital of France?",
        "reference": "Paris is the capital.",
    },
]
JSONL = "".join(json.dumps(r) + "\n" for r in ROWS)


def _wait_done(
    url: str, run_id: str, wait_for: Callable[[Callable[[], bool], float], None]
) -> dict[str, Any]:
    wait_for(lambda: httpx.get(f"{url}/api/eval-runs/{run_id}").json()["status"] == "done", 30)
    return httpx.get(f"{url}/api/eval-runs/{run_id}").json()


def test_start_follow_and_report_a_run_over_http(
    live: LiveServer,
    scripts: dict[str, Script],
    wait_for: Callable[[Callable[[], bool], float], None],
) -> None:
    r = httpx.post(
        f"{live.url}/api/eval-runs",
        json={
            "variants": ["alpha", "beta"],
            "metrics": ["exact_match", "rouge_l"],
            "dataset": JSONL,
            "dataset_name": "capitals",
            "name": "http run",
        },
    )
    assert r.status_code == 202, r.text
    started = r.json()
    assert started["total"] == 6 and started["name"] == "http run"
    run = _wait_done(live.url, started["id"], wait_for)
    assert run["stored"] == 6 and run["dataset_path"].startswith("capitals-")
    assert run["summary"]["alpha"]["exact_match"]["mean"] == 1.0  # alpha says the reference
    assert run["summary"]["beta"]["exact_match"]["mean"] == 0.0
    assert run["summary"]["beta"]["error_rate"]["mean"] == 0.0
    listed = httpx.get(f"{live.url}/api/eval-runs").json()
    assert [x["id"] for x in listed] == [started["id"]] and listed[0]["stored"] == 6

    page = httpx.get(f"{live.url}/api/eval-runs/{started['id']}/report.html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "beta vs alpha" in page.text and "data:image/png;base64," in page.text
    md = httpx.get(f"{live.url}/api/eval-runs/{started['id']}/report.md")
    assert md.status_code == 200 and "| exact_match |" in md.text

    # With a pairwise judge: gamma always says "A", whatever the order, so every verdict
    # flips with the order and counts as a tie: a win rate of one half.
    scripts["gamma"].tokens = ['{"winner": "A", "explanation": "first is best"}']
    judged = httpx.get(
        f"{live.url}/api/eval-runs/{started['id']}/report.md", params={"judge": "gamma"}, timeout=60
    )
    assert judged.status_code == 200, judged.text
    assert "Judge pairwise-v2@gamma: beta wins over alpha 0.500" in judged.text
    assert "tie: 3" in judged.text


def test_bad_runs_are_refused_with_the_reason(live: LiveServer) -> None:
    def post(**body: Any) -> httpx.Response:
        return httpx.post(f"{live.url}/api/eval-runs", json={"variants": ["alpha"], **body})

    bad_json = post(dataset='{"prompt": "ok"}\n{"prompt": \n')
    assert (
        bad_json.status_code == 422
        and "line 2: not valid JSON" in bad_json.json()["error"]["message"]
    )
    empty = post(dataset="   ")
    assert empty.status_code == 422 and "is empty" in empty.json()["error"]["message"]
    unknown_metric = post(dataset=JSONL, metrics=["blue"])
    assert (
        unknown_metric.status_code == 422
        and unknown_metric.json()["error"]["code"] == "unknown_metric"
    )
    unknown_variant = post(dataset=JSONL, variants=["nope"])
    assert unknown_variant.status_code == 404
    no_variant = httpx.post(f"{live.url}/api/eval-runs", json={"variants": []})
    assert no_variant.status_code == 422
    assert httpx.get(f"{live.url}/api/eval-runs").json() == []  # nothing half-created
    assert httpx.get(f"{live.url}/api/eval-runs/nope").status_code == 404


def test_evaluations_tab_starts_a_run_and_shows_its_report(
    runtime: Runtime,
    live_ui: LiveServer,
    tmp_path: Path,
    wait_for: Callable[[Callable[[], bool], float], None],
) -> None:
    data = tmp_path / "capitals.jsonl"
    data.write_text(JSONL)
    c = page_client(live_ui.url)
    status, _rows, _timer, run_id = c.predict(
        handle_file(str(data)),
        ["alpha", "gamma"],
        ["token_f1"],
        "(no retrieval)",
        "",
        api_name="/eval_start",
    )
    # The progress box: state and counts first, then what the run is, its id last.
    assert "of 6 answers" in status and "capitals.jsonl" in status and run_id in status
    assert "Running" in status or "Finished" in status
    run = _wait_done(live_ui.url, run_id, wait_for)
    assert set(run["summary"]) == {"alpha", "gamma"}
    assert run["summary"]["gamma"]["token_f1"]["mean"] == 0.0  # "Bonjour!"
    frame = c.predict(run_id, api_name="/eval_report")
    assert f"/api/eval-runs/{run_id}/report.html" in frame and "<iframe" in frame
    refused = c.predict(None, [], ["token_f1"], "(no retrieval)", "", api_name="/eval_start")
    assert refused[3] == {"__type__": "update"}  # the run id box is left alone
    assert len(httpx.get(f"{live_ui.url}/api/eval-runs").json()) == 1  # no run without a variant
