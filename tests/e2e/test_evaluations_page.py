"""The Evaluations page in a real browser: a run started from the page shows its progress
where it can be seen at a wide and a phone width (its state and answer counts first, a
progress bar), updates while the run goes on, and says when it has finished; a run that
stops on an error says it failed."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Locator, Page, expect

from evals.datasets import EXAMPLE_DATASET, load_dataset
from service.app.runtime import Runtime
from service.store import eval_runs
from tests.fakes.script import Script
from tests.support.fixtures import LiveServer

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
EXAMPLES = 12  # the bundled example dataset
SLOW = 0.6  # s before each answer's first token: a run of 24 answers takes a few seconds


@pytest.fixture
def scripts() -> dict[str, Script]:
    return {
        name: Script(tokens=["Within", " 45", " days", "."], first_token_delay_s=SLOW)
        for name in ("alpha", "beta", "gamma")
    }


def _on_screen(page: Page, locator: Locator) -> None:
    """All of it inside the viewport's width: read without scrolling sideways."""
    box = locator.bounding_box()
    width = page.viewport_size["width"] if page.viewport_size else 0
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (box, width)
    assert locator.evaluate("el => el.scrollWidth <= el.clientWidth + 1")


@pytest.mark.parametrize("size", [(1400, 900), (390, 844)], ids=["wide", "phone"])
def test_progress_shows_while_running_and_says_finished(
    live_ui: LiveServer, page: Page, size: tuple[int, int]
) -> None:
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    page.goto(live_ui.url + "/evaluations")
    expect(page.locator("#eval-variants")).to_contain_text("alpha", timeout=30_000)
    page.click("#eval-start")
    status = page.locator("#eval-status .eval-progress")
    expect(status).to_contain_text("Running", timeout=30_000)
    expect(status).to_contain_text(f"of {2 * EXAMPLES} answers")
    expect(status.locator("progress")).to_be_visible()
    head = status.locator(".eval-progress-head")
    expect(head).to_be_in_viewport()  # where the eyes are after pressing Start
    _on_screen(page, head)
    _on_screen(page, status)
    page.screenshot(path=str(ARTIFACTS / f"evaluations-running-{width}.png"), full_page=True)
    first = head.inner_text()
    # It moves while the run goes on, then ends finished, with every answer counted.
    expect(head).not_to_have_text(first, timeout=30_000)
    expect(head).to_contain_text("Finished", timeout=60_000)
    expect(head).to_contain_text(f"{2 * EXAMPLES} of {2 * EXAMPLES} answers")
    expect(status).not_to_contain_text("Running")
    expect(status).to_contain_text("Show report")
    _on_screen(page, head)
    # The table leads with the state and the answers, and names the file, not a server path.
    row = page.locator("#eval-runs [role=row]").filter(has_text="lumen_qa.jsonl").first
    cells = [c.strip() for c in row.locator("[role=gridcell]").all_inner_texts()]
    assert cells[:3] == ["Finished", f"{2 * EXAMPLES}/{2 * EXAMPLES}", "lumen_qa.jsonl"], cells
    assert str(EXAMPLE_DATASET.parent) not in page.locator("#eval-runs").inner_text()
    page.screenshot(path=str(ARTIFACTS / f"evaluations-finished-{width}.png"), full_page=True)


def test_a_run_stopped_by_an_error_says_failed(
    runtime: Runtime, live_ui: LiveServer, page: Page
) -> None:
    # The store loses the run's items table once the run is stored: the run stops there.
    dataset = load_dataset(EXAMPLE_DATASET)
    engine = runtime.store.engine

    def rename(old: str, new: str) -> None:
        with engine.begin() as conn:
            conn.execute(sa.text(f"ALTER TABLE {old} RENAME TO {new}"))

    async def start_and_wait() -> str:
        run_id = await runtime.evals.start_in_background(dataset, ["alpha"], ["rouge_l"])
        for _ in range(600):
            if eval_runs.get_run(runtime.store, run_id)["status"] != "running":
                break
            await asyncio.sleep(0.05)
        return run_id

    rename("eval_items", "eval_items_away")
    try:
        # On a thread of its own: Playwright's synchronous API holds this thread's loop.
        with ThreadPoolExecutor(1) as pool:
            run_id = pool.submit(asyncio.run, start_and_wait()).result()
    finally:
        rename("eval_items_away", "eval_items")
    assert eval_runs.get_run(runtime.store, run_id)["status"] == "failed"
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(live_ui.url + "/evaluations")
    expect(page.locator("#eval-runs")).to_contain_text("Failed", timeout=30_000)
    page.locator("#eval-runs [role=row]").filter(has_text=run_id).first.locator(
        "[role=gridcell]"
    ).first.click()
    status = page.locator("#eval-status .eval-progress")
    expect(status).to_contain_text("Failed", timeout=30_000)
    expect(status).to_contain_text("eval_items")  # why: the database's own words
    expect(status).to_contain_text("--resume")
