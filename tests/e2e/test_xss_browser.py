"""Stored XSS, checked in the real browser: markup planted in a model's answer, a prompt, a
comment, an ideal answer, a document's name, a variant's description and a use case's
description is shown as text and never runs. (Variant and use case *names* cannot hold
markup at all: they are refused.) Also: path traversal through the page's export."""

from __future__ import annotations

import glob
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from service.app.runtime import Runtime
from service.errors import InvalidRequest
from service.labels.exports import ExportOptions, export
from tests.fakes.script import Script
from tests.support.fixtures import LiveServer
from tests.support.gradio import page_client


def payload(where: str) -> str:
    return f"<img src=x onerror=\"window.__xss=(window.__xss||[]).concat('{where}')\">"


def ran(page: Page) -> list[str]:
    """Payloads that executed, in the page and in every frame (the report's iframe)."""
    out: list[str] = []
    for frame in page.frames:
        out += frame.evaluate("() => window.__xss || []")
    return out


def planted_elements(page: Page) -> int:
    """Live elements made from the payloads: event-handler attributes, or scripts carrying
    them (Gradio's own inline scripts are not ours)."""
    js = """() => document.querySelectorAll('[onerror],[onload]').length +
        Array.from(document.scripts).filter(s => s.text.includes('__xss')).length"""
    return sum(frame.evaluate(js) for frame in page.frames)


def test_planted_markup_is_inert_in_the_page(
    runtime: Runtime, scripts: dict[str, Script], live_ui: LiveServer, page: Page
) -> None:
    url = live_ui.url
    scripts["alpha"].tokens = [
        payload("answer"),
        " and ",
        "<script>window.__xss=['script']</script>",
    ]
    turn = httpx.post(
        f"{url}/api/compare",
        json={
            "prompt": "hi " + payload("prompt"),
            "variants": ["alpha", "beta"],
            "on_behalf_of": "xss",
        },
        timeout=30,
    ).json()
    httpx.post(
        f"{url}/api/turns/{turn['id']}/votes", json={"outcome": "a", "on_behalf_of": "xss"}
    ).raise_for_status()
    httpx.post(
        f"{url}/api/turns/{turn['id']}/labels",
        json={
            "on_behalf_of": "xss",
            "comment": payload("comment"),
            "ideal_answer": payload("ideal"),
        },
    ).raise_for_status()
    named = httpx.post(
        f"{url}/api/variants",
        json={
            "name": "<b>x</b>",
            "model": {"provider": "openai", "base_url": "http://x/v1", "model": "m"},
        },
    )
    assert named.status_code == 422  # a variant's name cannot hold markup
    httpx.post(
        f"{url}/api/variants",
        json={
            "name": "delta",
            "description": payload("variant"),
            "model": {"provider": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m"},
        },
    ).raise_for_status()
    upload = httpx.post(
        f"{url}/api/collections/xss/documents",
        params={"create": True},
        files=[("files", (payload("document") + ".txt", b"Badges are at reception."))],
        timeout=60,
    )
    assert upload.status_code == 200 and upload.json()[0]["status"] == "added", upload.text
    httpx.put(
        f"{url}/api/usecases/xss-case",
        json={
            "variants": ["alpha", "beta"],
            "description": payload("usecase"),
            "targets": ["error_rate <= 0.5"],
            "min_samples": 2,
        },
    ).raise_for_status()

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(url)
    page.fill("#rater input, #rater textarea", "xss")

    # A live answer streaming with markup in it.
    page.get_by_role("tab", name="Side by side").click()
    picker = page.locator("#named-variants input")
    for name in ("alpha", "beta"):
        picker.fill(name)
        picker.press("Enter")
    page.fill("#named-prompt textarea", "say it")
    page.click("#named-send")
    expect(page.locator("#named-vote-a")).to_be_enabled(timeout=30_000)
    expect(page.locator("#named-chat-0")).to_contain_text("and")

    # The stored turn, with its comment and ideal answer, in History.
    page.get_by_role("tab", name="History").click()
    page.fill("#history-query textarea, #history-query input", "onerror")
    page.click("#history-search")
    expect(page.locator("#history-table")).to_contain_text("hi <img", timeout=15_000)
    page.locator("#history-table :text-is('A better'):visible").first.click()
    detail = page.locator("#history-detail")
    expect(detail).to_contain_text("onerror=", timeout=15_000)  # shown as text
    expect(detail).to_contain_text("Comment by xss")
    expect(detail).to_contain_text("Ideal answer by xss")

    # The document's name on the Documents page.
    page.goto(url + "/documents")
    page.locator("#docs-collection input").fill("xss")
    page.locator("#docs-collection input").press("Enter")
    expect(page.locator("#docs-table")).to_contain_text("onerror=", timeout=15_000)

    # The use case (and its report, in an iframe).
    page.goto(url + "/usecases")
    # Opening the page selects the first use case (the only one here).
    expect(page.locator("#uc-name input")).to_have_value("xss-case", timeout=15_000)
    page.locator("#uc-name input").fill("xss-case")
    page.locator("#uc-name input").press("Enter")
    page.click("#uc-show")
    expect(page.locator("#uc-summary")).to_contain_text("Window", timeout=15_000)
    report = page.frame_locator("#uc-report iframe")
    expect(report.locator("body")).to_contain_text("onerror=", timeout=15_000)

    assert ran(page) == []
    assert planted_elements(page) == 0


def test_exports_refuse_path_traversal(
    runtime: Runtime, live_ui: LiveServer, tmp_path: Path
) -> None:
    from gradio_client.exceptions import AppError

    client = page_client(live_ui.url)
    for fmt, suffix in (
        ("trl-preference", "/../../../../tmp/arbiter-evil"),
        ("../../arbiter-evil", ".jsonl"),
    ):
        with pytest.raises(AppError, match="not in the list of choices"):
            client.predict(fmt, suffix, "all", 0, False, True, api_name="/export")
    with pytest.raises(InvalidRequest, match=r"refusing a path with '\.\.'"):
        export(runtime.store, ExportOptions("trl-preference"), str(tmp_path / ".." / "evil.jsonl"))
    assert not glob.glob("/tmp/arbiter-evil*") and not (tmp_path.parent / "evil.jsonl").exists()
