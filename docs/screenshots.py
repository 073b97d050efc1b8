"""Screenshots of every page in the navigation bar, at a desktop width (1400x900) and a phone
width (390x844), into docs/screenshots/ (`arena-1400.png`, `arena-390.png`, ...).

    .venv/bin/python docs/screenshots.py [--full-page] [--out DIR] [--lang zh-CN]

It starts a real server (`python -m service serve`) in a temporary folder, so on a fresh
SQLite store with the bundled local model and the bundled sample documents, puts a few
prompts to the default variants and votes on them through the HTTP API (a minute or two on
two cores: the local model answers them), then has headless Chromium open each page and
wait for what it loads before taking its picture. Nothing outside the temporary folder and
the output folder is touched; the server is stopped at the end."""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

from ui.i18n import EN, ZH_CN

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
SIZES = {1400: 900, 390: 844}  # width: height
# (file name, path, the i18n key of the tab to click on the rater's page or None, element
# to wait for)
PAGES = [
    ("arena", "/", None, "#arena-prompt"),
    ("side-by-side", "/", "tab.named", "#named-prompt"),
    ("history", "/", "tab.history", "#history-table"),
    ("documents", "/documents", None, "#docs-table"),
    ("campaign", "/campaign", None, "nav"),
    ("dashboard", "/dashboard", None, "nav"),
    ("leaderboard", "/leaderboard", None, "#lb-preference"),
    ("export", "/export", None, "nav"),
    ("evaluations", "/evaluations", None, "nav"),
    ("usecases", "/usecases", None, "nav"),
    ("tuning", "/tuning", None, "nav"),
    ("models", "/models", None, "nav"),
]
# (prompt, variants, outcome): sample votes, so that the leaderboard, the dashboard and
# History have something to show.
SAMPLE = [
    ("What is the capital of France?", ["smollm2-concise", "smollm2-creative"], "a"),
    ("Name three primary colours.", ["smollm2-creative", "smollm2-concise"], "b"),
    (
        "How many days do I have to return a bike?",
        ["smollm2-concise", "smollm2-concise-no-docs"],
        "a",
    ),
    ("Say hello in Spanish.", ["smollm2-concise-no-docs", "smollm2-creative"], "tie"),
    ("What is 2 + 2?", ["smollm2-concise", "smollm2-creative"], "a"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(home: Path) -> Iterator[str]:
    """`python -m service serve` in `home`, until /healthz answers; stopped afterwards."""
    port = free_port()
    env = {
        **os.environ,
        "ARBITER_HOME": str(home),
        "ARBITER_PORT": str(port),
        "ARBITER_LOG_LEVEL": "warning",
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    log = (home / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "service", "serve"],
        cwd=home,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600  # the first start ingests the sample documents
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not start:\n{(home / 'serve.log').read_text()}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def sample_votes(url: str) -> None:
    """A few answered prompts with votes, and a rubric rating on the first."""
    for n, (prompt, variants, outcome) in enumerate(SAMPLE):
        print(f"  prompt {n + 1}/{len(SAMPLE)}: {prompt}", flush=True)
        # As the page's default rater, so that History lists them too.
        body = {"prompt": prompt, "variants": variants, "on_behalf_of": "anonymous"}
        if "return" in prompt:
            body["rag"] = {"collection": "sample", "top_k": 3}
        r = httpx.post(f"{url}/api/compare", json=body, timeout=300)
        r.raise_for_status()
        turn = r.json()["id"]
        vote = {"outcome": outcome, "on_behalf_of": "anonymous"}
        httpx.post(f"{url}/api/turns/{turn}/votes", json=vote).raise_for_status()
        if n == 0:
            labels = {
                "ratings": [
                    {"pane": 0, "helpfulness": 5, "honesty": 5, "harmlessness": 5},
                    {"pane": 1, "helpfulness": 3, "honesty": 4, "harmlessness": 5},
                ],
                "comment": "A is short and right.",
                "on_behalf_of": "anonymous",
            }
            httpx.post(f"{url}/api/turns/{turn}/labels", json=labels).raise_for_status()


def shoot(page: Page, url: str, out: Path, *, full_page: bool, lang: str) -> list[Path]:
    words = ZH_CN if lang == "zh-CN" else EN
    suffix = "" if lang == "en" else f"-{lang}"
    written = []
    for width, height in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        for name, path, tab, ready in PAGES:
            page.goto(url + path)
            page.wait_for_selector("nav" if tab else ready, timeout=60_000)
            if tab is not None:
                page.get_by_role("tab", name=words[tab]).click()
                page.wait_for_selector(ready, state="visible", timeout=30_000)
            # What each page loads when it opens (tables, plots) comes over its queue, which
            # stays open: give it a moment.
            page.wait_for_timeout(2500)
            target = out / f"{name}-{width}{suffix}.png"
            page.screenshot(path=str(target), full_page=full_page)
            written.append(target)
            print(f"  {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="where the PNGs go")
    parser.add_argument(
        "--full-page", action="store_true", help="the whole page, not only its first screen"
    )
    parser.add_argument(
        "--lang",
        choices=["en", "zh-CN"],
        default="en",
        help="the browser's language (zh-CN writes name-1400-zh-CN.png, ...)",
    )
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("Chromium is needed: apt-get install -y chromium")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="arbiter-screens-") as tmp:
        home = Path(tmp)
        print("starting the server (bundled local model, SQLite in a temporary folder)…")
        with server(home) as url:
            print("sample prompts and votes through the API…")
            sample_votes(url)
            print("screenshots:")
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=chromium, headless=True, args=["--no-sandbox"]
                )
                page = browser.new_context(locale=args.lang).new_page()
                written = shoot(page, url, args.out, full_page=args.full_page, lang=args.lang)
                browser.close()
    print(f"{len(written)} screenshots in {args.out}")


if __name__ == "__main__":
    main()
