"""A newcomer's first hour on the pages, in real Chromium against the live page (scripted
models, a SQLite file): no page scrolls sideways on a phone and the prompt box is in the
first screen; every page keeps the same width; History shows whole columns, the rubric
scores, and a detail that follows the search; the leaderboard says when votes are few and
what rating and Elo mean; the rubric's confirmation shows beside its button; three panes
are ranked; the sources panel opens with the sources, in words rather than raw scores."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from service.labels import FEW_BATTLES
from service.store import Store
from tests.fakes.script import Script
from tests.support.fixtures import LiveServer, scratch_store

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1400, "height": 900}
# Every page of the navigation bar, and the rater page's tabs.
NAV_PAGES = ["/", "/documents", "/campaign", "/dashboard", "/leaderboard", "/export"]
NAV_PAGES += ["/evaluations", "/usecases", "/tuning", "/models"]
TABS = ["Side by side", "History"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """The page's layout does not depend on the store: a SQLite file is enough here."""
    with scratch_store("sqlite", tmp_path) as s:
        yield s


def compare(url: str, prompt: str, variants: list[str], rater: str = "ann", **extra: Any) -> str:
    body = {"prompt": prompt, "variants": variants, "on_behalf_of": rater, **extra}
    r = httpx.post(f"{url}/api/compare", json=body, timeout=30)
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def vote(url: str, turn: str, outcome: str, rater: str = "ann") -> None:
    r = httpx.post(
        f"{url}/api/turns/{turn}/votes", json={"outcome": outcome, "on_behalf_of": rater}
    )
    assert r.status_code == 201, r.text


def settle(page: Page) -> None:
    """Wait until what the page loads when it opens has come."""
    page.wait_for_selector("nav")
    # Gradio's page keeps a connection open: wait a moment for its loads to come in.
    page.wait_for_timeout(1500)


def scroll_width(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


def test_no_page_scrolls_sideways_on_a_phone(live_ui: LiveServer, page: Page) -> None:
    url = live_ui.url
    for n, winner in enumerate(("a", "b", "a")):
        vote(url, compare(url, f"Which is best, take {n}?", ["alpha", "beta"]), winner)
    page.set_viewport_size(PHONE)
    wide = {}
    for path in NAV_PAGES:
        page.goto(url + path)
        settle(page)
        if path == "/leaderboard":  # its table has rows by now
            expect(page.locator("#lb-preference")).to_contain_text("alpha", timeout=15_000)
        wide[path] = scroll_width(page)
    page.goto(url)
    settle(page)
    page.fill("#rater input, #rater textarea", "ann")
    for tab in TABS:
        page.get_by_role("tab", name=tab).click()
        settle(page)
        if tab == "History":
            expect(page.locator("#history-table")).to_contain_text("take 2", timeout=15_000)
        wide[tab] = scroll_width(page)
    assert {k: w for k, w in wide.items() if w > PHONE["width"]} == {}


# Each visible checkbox's label: its text, how many lines it takes, its right edge.
CHECKBOX_LABELS = """() => [...document.querySelectorAll('input[type=checkbox]')]
    .map(box => box.closest('label')).filter(l => l && l.offsetParent !== null)
    .map(l => { const text = [...l.children].find(c => c.tagName === 'SPAN') || l;
                const line = parseFloat(getComputedStyle(text).lineHeight) || 20;
                const r = text.getBoundingClientRect();
                return [l.innerText.trim(), Math.round(r.height / line), r.right]; })
    .filter(([text]) => text)"""


def test_no_checkbox_label_is_squeezed_on_a_phone(live_ui: LiveServer, page: Page) -> None:
    """A checkbox squeezed into a row beside others wraps its label a word or two per line,
    or runs it off the screen, without the page scrolling sideways."""
    page.set_viewport_size(PHONE)
    seen, squeezed = 0, {}
    for path in NAV_PAGES:
        page.goto(live_ui.url + path)
        settle(page)
        labels = page.evaluate(CHECKBOX_LABELS)
        seen += len(labels)
        bad = [text for text, lines, right in labels if lines > 2 or right > PHONE["width"]]
        if bad:
            squeezed[path] = bad
    assert seen >= 3  # the check sees checkboxes at all (Export has two, Leaderboard one)
    assert squeezed == {}


# The header texts of every table in view.
TABLE_HEADERS = """() => [...document.querySelectorAll('table')]
    .filter(t => t.offsetParent !== null)
    .map(t => [...t.querySelectorAll('thead th')].map(h => h.innerText.trim()).join(' '))"""


def test_no_page_shows_an_empty_table_headed_1_2_3(live_ui: LiveServer, page: Page) -> None:
    """Gradio heads a table given no columns "1 2 3": on an empty store every page either
    names its columns or hides the table until it has something to list."""
    page.set_viewport_size(DESKTOP)
    seen = {}
    for path in NAV_PAGES:
        page.goto(live_ui.url + path)
        settle(page)
        seen[path] = page.evaluate(TABLE_HEADERS)
    assert any(seen.values())  # the check sees tables at all
    assert {p: h for p, h in seen.items() if any(x.split() == ["1", "2", "3"] for x in h)} == {}


def test_the_prompt_box_is_in_a_phones_first_screen(live_ui: LiveServer, page: Page) -> None:
    page.set_viewport_size(PHONE)
    page.goto(live_ui.url)
    prompt = page.locator("#arena-prompt textarea")
    expect(prompt).to_be_visible(timeout=15_000)
    box = prompt.bounding_box()
    send = page.locator("#arena-send").bounding_box()
    assert box is not None and send is not None
    assert box["y"] + box["height"] <= PHONE["height"]
    assert send["y"] + send["height"] <= PHONE["height"]


def history(page: Page, url: str, rater: str = "ann") -> None:
    page.set_viewport_size(DESKTOP)
    page.goto(url)
    settle(page)
    page.fill("#rater input, #rater textarea", rater)
    page.get_by_role("tab", name="History").click()


def cell(page: Page, text: str) -> Locator:
    """A visible cell of History's table (the table also keeps hidden copies of its rows
    to size its columns)."""
    return page.locator("#history-table [role=gridcell]").filter(has_text=text).first


def test_history_shows_every_column_whole_at_1400(live_ui: LiveServer, page: Page) -> None:
    url = live_ui.url
    long_prompt = "Tell me everything about the tides of the North Sea " * 3
    turn = compare(url, long_prompt, ["alpha", "beta"])
    vote(url, turn, "both_bad")
    history(page, url)
    table = page.locator("#history-table")
    expect(table).to_contain_text(turn, timeout=15_000)
    frame = table.bounding_box()
    assert frame is not None
    right = frame["x"] + frame["width"]
    for text in (turn, "both bad", "vote", "turn id"):
        cell = table.get_by_text(text, exact=True).first
        box = cell.bounding_box()
        assert box is not None and box["x"] + box["width"] <= right + 1, text
        # not clipped inside its cell either
        assert cell.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), text


