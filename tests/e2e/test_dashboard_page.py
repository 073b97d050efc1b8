"""The Dashboard page in a real browser, as a newcomer opens it: the default window (24 hours,
hourly buckets) with its one bucket of data drawn, times readable on a 24-hour clock in the
browser's zone and said so, no stray empty table, the windows named in the page's language,
and an empty store that says what to do."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from service.app import Runtime
from service.ids import utcnow
from tests.support.answered import answered_turn
from tests.support.fixtures import LiveServer

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SIZES = {"wide": (1400, 900), "phone": (390, 844)}

# The points a plot draws that a reader sees: symbols of non-zero size and opacity (a line
# plot keeps invisible ones for hovering).
VISIBLE_POINTS = """el => [...el.querySelectorAll('g.mark-symbol.role-mark path')].filter(p => {
  const box = p.getBBox();
  return box.width > 0 && box.height > 0 && getComputedStyle(p).opacity !== '0'
    && p.getAttribute('opacity') !== '0';
}).length"""
# The x axis' tick labels (Vega's SVG: the first axis group with labels is x).
X_LABELS = """el => {
  const axis = [...el.querySelectorAll('g[aria-roledescription="axis"]')]
    .find(a => (a.getAttribute('aria-label') || '').startsWith('X-axis'));
  return axis ? [...axis.querySelectorAll('g.role-axis-label text')].map(t => t.textContent) : [];
}"""
X_TITLE = """el => {
  const axis = [...el.querySelectorAll('g[aria-roledescription="axis"]')]
    .find(a => (a.getAttribute('aria-label') || '').startsWith('X-axis'));
  return axis ? [...axis.querySelectorAll('g.role-axis-title text')].map(t => t.textContent).join(' ') : '';
}"""


@pytest.fixture
def shanghai(browser: Browser) -> Iterator[Page]:
    """A page whose browser is eight hours ahead of UTC, where 12-hour and UTC clocks show."""
    context = browser.new_context(timezone_id="Asia/Shanghai", locale="en-US")
    page = context.new_page()
    yield page
    context.close()


def _compare_and_vote(url: str) -> None:
    turn = httpx.post(
        f"{url}/api/compare", json={"prompt": "q", "variants": ["alpha", "beta"]}, timeout=30
    ).json()
    httpx.post(
        f"{url}/api/turns/{turn['id']}/votes", json={"outcome": "b", "on_behalf_of": "r"}
    ).raise_for_status()


def test_one_bucket_of_data_is_drawn_with_readable_times(
    live_ui: LiveServer, shanghai: Page
) -> None:
    _compare_and_vote(live_ui.url)
    page = shanghai
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.goto(live_ui.url + "/dashboard")
        expect(page.locator("#dash-window")).to_contain_text("Last 24 hours", timeout=30_000)
        latency = page.locator(".dash-plot").first  # latency p50: alpha and beta
        page.wait_for_function(
            # The plot is drawn anew when its data come: wait for it to be there, then drawn.
            "() => { const plot = document.querySelector('.dash-plot'); "
            f"return plot !== null && ({VISIBLE_POINTS})(plot) >= 2; }}",
            timeout=30_000,
        )
        expect(latency).to_contain_text("Latency p50")
        labels = latency.evaluate(X_LABELS)
        assert labels, "no tick labels on the time axis"
        # A 24-hour clock, never Vega's milliseconds (".868") nor a 12-hour "06:43".
        assert all(re.fullmatch(r"\d\d:\d\d", label) for label in labels), labels
        assert "your time zone" in latency.evaluate(X_TITLE)
        win_rate = page.locator(".dash-plot").filter(has_text="Preference win rate")
        assert win_rate.evaluate(VISIBLE_POINTS) == 2  # one bucket: alpha's and beta's point
        # All traffic, no use case: no goals table (once an empty one headed "1 2 3").
        expect(page.locator("#dash-goals")).to_be_hidden()
        expect(page.locator("#dash-empty")).to_be_hidden()
        page.screenshot(path=str(ARTIFACTS / f"dashboard-{size}.png"), full_page=True)


def test_windows_are_named_in_the_page_language(live_ui: LiveServer, page: Page) -> None:
    page.goto(live_ui.url + "/dashboard?lang=zh-CN")
    window = page.locator("#dash-window")
    expect(window).to_contain_text("最近 24 小时", timeout=30_000)
    expect(window).to_contain_text("最近 7 天")
    expect(window).not_to_contain_text("last 24 hours")
    page.locator("#dash-window label").filter(has_text="最近 1 小时").click()
    expect(page.locator("#dash-empty")).to_contain_text("最近 1 小时", timeout=30_000)


def test_an_empty_store_says_what_to_do(live_ui: LiveServer, page: Page) -> None:
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(live_ui.url + "/dashboard")
    empty = page.locator("#dash-empty")
    expect(empty).to_contain_text("Nothing to plot", timeout=30_000)
    expect(empty).to_contain_text("Last 24 hours")
    expect(empty.locator("a[href='/']")).to_contain_text("Compare")
    expect(empty.locator("a[href='/evaluations']")).to_contain_text("Evaluations")
    expect(page.locator("#dash-goals")).to_be_hidden()
    page.screenshot(path=str(ARTIFACTS / "dashboard-empty.png"), full_page=True)
    _compare_and_vote(live_ui.url)
    page.click("#dash-refresh")
    expect(empty).to_be_hidden(timeout=30_000)


LONG_NAMES = [
    "smollm2-concise-no-docs-fine-tune-2026-12",
    "bedrock-claude-haiku-with-rag-and-a-long-prompt",
    "客服-微调模型-第三版-长名字",
]
# Each variant's colour as the plot draws it: the stroke of its points, by the tooltip's name.
POINT_COLOURS = """el => Object.fromEntries([...el.querySelectorAll('g.mark-symbol.role-mark path')]
  .map(p => [(p.getAttribute('aria-label') || ''), p.getAttribute('stroke')]))"""


def test_one_legend_names_every_variant_in_its_colour_and_fits_a_phone(
    live_ui: LiveServer, runtime: Runtime, page: Page
) -> None:
    answered_turn(
        runtime.store,
        LONG_NAMES,
        each=lambda pane, _: {"latency_ms": 100.0 * (pane + 1), "created_at": utcnow()},
        mode="named",
        rater="r1",
    )
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_ui.url + "/dashboard?lang=zh-CN")
    legend = page.locator("#dash-legend .dash-key")
    expect(legend).to_have_count(3, timeout=30_000)
    page.wait_for_function(
        "() => { const plot = document.querySelector('.dash-plot'); "
        f"return plot !== null && ({VISIBLE_POINTS})(plot) >= 3; }}",
        timeout=30_000,
    )
    expect(page.locator("#dash-legend")).to_contain_text("模型变体")
    swatches = {}
    for k in range(3):
        key = legend.nth(k)
        name = key.inner_text().strip()
        box = key.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, (name, box)
        swatches[name] = key.locator(".dash-swatch").evaluate(
            "el => getComputedStyle(el).borderTopColor"
        )
    assert sorted(swatches) == sorted(LONG_NAMES)
    assert len(set(swatches.values())) == 3  # three colours, one per variant
    # The plots keep no legend of their own (it ran off the screen), and draw each variant's
    # points in the legend's colour.
    latency = page.locator(".dash-plot").first
    assert latency.locator('g[aria-roledescription="legend"]').count() == 0
    drawn = latency.evaluate(POINT_COLOURS)
    for name, colour in swatches.items():
        stroke = next(c for label, c in drawn.items() if name in label)
        assert _rgb(stroke) == colour, (name, stroke, colour)
    # Answers without votes, scores or a first token: those plots are hidden, and named.
    expect(page.locator(".dash-plot").filter(has_text="偏好胜率")).to_have_count(0)
    missing = page.locator("#dash-missing")
    expect(missing).to_contain_text("此时间范围内没有数据")
    expect(missing).to_contain_text("偏好胜率（平局计一半）、满意度")
    page.screenshot(path=str(ARTIFACTS / "dashboard-legend-phone.png"), full_page=True)


def _rgb(hex_colour: str) -> str:
    value = hex_colour.lstrip("#")
    red, green, blue = (int(value[k : k + 2], 16) for k in (0, 2, 4))
    return f"rgb({red}, {green}, {blue})"
