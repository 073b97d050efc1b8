"""End to end in a real browser: Playwright drives Debian's Chromium against the real server
(`python -m service serve`) with the bundled local model — no fakes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from tests.support.processes import arbiter_process

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
VARIANT_PREFIX = "smollm2-"  # both bundled variants' names start with this


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    home = tmp_path_factory.mktemp("e2e")
    with arbiter_process(home) as url:
        yield url, home / "arbiter.db"


def votes(db: Path) -> list[tuple[str, str]]:
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT outcome, rater FROM votes ORDER BY created_at")).all()
    engine.dispose()
    return [(r[0], r[1]) for r in rows]


def test_blind_battle_streams_votes_and_reveals(server: tuple[str, Path], page: Page) -> None:
    url, db = server
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(url)
    page.fill("#rater input, #rater textarea", "e2e-rater")
    page.fill("#arena-prompt textarea", "What is the capital of France?")
    page.press("#arena-prompt textarea", "Enter")  # as people send: the keyboard
    # Both answers stream: text is visible while voting is still closed.
    page.wait_for_function(
        """() => {
            const texts = [0, 1].map(i => document.querySelector(`#arena-chat-${i} [data-testid="bot"]`)?.innerText ?? "");
            return texts.some(t => t.trim().length > 0) && document.querySelector('#arena-vote-a').disabled;
        }""",
        timeout=60_000,
    )
    expect(page.locator("#arena-vote-a")).to_be_enabled(timeout=90_000)
    for i in (0, 1):
        assert page.locator(f'#arena-chat-{i} [data-testid="bot"]').inner_text().strip()
    # Anonymity: no variant name anywhere in the DOM before the vote.
    assert VARIANT_PREFIX not in page.content()
    assert votes(db) == []

    page.click("#arena-vote-a")
    expect(page.locator("#arena-status")).to_contain_text("You preferred", timeout=10_000)
    expect(page.locator("#arena-footer-0")).to_contain_text(VARIANT_PREFIX)
    expect(page.locator("#arena-footer-0")).to_contain_text("first token")
    assert votes(db) == [("a", "e2e-rater")]
    # Prompts, answers and revealed names stay out of the browser's storage (Gradio's
    # run history would keep every call there).
    stored = page.evaluate(
        "JSON.stringify({...window.localStorage}) + JSON.stringify({...window.sessionStorage})"
    )
    assert "capital of france" not in stored.lower() and VARIANT_PREFIX not in stored
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "arena-after-vote.png"), full_page=True)


def test_empty_prompt_warns_and_stores_nothing(server: tuple[str, Path], page: Page) -> None:
    url, db = server
    before = votes(db)
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        turns_before = conn.execute(sa.text("SELECT count(*) FROM turns")).scalar()
    page.goto(url)
    page.click("#arena-send")
    expect(page.get_by_text("Type a prompt first.")).to_be_visible(timeout=10_000)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM turns")).scalar() == turns_before
    engine.dispose()
    assert votes(db) == before


def test_phone_width_keeps_both_panes_readable(server: tuple[str, Path], page: Page) -> None:
    url, _ = server
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(url)
    a = page.locator("#arena-chat-0").bounding_box()
    b = page.locator("#arena-chat-1").bounding_box()
    assert a is not None and b is not None
    # Panes stack instead of squeezing: each uses most of the width.
    assert a["width"] > 300 and b["width"] > 300
    assert b["y"] > a["y"]
    # Nothing (such as the row of tab buttons) makes the page wider than the phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_rag_in_the_side_by_side_view_and_the_documents_tab(
    server: tuple[str, Path], page: Page
) -> None:
    url, db = server
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(url)
    # Every page is in the navigation bar. The bundled corpus was ingested at start-up; the
    # Documents page lists it.
    navbar = page.locator("nav")
    for name in ("Compare", "Documents", "Campaign", "Dashboard", "Leaderboard", "Use cases"):
        expect(navbar).to_contain_text(name)
    navbar.get_by_role("link", name="Documents").click()
    expect(page).to_have_url(url + "/documents")
    expect(page.locator("#docs-summary")).to_contain_text("8 documents", timeout=15_000)
    expect(page.locator("#docs-table")).to_contain_text("returns.md")
    page.locator("#docs-search-panel").click()
    page.fill("#docs-query textarea", "How many days do I have to return a bike?")
    page.click("#docs-search")
    expect(page.locator("#docs-results")).to_contain_text("returns.md", timeout=15_000)

    # RAG on versus RAG off on the same model, side by side. The rater's page carries no
    # other page's components (each one mounted would slow every answer's first token).
    page.goto(url)
    expect(page.locator("#arena-prompt")).to_have_count(1)
    expect(page.locator("#docs-summary")).to_have_count(0)
    page.get_by_role("tab", name="Side by side").click()
    picker = page.locator("#named-variants input")
    for name in ("smollm2-concise", "smollm2-concise-no-docs"):
        picker.fill(name)
        picker.press("Enter")
    page.locator("#named-rag input").check()
    page.fill("#named-prompt textarea", "How many days do I have to return a bike?")
    page.click("#named-send")
    expect(page.locator("#named-vote-a")).to_be_enabled(timeout=120_000)
    # The sources panel opened by itself: the turn has sources.
    expect(page.locator("#named-context")).to_be_visible()
    expect(page.locator("#named-context")).to_contain_text("[1]")
    expect(page.locator("#named-context")).to_contain_text("returns.md")
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        turn_id, retrieval = conn.execute(
            sa.text("SELECT id, retrieval FROM turns ORDER BY created_at DESC LIMIT 1")
        ).one()
        refs = (
            conn.execute(
                sa.text("SELECT context_refs FROM answers WHERE turn_id = :t ORDER BY pane"),
                {"t": turn_id},
            )
            .scalars()
            .all()
        )
    engine.dispose()
    chunks = json.loads(retrieval)["chunks"]
    assert chunks and chunks[0]["source"] == "sample_corpus/returns.md"
    assert [json.loads(r) for r in refs] == [[c["ref"] for c in chunks], []]
    # Automatic scores arrive in the background and show under each answer.
    with_docs, no_docs = page.locator("#named-footer-0"), page.locator("#named-footer-1")
    expect(with_docs).to_contain_text("answer_relevancy", timeout=60_000)
    expect(with_docs).to_contain_text("faithfulness")
    expect(no_docs).to_contain_text("answer_relevancy", timeout=60_000)
    expect(no_docs).not_to_contain_text("faithfulness")  # it was given no context
    # Thumbs up on pane A's answer is stored as feedback on that answer.
    page.locator("#named-chat-0 button[aria-label='Like']").last.click()
    engine = sa.create_engine(f"sqlite:///{db}")
    deadline = time.monotonic() + 15
    rows: list[Any] = []
    while not rows and time.monotonic() < deadline:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT variant_name, positive FROM feedback")).all()
        time.sleep(0.2)
    engine.dispose()
    assert [(r[0], bool(r[1])) for r in rows] == [("smollm2-concise", True)]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "rag-side-by-side.png"), full_page=True)