def test_history_detail_shows_rubric_scores(live_ui: LiveServer, page: Page) -> None:
    url = live_ui.url
    turn = compare(url, "What is the capital of France?", ["alpha", "beta"])
    vote(url, turn, "a")
    labels = {
        "ratings": [
            {"pane": 0, "helpfulness": 5, "honesty": 4, "harmlessness": 5},
            {"pane": 1, "helpfulness": 2},
        ],
        "on_behalf_of": "ann",
    }
    r = httpx.post(f"{url}/api/turns/{turn}/labels", json=labels)
    assert r.status_code == 201, r.text
    history(page, url)
    cell(page, "capital of France").click()
    detail = page.locator("#history-detail")
    expect(detail).to_contain_text("rubric by ann: helpfulness 5 · honesty 4 · harmlessness 5")
    expect(detail).to_contain_text("rubric by ann: helpfulness 2 · honesty — · harmlessness —")


def test_history_detail_follows_the_search(live_ui: LiveServer, page: Page) -> None:
    url = live_ui.url
    vote(url, compare(url, "about tides", ["alpha", "beta"]), "a")
    vote(url, compare(url, "about volcanoes", ["alpha", "beta"]), "b")
    history(page, url)
    cell(page, "about tides").click()
    detail = page.locator("#history-detail")
    expect(detail).to_contain_text("about tides", timeout=15_000)
    page.fill("#history-query input, #history-query textarea", "volcanoes")
    page.click("#history-search")
    expect(page.locator("#history-table")).not_to_contain_text("about tides", timeout=15_000)
    expect(detail).not_to_contain_text("about tides")
    expect(detail).to_contain_text("Select a row")
    page.fill("#history-query input, #history-query textarea", "nothing like this")
    page.click("#history-search")
    expect(detail).to_contain_text("No turn matches this search.", timeout=15_000)


