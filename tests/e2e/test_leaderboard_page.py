"""The Leaderboard page in the real browser: Bradley-Terry on opening, online Elo only once
its box is ticked (it replays every vote), the same numbers as the API."""

from __future__ import annotations

import httpx
from playwright.sync_api import Locator, Page, expect

from tests.support.fixtures import LiveServer


def _vote(url: str, variants: list[str], outcome: str) -> None:
    turn = httpx.post(
        f"{url}/api/compare", json={"prompt": "Which is best?", "variants": variants}, timeout=30
    ).json()
    r = httpx.post(f"{url}/api/turns/{turn['id']}/votes", json={"outcome": outcome}, timeout=30)
    assert r.status_code in (200, 201), r.text


def _alpha_row(page: Page) -> Locator:
    return page.locator("#lb-preference [role=row]").filter(has_text="alpha").first


def _cells(row: Locator) -> list[str]:
    return [c.strip() for c in row.locator("[role=gridcell]").all_inner_texts()]


def test_elo_appears_when_its_box_is_ticked(live_ui: LiveServer, page: Page) -> None:
    url = live_ui.url
    for winner in ("a", "a", "b", "a"):
        _vote(url, ["alpha", "beta"], winner)
    api = httpx.get(f"{url}/api/leaderboard", params={"elo": "true"}, timeout=30).json()
    alpha_elo = round(next(r["elo"] for r in api["rows"] if r["variant"] == "alpha"))

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(url + "/leaderboard")
    expect(page.locator("#lb-note")).to_contain_text("4 battles", timeout=30_000)
    before = _cells(_alpha_row(page))
    assert len(before) == 7 and before[1] == "alpha" and before[6] == ""  # no Elo yet
    page.locator("#lb-elo input").check()
    expect(_alpha_row(page).locator("[role=gridcell]").nth(6)).to_have_text(
        str(alpha_elo), timeout=30_000
    )
    after = _cells(_alpha_row(page))
    assert after[:6] == before[:6]  # Bradley-Terry, CIs and counts do not change
