"""The page in the reader's language, in real Chromium: a browser asking for Chinese
(`locale="zh-CN"`: its navigator.language and Accept-Language) walks a blind vote in Chinese;
an English one sees the page exactly in English; the header's switch changes the language of
an English browser, for the page and for what the server says."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, BrowserContext, Page, expect

from service.app.runtime import Runtime
from tests.support.fixtures import LiveServer
from ui.i18n import COOKIE, EN, ZH_CN

# The scripted models (tests/support/fixtures.py): blind pairs are drawn from these names.
VARIANTS = ("alpha", "beta", "gamma")


@pytest.fixture
def context(browser: Browser, request: pytest.FixtureRequest) -> Iterator[BrowserContext]:
    ctx = browser.new_context(locale=request.param, viewport={"width": 1280, "height": 900})
    yield ctx
    ctx.close()


def votes(runtime: Runtime) -> list[tuple[str, str]]:
    with runtime.store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT outcome, rater FROM votes")).all()
    return [(r[0], r[1]) for r in rows]


def label_of(page: Page, elem_id: str) -> str:
    shown = page.locator(
        f"#{elem_id} [data-testid='block-info'], #{elem_id} [data-testid='block-label']"
    )
    return shown.first.inner_text().strip()


def send_and_wait(page: Page, prompt: str) -> None:
    page.fill("#arena-prompt textarea", prompt)
    page.press("#arena-prompt textarea", "Enter")  # Enter sends, in Chinese too
    expect(page.locator("#arena-vote-a")).to_be_enabled(timeout=30_000)


@pytest.mark.parametrize("context", ["zh-CN"], indirect=True)
def test_a_blind_vote_in_chinese(
    live_ui: LiveServer, runtime: Runtime, context: BrowserContext
) -> None:
    page = context.new_page()
    page.goto(live_ui.url)
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    # The header, the navigation bar, the tabs, the panes and the controls are in Chinese.
    expect(page.locator("#header-title")).to_contain_text(ZH_CN["header.compare"])
    nav = page.locator("nav").first
    for key in ("nav.compare", "nav.documents", "nav.leaderboard", "nav.usecases"):
        expect(nav).to_contain_text(ZH_CN[key])
    expect(nav).not_to_contain_text("Documents")
    expect(page.get_by_role("tab", name=ZH_CN["tab.arena"])).to_be_visible()
    expect(page.get_by_role("tab", name=ZH_CN["tab.history"])).to_be_visible()
    assert label_of(page, "rater") == ZH_CN["header.your_name"]
    assert label_of(page, "arena-chat-0") == ZH_CN["board.model"] + " A"
    expect(page.locator("#arena-prompt textarea")).to_have_attribute(
        "placeholder", ZH_CN["board.prompt"]
    )
    for elem_id, key in [
        ("arena-send", "board.send"),
        ("arena-vote-a", "board.vote_a"),
        ("arena-vote-b", "board.vote_b"),
        ("arena-vote-tie", "board.vote_tie"),
        ("arena-vote-both_bad", "board.vote_both_bad"),
        ("arena-regenerate", "board.regenerate"),
        ("arena-new", "board.new_round"),
    ]:
        expect(page.locator(f"#{elem_id}")).to_have_text(ZH_CN[key])
    # No raw key anywhere on the page.
    assert "__i18n__" not in page.locator("body").inner_text()

    # The server speaks Chinese too: a warning, the status line, the footers.
    page.press("#arena-prompt textarea", "Enter")
    expect(page.get_by_text(ZH_CN["warn.no_prompt"])).to_be_visible(timeout=10_000)
    page.fill("#rater input, #rater textarea", "评测员")
    send_and_wait(page, "法国的首都是哪里？")
    expect(page.locator("#arena-status")).to_have_text(ZH_CN["status.ask_blind"])
    for i in (0, 1):
        assert page.locator(f'#arena-chat-{i} [data-testid="bot"]').inner_text().strip()
    # Still blind, and the buttons kept their Chinese labels through the turn's updates.
    assert not any(name in page.content() for name in VARIANTS)
    expect(page.locator("#arena-send")).to_have_text(ZH_CN["board.send"])
    expect(page.locator("#arena-vote-a")).to_have_text(ZH_CN["board.vote_a"])

    page.click("#arena-vote-a")
    status = page.locator("#arena-status")
    expect(status).to_contain_text("你认为", timeout=10_000)
    expect(status).to_contain_text("优于")
    footer = page.locator("#arena-footer-0")
    expect(footer).to_contain_text("首 token")
    assert any(name in footer.inner_text() for name in VARIANTS)  # revealed
    assert label_of(page, "arena-chat-0").startswith(ZH_CN["board.model"] + " A · ")
    assert votes(runtime) == [("a", "评测员")]
    # The rubric opened after the vote, in Chinese.
    expect(page.locator("#arena-save-labels")).to_have_text(ZH_CN["rubric.save"])
    expect(page.get_by_text(ZH_CN["rubric.intro"])).to_be_visible()
    assert "__i18n__" not in page.locator("body").inner_text()

    # History, in Chinese: its headers and rows (read when the tab opens).
    page.get_by_role("tab", name=ZH_CN["tab.history"]).click()
    table = page.locator("#history-table")
    expect(table).to_contain_text(ZH_CN["history.col_prompt"], timeout=10_000)
    expect(table).to_contain_text(ZH_CN["history.outcome_a"])


@pytest.mark.parametrize("context", ["en-US"], indirect=True)
def test_an_english_browser_sees_english_and_the_switch_changes_it(
    live_ui: LiveServer, context: BrowserContext
) -> None:
    page = context.new_page()
    page.goto(live_ui.url)
    assert page.evaluate("document.documentElement.lang") == "en"
    expect(page.locator("#header-title")).to_contain_text(EN["header.compare"])
    nav = page.locator("nav").first
    for name in ("Compare", "Documents", "Campaign", "Dashboard", "Leaderboard", "Use cases"):
        expect(nav).to_contain_text(name)
    expect(page.get_by_role("tab", name="Arena (blind)")).to_be_visible()
    assert label_of(page, "arena-chat-0") == "Model A"
    expect(page.locator("#arena-vote-both_bad")).to_have_text("Both are bad")
    expect(page.locator("#arena-send")).to_have_text("Send")
    send_and_wait(page, "What is the capital of France?")
    expect(page.locator("#arena-status")).to_have_text(
        "Which answer is better? Vote to reveal the models."
    )
    page.click("#arena-vote-tie")
    expect(page.locator("#arena-status")).to_contain_text("You called it a tie:", timeout=10_000)
    expect(page.locator("#arena-footer-0")).to_contain_text("first token")
    assert "__i18n__" not in page.locator("body").inner_text()

    # The switch: Chinese for the page and the server, remembered in a cookie, on every page.
    page.locator("#lang-links").get_by_text("中文").click()
    expect(page).to_have_url(live_ui.url + "/?lang=zh-CN")
    expect(page.locator("#arena-send")).to_have_text(ZH_CN["board.send"], timeout=10_000)
    assert {c["name"]: c["value"] for c in context.cookies()}[COOKIE] == "zh-CN"
    page.press("#arena-prompt textarea", "Enter")
    expect(page.get_by_text(ZH_CN["warn.no_prompt"])).to_be_visible(timeout=10_000)
    page.goto(live_ui.url + "/leaderboard")
    expect(page.locator("#lb-refresh")).to_have_text(ZH_CN["lb.refresh"], timeout=10_000)
    expect(page.locator("nav").first).to_contain_text(ZH_CN["nav.leaderboard"])
    # ... and back.
    page.goto(live_ui.url + "/?lang=en")
    expect(page.locator("#arena-send")).to_have_text("Send", timeout=10_000)
    assert {c["name"]: c["value"] for c in context.cookies()}[COOKIE] == "en"


@pytest.mark.parametrize("context", ["zh-CN"], indirect=True)
def test_the_dashboard_use_cases_and_leaderboard_words_are_chinese(
    live_ui: LiveServer, context: BrowserContext
) -> None:
    """What the server writes into these pages (choices, table headers, the heat map's
    label) follows the reader's language, not only the static labels."""
    page = context.new_page()
    page.goto(live_ui.url + "/dashboard")
    expect(page.locator("#dash-usecase input")).to_have_value(ZH_CN["dash.all_traffic"])
    page.goto(live_ui.url + "/usecases")
    headers = page.locator("#uc-status thead")
    expect(headers).to_contain_text(ZH_CN["uc.all_met"])
    expect(headers).not_to_contain_text(EN["uc.all_met"])
    expect(page.locator("#uc-baseline input")).to_have_value(ZH_CN["uc.own_baseline"])
    page.goto(live_ui.url + "/leaderboard")
    expect(page.locator("#lb-heat-title")).to_contain_text(ZH_CN["lb.win_rates"].lstrip("# "))