def test_leaderboard_says_when_votes_are_few(live_ui: LiveServer, page: Page) -> None:
    url = live_ui.url
    for winner in ("a", "a", "b", "a", "a"):
        vote(url, compare(url, "Which is best?", ["alpha", "beta"]), winner)
    page.set_viewport_size(DESKTOP)
    page.goto(url + "/leaderboard")
    note = page.locator("#lb-note")
    expect(note).to_contain_text("5 battles", timeout=30_000)
    expect(note).to_contain_text("Few votes: ratings are rough.")
    expect(note).to_contain_text(f"Fewer than {FEW_BATTLES} battles: alpha, beta")
    expect(page.locator("#lb-rating-vs-elo")).to_contain_text("Bradley-Terry fitted on all votes")
    expect(page.locator("#lb-rating-vs-elo")).to_contain_text("online")
    # ratings stay near 1000 on five votes
    ratings = page.locator("#lb-preference [role=row] [role=gridcell]:nth-child(3)")
    shown = [int(x) for x in ratings.all_inner_texts() if x.strip().lstrip("-").isdigit()]
    assert shown and all(800 < r < 1200 for r in shown), shown


def test_the_win_rate_map_is_titled_above_it_not_over_it_on_a_phone(
    live_ui: LiveServer, page: Page
) -> None:
    """The map's title was the image's label, which floats over the image: on a phone its
    two lines hid the map's first row."""
    url = live_ui.url
    for winner in ("a", "b", "tie"):
        vote(url, compare(url, "Which is best?", ["alpha", "beta"]), winner)
    page.set_viewport_size(PHONE)
    page.goto(url + "/leaderboard")
    image = page.locator("#lb-heat img")
    expect(image).to_be_visible(timeout=30_000)
    title = page.locator("#lb-heat-title")
    expect(title).to_contain_text("Win rates (row against column, ties count half)")
    picture, heading = image.bounding_box(), title.bounding_box()
    assert picture is not None and heading is not None
    assert heading["y"] + heading["height"] <= picture["y"] + 1
    covering = page.locator("#lb-heat label").evaluate_all(
        """(labels, img) => labels.filter(l => l.offsetParent !== null).map(l => {
             const a = l.getBoundingClientRect();
             return a.bottom > img.y && a.top < img.y + img.height;
           }).filter(Boolean).length""",
        picture,
    )
    assert covering == 0


def send_on_the_page(page: Page, prefix: str, prompt: str) -> None:
    page.fill(f"#{prefix}-prompt textarea", prompt)
    page.click(f"#{prefix}-send")
    expect(page.locator(f"#{prefix}-vote-tie")).to_be_enabled(timeout=30_000)


def test_a_panes_title_sits_above_its_answers(live_ui: LiveServer, page: Page) -> None:
    page.set_viewport_size(DESKTOP)
    page.goto(live_ui.url)
    send_on_the_page(page, "arena", "Tell me a story")
    for pane in (0, 1):
        chat = page.locator(f"#arena-chat-{pane}")
        title = chat.locator("label.block-label, [data-testid='block-label']").first.bounding_box()
        answers = chat.locator(".bubble-wrap").first.bounding_box()
        assert title is not None and answers is not None
        # The answers scroll inside their frame: the title must not lie over it.
        assert title["y"] + title["height"] <= answers["y"] + 1


