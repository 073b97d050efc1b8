"""Issue 21, item 5: the Use cases page fills a use case itself. In a real browser against a
live server (scripted models): a use case with no data says so and names the next step,
ranks nobody and shows no markup; its Window field shows the use case's own window; the
Run button answers its dataset with every variant, shows progress, then where it stands.
(An evaluation on the same dataset counts too: tests/integration/test_usecase_datasets.py.)"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from service.app.runtime import Runtime
from tests.support.fixtures import LiveServer
from tests.support.page_shots import check_screens
from tests.support.usecase_data import use_case


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
    frame = page.frame_locator("#uc-report iframe")  # the report shown is the new one
    expect(frame.locator("p.rec")).to_contain_text("Recommended: ", timeout=20_000)
    status = httpx.get(f"{url}/api/usecases/support/status").json()
    samples = {v["variant"]: v["goals"][1]["samples"] for v in status["variants"]}
    assert samples == {"alpha": 3, "beta": 3}
    check_screens(page, "usecases-after-run")
