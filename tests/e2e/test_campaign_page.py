"""Issue 21, item 4: the Campaign page is no dead end. In a real browser against a live server
with people signed in (keys mode): a rater with nothing open is told what happens next; an
admin creates a campaign on the page (prompts pasted and from a file, variants ticked,
raters per item), with bad input refused in words that say what to do and nothing typed
lost; a rater then works through it (an item, a vote, the next item, done), the vote
buttons usable only while an item is shown. Who created it and whose votes they are come
from the sign-in, whatever the name box says."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from service.access.people import set_password
from service.labels.reviews import set_rater
from service.store import Store, audit_log
from service.store.tables import VoteRow
from tests.fakes.script import Script
from tests.support.auth import ADMIN, secured
from tests.support.fixtures import LiveServer
from tests.support.page_shots import check_screens

PASSWORDS = {"ada": "ada-password", "root": "root-password"}
VOTE_BUTTONS = ["#campaign-vote-a", "#campaign-vote-b", "#campaign-vote-tie"]


@pytest.fixture
def server(
    store: Store, variants_file: Path, scripts: dict[str, Script], tmp_path: Path
) -> Iterator[LiveServer]:
    runtime = secured(store, variants_file, scripts, tmp_path, auth="keys", admin_key=ADMIN)
    for name, role in (("ada", "rater"), ("root", "admin")):
        set_rater(store, name, role)  # type: ignore[arg-type]
        set_password(store, name, PASSWORDS[name])
    with LiveServer(runtime, with_ui=True) as live:
        yield live


def open_as(browser: Browser, url: str, name: str) -> Page:
    """A new browser session signed in as `name`, on the Campaign page."""
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.goto(url)
    page.fill("input[name=username], #username, input[type=text]", name)
    page.fill("input[type=password]", PASSWORDS[name])
    page.keyboard.press("Enter")
    expect(page.locator("#rater input, #rater textarea")).to_have_value(name, timeout=30_000)
    page.goto(f"{url}/campaign")
    return page


def create(page: Page) -> None:
    page.click("#campaign-create")


def created(page: Page) -> str:
    return page.locator("#campaign-created").inner_text()


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_a_campaign_created_on_the_page_is_worked_through_by_a_rater(
    server: LiveServer, browser: Browser, tmp_path: Path
) -> None:
    url, store = server.url, server.runtime.store

    # A rater with no campaign: what happens next, and no form to create one.
    ada = open_as(browser, url, "ada")
    expect(ada.locator("#campaign-empty")).to_contain_text("No campaign is open to you yet")
    expect(ada.locator("#campaign-create")).to_be_hidden()
    for button in VOTE_BUTTONS:
        expect(ada.locator(button)).to_be_disabled()
    ada.click("#campaign-next")
    expect(ada.locator("#campaign-item")).to_contain_text("Choose a campaign first")

    # An admin: the empty state says how, and the form is open.
    root = open_as(browser, url, "root")
    expect(root.locator("#campaign-empty")).to_contain_text("No campaign yet")
    expect(root.locator("#campaign-empty")).to_contain_text("Create campaign")
    check_screens(root, "campaign-empty")

    # Bad input: refused with the reason and the next step; nothing typed is lost.
    create(root)
    expect(root.locator("#campaign-created")).to_contain_text("needs a name")
    root.fill("#campaign-new textarea, #campaign-new input", "colours")
    root.get_by_label("alpha").check()
    create(root)
    expect(root.locator("#campaign-created")).to_contain_text("2 to 4 variants")
    root.get_by_label("beta").check()
    create(root)
    expect(root.locator("#campaign-created")).to_contain_text("at least one prompt")
    assert "one prompt per line" in created(root)
    broken = tmp_path / "prompts.jsonl"
    broken.write_text('{"prompt": "Name a city."}\n{"prompt": \n')
    root.fill("#campaign-prompts textarea", "Name a colour.\n\nName a fruit.")
    root.set_input_files("#campaign-file input[type=file]", str(broken))
    create(root)
    expect(root.locator("#campaign-created")).to_contain_text("line 2: not valid JSON")
    assert ".txt file with one prompt per line" in created(root)
    assert root.locator("#campaign-new textarea, #campaign-new input").input_value() == "colours"
    assert root.locator("#campaign-prompts textarea").input_value().startswith("Name a colour.")
    assert root.get_by_label("alpha").is_checked() and root.get_by_label("beta").is_checked()
    assert audit_log.events(store, action="campaign.create") == []

    # Prompts pasted and from a file, 2 variants, one rater per item.
    good = tmp_path / "more.txt"
    good.write_text("Name a city.\n")
    root.click("#campaign-file button[aria-label='Clear']")
    root.set_input_files("#campaign-file input[type=file]", str(good))
    root.fill("#campaign-per-item input", "1")
    create(root)
    expect(root.locator("#campaign-created")).to_contain_text(
        "Created campaign colours with 3 items", timeout=20_000
    )
    expect(root.locator("#campaign-empty")).to_have_text("")
    [event] = audit_log.events(store, action="campaign.create")
    assert event["actor"] == "root" and event["target"] == "colours"

    # The rater works through it: item, vote, next item, done.
    ada.reload()
    expect(ada.locator("#campaign-name input")).to_have_value("colours", timeout=20_000)
    expect(ada.locator("#campaign-empty")).to_have_text("")
    seen = []
    for _ in range(3):
        item = ada.locator("#campaign-item")
        for _attempt in range(20):  # the answers are generated in the background
            if seen:  # after a vote the next item comes by itself
                break
            ada.click("#campaign-next")
            expect(item).to_contain_text(re.compile("Item|still being generated"), timeout=20_000)
            if "Item" in item.inner_text():
                break
            ada.wait_for_timeout(500)
        expect(item).to_contain_text("Prompt", timeout=20_000)
        text = item.inner_text()
        prompt = next(p for p in ("colour", "fruit", "city") if p in text)
        assert prompt not in seen
        seen.append(prompt)
        assert "alpha" not in text and "beta" not in text  # blind
        if not seen[1:]:
            check_screens(ada, "campaign-item")
        for button in VOTE_BUTTONS:
            expect(ada.locator(button)).to_be_enabled()
        ada.click("#campaign-vote-a")
        expect(item).not_to_contain_text(prompt, timeout=20_000)
    expect(ada.locator("#campaign-item")).to_contain_text("Nothing left for you")
    expect(ada.locator("#campaign-item")).to_contain_text("3/3 items complete")
    for button in VOTE_BUTTONS:
        expect(ada.locator(button)).to_be_disabled()
    with store.session() as s:
        raters = list(s.scalars(select(VoteRow.rater)))
    assert raters == ["ada"] * 3
    check_screens(ada, "campaign-done")