def test_the_page_keeps_its_width_with_or_without_a_scroll_bar(
    live_ui: LiveServer, browser: Browser
) -> None:
    """Playwright's Chromium hides scroll bars; people's browsers show them, and a page
    tall enough to need one was 15 px narrower than a short one (Arena, then History)."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    with_bars = browser.browser_type.launch(
        executable_path=executable,
        headless=True,
        args=["--no-sandbox"],
        ignore_default_args=["--hide-scrollbars"],
    )
    try:
        page = with_bars.new_page(viewport=DESKTOP)
        lefts = {}
        for where in ("/", "History", "/export", "/leaderboard"):
            if where.startswith("/"):
                page.goto(live_ui.url + where)
                settle(page)
            else:  # a tab of the page just measured
                page.get_by_role("tab", name=where).click()
                page.wait_for_timeout(1000)
            lefts[where] = page.evaluate(
                "[Math.round(document.querySelector('.gradio-container')"
                ".getBoundingClientRect().left), document.documentElement.scrollHeight]"
            )
        tall = [w for w, (_, height) in lefts.items() if height > DESKTOP["height"]]
        short = [w for w, (_, height) in lefts.items() if height <= DESKTOP["height"]]
        assert tall and short, lefts  # the check compares both kinds
        assert len({left for left, _ in lefts.values()}) == 1, lefts
    finally:
        with_bars.close()


def test_the_rubrics_confirmation_shows_beside_its_button(live_ui: LiveServer, page: Page) -> None:
    page.set_viewport_size(DESKTOP)
    page.goto(live_ui.url)
    page.fill("#rater input, #rater textarea", "ann")
    send_on_the_page(page, "arena", "What is the capital of France?")
    page.click("#arena-vote-a")
    expect(page.locator("#arena-save-labels")).to_be_visible(timeout=10_000)
    page.locator("#arena-helpfulness-0 label").filter(has_text="4").click()
    page.click("#arena-save-labels")
    saved = page.locator("#arena-saved")
    expect(saved).to_contain_text("Saved 1 rating(s)", timeout=10_000)
    button = page.locator("#arena-save-labels").bounding_box()
    said = saved.bounding_box()
    assert button is not None and said is not None
    assert abs((said["y"] + said["height"] / 2) - (button["y"] + button["height"] / 2)) < 40
    assert said["x"] >= button["x"] + button["width"] - 1  # to its right, on its line


def test_three_panes_are_ranked_and_the_sources_open_in_words(
    live_ui: LiveServer, page: Page, scripts: dict[str, Script]
) -> None:
    library = live_ui.runtime.library
    library.create_collection("docs")
    library.ingest("docs", "pier.txt", b"The north pier opens at six sharp.")
    library.ingest("docs", "museum.txt", b"The museum is closed on Mondays.")
    for script in scripts.values():
        script.tokens = ["Six", " o'clock [1]."]
    page.set_viewport_size(DESKTOP)
    page.goto(live_ui.url)
    settle(page)
    page.get_by_role("tab", name="Side by side").click()
    picker = page.locator("#named-variants input")
    for name in ("alpha", "beta", "gamma"):
        picker.fill(name)
        picker.press("Enter")
    page.locator("#named-rag input").check()
    collection = page.locator("#named-collection input")
    collection.fill("docs")
    collection.press("Enter")
    send_on_the_page(page, "named", "When does the pier open?")
    expect(page.locator("#named-status")).to_contain_text("Rank the answers")
    expect(page.locator("#named-status")).not_to_contain_text("Vote for the better answer")
    sources = page.locator("#named-context")
    expect(sources).to_be_visible()  # the panel opened by itself
    expect(sources).to_contain_text("pier.txt")
    expect(sources).to_contain_text("Most relevant first")
    assert "score" not in sources.inner_text()


# Words of the table headers in view wider than the box they sit in: such a word is broken
# across lines (or cut). Measured with the text's own font on a canvas.
BROKEN_HEADER_WORDS = """() => {
  const ctx = document.createElement('canvas').getContext('2d');
  const broken = [];
  for (const table of document.querySelectorAll('table')) {
    if (table.offsetParent === null) continue;
    for (const th of table.querySelectorAll('thead th')) {
      const walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const box = node.parentElement;
        const width = box.getBoundingClientRect().width;
        if (width === 0) continue;  // a hidden copy
        ctx.font = getComputedStyle(box).font;
        for (const word of node.textContent.split(/\\s+/).filter(Boolean)) {
          if (ctx.measureText(word).width > width + 1) broken.push(word);
        }
      }
    }
  }
  return broken;
}"""


def test_no_table_header_breaks_a_word_on_a_phone(live_ui: LiveServer, page: Page) -> None:
    """A narrow column broke its header inside words ("st/at/us", "ans/wer/s"): on a phone
    a header wraps between words only, and the table scrolls sideways in its own box."""
    page.set_viewport_size(PHONE)
    seen, broken = 0, {}
    for path in NAV_PAGES:
        page.goto(live_ui.url + path)
        settle(page)
        seen += len(page.evaluate(TABLE_HEADERS))
        if words := page.evaluate(BROKEN_HEADER_WORDS):
            broken[path] = words
    assert seen >= 3  # the check sees tables at all
    assert broken == {}


# Upload boxes whose label covers the "Drop File Here" text (a label floats over its box).
COVERED_DROP_TEXTS = """() => {
  const covered = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.textContent.includes('Drop File Here')) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const b = [...range.getClientRects()].find(r => r.width > 0);
    const block = node.parentElement.closest('.block');
    const label = block && block.querySelector('label');
    if (!b || !label || label.offsetParent === null) continue;
    const a = label.getBoundingClientRect();
    const overlap = a.bottom > b.top + 1 && b.bottom > a.top + 1
      && a.right > b.left + 1 && b.right > a.left + 1;
    if (overlap) covered.push(label.innerText.trim());
  }
  return covered;
}"""


def test_no_upload_label_covers_its_drop_text_on_a_phone(live_ui: LiveServer, page: Page) -> None:
    """An upload box's label floats over the box: on a phone a long label wraps to three
    lines and hid "Drop File Here" (Campaign's prompts file)."""
    page.set_viewport_size(PHONE)
    seen, covered = 0, {}
    for path in NAV_PAGES:
        page.goto(live_ui.url + path)
        settle(page)
        seen += page.get_by_text("Drop File Here").count()
        if labels := page.evaluate(COVERED_DROP_TEXTS):
            covered[path] = labels
    assert seen >= 3  # Documents, Campaign and Evaluations have upload boxes
    assert covered == {}
