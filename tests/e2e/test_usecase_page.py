"""Issue 21, item 5: the Use cases page fills a use case itself. In a real browser against a
live server (scripted models): a use case with no data says so and names the next step,
ranks nobody and shows no markup; its Window field shows the use case's own window; the
Run button answers its dataset with every variant, shows progress, then where it stands.
And an evaluation run for no use case on the same dataset file counts toward it (another
file does not)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from evals.datasets import load_dataset
from service.app.runtime import Runtime
from service.evaluation import usecases
from tests.support.fixtures import LiveServer
from tests.support.page_shots import check_screens

ROWS = [
    {"prompt": "Capital of France?", "reference": "Paris is the capital."},
    {"prompt": "Where is the Eiffel tower?", "reference": "It is in Paris."},
    {"prompt": "Say hello in French.", "reference": "Bonjour!"},
]


def use_case(runtime: Runtime, tmp_path: Path, name: str = "support") -> Path:
    """A use case over alpha and beta with one small dataset file; returns the file."""
    data = tmp_path / "qa.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    spec = usecases.spec_from_data(
        {
            "name": name,
            "variants": ["alpha", "beta"],
            "baseline": "beta",
            "datasets": [str(data)],
            "metrics": ["token_f1"],
            "targets": ["token_f1 >= 0.01", "error_rate <= 0.5"],
            "min_samples": 2,
            "window_days": 7,
        }
    )
    usecases.apply(runtime.store, runtime.catalog, spec)
    return data


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_the_run_button_fills_a_use_case_with_no_data(
    runtime: Runtime, live_ui: LiveServer, page: Page, tmp_path: Path
) -> None:
    use_case(runtime, tmp_path)
    url = live_ui.url
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{url}/usecases")
    expect(page.locator("#uc-name input")).to_have_value("support", timeout=30_000)
    expect(page.locator("#uc-days input")).to_have_value("7")  # its own window, not 0

    # No data yet: said so, with the next step; nobody ranked, no literal markup.
    page.click("#uc-show")
    summary = page.locator("#uc-summary")
    expect(summary).to_contain_text("No data yet", timeout=20_000)
    expect(summary).to_contain_text("Run its datasets")
    assert "`" not in summary.inner_text()
    table = page.locator("#uc-status")
    expect(table).to_contain_text("no data yet")  # each variant, in the use case's order
    assert "✗" not in table.inner_text()
    report = httpx.get(f"{url}/api/usecases/support/report.html").text
    assert "no data yet" in report and "`" not in report
    assert "<td>1</td>" not in report  # nobody ranked first
    assert "arbiter usecase run support" in report
    check_screens(page, "usecases-no-data")

    # Run: progress, then where it stands.
    page.click("#uc-run")
    expect(page.locator("#uc-progress")).to_contain_text(
        "Run finished: 6 answers scored", timeout=60_000
    )
    expect(summary).not_to_contain_text("No data yet")
    expect(summary).to_contain_text("Recommended: ")
    expect(table).to_contain_text("✓")
    expect(table).not_to_contain_text("no data yet")
    assert "`" not in summary.inner_text()
    report = httpx.get(f"{url}/api/usecases/support/report.html").text
    assert "no data yet" not in report and "<td>1</td>" in report
    status = httpx.get(f"{url}/api/usecases/support/status").json()
    samples = {v["variant"]: v["goals"][1]["samples"] for v in status["variants"]}
    assert samples == {"alpha": 3, "beta": 3}
    check_screens(page, "usecases-after-run")


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_an_evaluation_on_the_same_dataset_counts_toward_the_use_case(
    runtime: Runtime, tmp_path: Path
) -> None:
    data = use_case(runtime, tmp_path)
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps(ROWS[0]) + "\n")
    spec = usecases.get(runtime.store, "support")

    def answers() -> dict[str, int]:
        window = usecases.Window.last(spec.window_days)
        found = usecases.observations(runtime.store, spec, window)
        return {v: obs.count("answers") for v, obs in found.items()}

    assert answers() == {"alpha": 0, "beta": 0}
    # As the Evaluations page starts one: for no use case, on a file with different content.
    asyncio.run(runtime.evals.run(load_dataset(other), ["alpha", "beta"], ["token_f1"]))
    assert answers() == {"alpha": 0, "beta": 0}
    # The same file's content (a copy elsewhere): it counts, for the use case's variants only.
    copy = tmp_path / "copy" / "qa.jsonl"
    copy.parent.mkdir()
    copy.write_bytes(data.read_bytes())
    asyncio.run(runtime.evals.run(load_dataset(copy), ["alpha", "gamma"], ["token_f1"]))
    assert answers() == {"alpha": 3, "beta": 0}
