"""Screenshots of a page at a desktop and a phone width (test-artifacts/), and the check
that the phone width needs no horizontal scrolling."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SIZES = {"desktop": (1400, 900), "phone": (390, 844)}


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the window (0: no horizontal scroll)."""
    return int(
        page.evaluate(
            "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
            " - window.innerWidth"
        )
    )


def check_screens(page: Page, name: str) -> list[Path]:
    """Take `name`-desktop.png and `name`-phone.png; fails if the phone width scrolls
    sideways. Leaves the page at its first size."""
    ARTIFACTS.mkdir(exist_ok=True)
    before = page.viewport_size
    taken = []
    for label, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(300)  # the layout settles
        path = ARTIFACTS / f"{name}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        taken.append(path)
        if label == "phone":
            assert horizontal_overflow(page) <= 0, f"{name}: scrolls sideways at {width} px"
    if before is not None:
        page.set_viewport_size(before)
    return taken
