"""Issue 23, items 5 and 6 and the page's identity: the page passes the API's access and limit
checks. Live servers with the page mounted, people signed in through Gradio's `/login`, the
page's events called through Gradio's HTTP API (private ones too) and in a real browser:

- per-person limits (rate, daily tokens) refuse a compare with a warning, storing nothing;
- every page event that reaches a model is registered through `ui.access.metered`;
- History lists and opens the signed-in person's turns only, whatever the name box says;
  its search takes `%` and `_` literally and finds any language;
- header mode takes roles from the proxy's groups, as the API does;
- labels carry the signed-in name, and the name box only shows it."""

from __future__ import annotations

import inspect
import json
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from service.access import person
from service.access.people import set_password
from service.app.runtime import Runtime
from service.labels.reviews import set_rater
from service.store import Store, turns, votes
from service.store.tables import CommentRow, TurnRow
from tests.fakes.script import Script
from tests.support.auth import ADMIN, secured
from tests.support.fixtures import LiveServer
from tests.support.page_api import EventResult, PageSession
from ui import access as page_access
from ui.app import build_ui

PASSWORDS = {"ada": "ada-password", "bob": "bob-password", "root": "root-password"}


def page_runtime(
    store: Store, variants_file: Path, scripts: dict[str, Script], tmp_path: Path, **settings: Any
) -> Runtime:
    runtime = secured(store, variants_file, scripts, tmp_path, **settings)
    if settings.get("auth") == "keys":
        for name, role in (("ada", "rater"), ("bob", "rater"), ("root", "admin")):
            set_rater(store, name, role)  # type: ignore[arg-type]
            set_password(store, name, PASSWORDS[name])
    return runtime


@pytest.fixture
def make_server(
    store: Store, variants_file: Path, scripts: dict[str, Script], tmp_path: Path
) -> Iterator[Callable[..., LiveServer]]:
    """A live server with the page, in the given mode and limits (started; stopped after)."""
    started: list[LiveServer] = []

    def make(**settings: Any) -> LiveServer:
        runtime = page_runtime(store, variants_file, scripts, tmp_path, **settings)
        server = LiveServer(runtime, with_ui=True).__enter__()
        started.append(server)
        return server

    yield make
    for server in started:
        server.__exit__(None, None, None)


def signed_in(server: LiveServer, name: str) -> PageSession:
    return PageSession(server.url, sign_in=(name, PASSWORDS[name]))


def send(page: PageSession, prompt: str, board: str = "arena", rater: str = "") -> EventResult:
    dep = page.dependency(api_name=f"{board}_send")
    return page.call(dep, [prompt, rater, None, False, None, 3])


def turn_count(store: Store) -> int:
    return store.count(TurnRow)


# ---- limits -------------------------------------------------------------------------------


def test_rate_limit_refuses_the_fourth_compare_with_a_warning(
    make_server: Callable[..., LiveServer],
) -> None:
    server = make_server(auth="keys", admin_key=ADMIN, rate_per_min=3)
    store = server.runtime.store
    with signed_in(server, "ada") as ada:
        for i in range(3):
            result = send(ada, f"question {i}")
            assert result.error is None and not result.warnings, result.text()
        assert turn_count(store) == 3
        refused = send(ada, "question 3")
        assert turn_count(store) == 3  # the fourth did not run
        [warning] = refused.warnings
        assert "3 requests per minute" in warning and "Try again in" in warning
        # Regenerating is a compare too.
        assert send_regenerate(ada).warnings
        assert turn_count(store) == 3
    with signed_in(server, "bob") as bob:  # limits are per person
        assert not send(bob, "bob's question").warnings
    assert turn_count(store) == 4


def send_regenerate(page: PageSession) -> EventResult:
    dep = page.dependency(api_name="arena_regenerate")
    return page.call(dep, ["", None, False, None, 3])


def test_daily_token_budget_refuses_once_spent(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(auth="keys", admin_key=ADMIN, daily_tokens=20)
    runtime, store = server.runtime, server.runtime.store
    with signed_in(server, "ada") as ada:
        assert not send(ada, "first", board="arena").warnings
        [turn] = turns.list_turns(store)
        used = sum((a.tokens_in or 0) + (a.tokens_out or 0) for a in turn.answers)
        assert used >= 20
        assert runtime.limiter.spent_today(person(store, "ada")) == used
        refused = send(ada, "second")
        [warning] = refused.warnings
        assert "20 tokens for today" in warning and "00:00 UTC" in warning
        assert turn_count(store) == 1


def test_every_page_event_that_reaches_a_model_is_metered(runtime: Runtime) -> None:
    """Enumerate the page's events (every page and tab of the Blocks): each whose handler
    reaches a model (the compare engine, eval runs, document embedding and retrieval) is
    registered through `ui.access.metered`, and each metered one does reach a model."""
    demo = build_ui(runtime)
    reaching, metered_ones = set(), set()
    for index, fn in demo.fns.items():
        if fn.fn is None:
            continue
        label = f"{index}:{fn.api_name or fn.name}"
        if page_access.is_metered(fn.fn):
            metered_ones.add(label)
            assert reaches_a_model(inspect.unwrap(fn.fn)), label
        elif reaches_a_model(fn.fn):
            reaching.add(label)
    assert reaching == set(), f"events that call models without the limits: {reaching}"
    names = {label.split(":", 1)[1] for label in metered_ones}
    assert {"arena_send", "named_send", "arena_regenerate", "named_regenerate"} <= names
    assert {"eval_start", "do_search", "do_ingest", "do_reindex"} <= names
    assert {"campaign_create", "usecase_run"} <= names  # both start model calls
    assert len(metered_ones) >= 10  # the prompt boxes' submit events too


def test_the_metering_check_sees_an_unmetered_model_call(runtime: Runtime) -> None:
    """The check above is not vacuous: a handler that reaches the engine unmetered is found,
    through a helper it calls; metering it, or registering a sync one, is checked."""

    async def helper(prompt: str) -> None:
        async for _ in runtime.engine.run(prompt):  # type: ignore[arg-type]
            pass

    async def unmetered(prompt: str, request: gr.Request) -> None:
        await helper(prompt)

    assert reaches_a_model(unmetered)
    assert page_access.is_metered(page_access.metered(runtime, "x")(unmetered))
    with pytest.raises(TypeError, match=r"gr\.Request"):
        page_access.metered(runtime, "x")(helper)


SINKS = {  # object (or module) -> its functions that call models
    "engine": {"run"},
    "campaigns": {"start"},  # answers a new campaign's items in the background
    "usecases": {"run_datasets"},
    "evals": {"start_in_background", "start"},
    "library": {"retrieve", "ingest", "ingest_many", "reindex", "search"},
    "gateway": {"complete", "stream", "run"},
}


def reaches_a_model(fn: Any, seen: set[int] | None = None) -> bool:
    """Whether `fn`, or a page function it uses, calls a model: it names one of SINKS'
    objects with one of its methods. Follows the functions of its closure, and the methods
    and module functions of the `ui` package it names; stops at metered ones (they are
    admitted there)."""
    seen = set() if seen is None else seen
    owner = fn.__self__ if inspect.ismethod(fn) else None
    func = fn.__func__ if inspect.ismethod(fn) else fn
    # By the function's id: a bound method is made anew (and its id reused) at each access.
    if not isinstance(func, types.FunctionType) or id(func) in seen:
        return False
    if page_access.is_metered(func):
        return False
    seen.add(id(func))
    cells: dict[str, Any] = {}
    for name, cell in zip(func.__code__.co_freevars, func.__closure__ or (), strict=True):
        try:
            cells[name] = cell.cell_contents
        except ValueError:  # not yet assigned
            continue
    objects = [o for o in (owner, *cells.values()) if o is not None and not callable(o)]
    stack, codes = [func.__code__], []
    while stack:
        code = stack.pop()
        codes.append(code)
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    for code in codes:
        names = set(code.co_names) | set(code.co_freevars)
        if any(obj in names and names & calls for obj, calls in SINKS.items()):
            return True
        for name in names:
            local = cells.get(name)  # a function of the closure: followed wherever it is from
            if callable(local) and reaches_a_model(local, seen):
                return True
            shared = [func.__globals__.get(name), *(getattr(o, name, None) for o in objects)]
            for c in shared:
                module = getattr(c, "__module__", "") or ""
                if callable(c) and module.startswith("ui") and reaches_a_model(c, seen):
                    return True
    return False


# ---- History ------------------------------------------------------------------------------


def history(page: PageSession, typed_name: str, query: str) -> list[list[str]]:
    result = page.call(page.dependency(api_name="history_search"), [typed_name, query])
    assert result.error is None, result.text()
    table = result.output[0]  # the Dataframe's value, or an update carrying it
    value = table.get("value", table) if "data" not in table else table
    return [list(r) for r in value["data"]]


def open_turn(page: PageSession, turn_id: str) -> EventResult:
    """The private `select` event of History's table, with a table the caller made up."""
    row = ["2026-01-01 00:00", "whatever", "", "—", turn_id]
    table = {"headers": ["when (UTC)", "prompt", "variants", "vote", "turn id"], "data": [row]}
    return page.call(
        page.triggered_by("history-table", "select"),
        [table],
        event_data={"index": [0, 4], "value": turn_id, "row_value": row, "selected": True},
    )


def test_history_lists_and_opens_only_ones_own_turns(
    make_server: Callable[..., LiveServer],
) -> None:
    server = make_server(auth="keys", admin_key=ADMIN)
    store = server.runtime.store
    with signed_in(server, "ada") as ada:
        send(ada, "ada asks about tides")
        ada.call(ada.dependency(api_name="arena_vote_a"), ["", None])
        rate = ada.dependency(api_name="arena_rate")
        comment = ada.call(
            rate, ["", None, "ada's private comment", "ada's ideal", 5, 4, 5, 3, 3, 3]
        )
        assert comment.error is None, comment.text()
    with store.session() as s:
        assert list(s.scalars(select(CommentRow.text))) == ["ada's private comment"]
    [ada_turn] = turns.list_turns(store)
    with signed_in(server, "bob") as bob:
        send(bob, "bob asks about tides")
        [bob_turn] = [t for t in turns.list_turns(store) if t.rater == "bob"]
        rows = history(bob, "ada", "tides")  # the name box says ada
        assert [r[1] for r in rows] == ["bob asks about tides"]
        assert [r[1] for r in history(bob, "", "")] == ["bob asks about tides"]
        # Opening one's own turn works through the same call...
        mine = open_turn(bob, bob_turn.id)
        assert "bob asks about tides" in mine.text()
        # ...and someone else's shows nothing of it.
        theirs = open_turn(bob, ada_turn.id)
        text = theirs.text()
        assert "ada asks about tides" not in text and "private comment" not in text, text
        assert "ideal" not in text and "not one of yours" in text
    with signed_in(server, "root") as root:  # an admin reads everyone's (they review labels)
        assert "ada's private comment" in open_turn(root, ada_turn.id).text()


def test_history_search_takes_wildcards_literally_in_any_language(
    make_server: Callable[..., LiveServer],
) -> None:
    server = make_server(auth="keys", admin_key=ADMIN)
    with signed_in(server, "ada") as ada:
        for prompt in ("about tides", "100% sure?", "snake_case names", "关于潮汐的问题"):
            send(ada, prompt)
        assert [r[1] for r in history(ada, "ada", "%")] == ["100% sure?"]
        assert [r[1] for r in history(ada, "ada", "_")] == ["snake_case names"]
        assert [r[1] for r in history(ada, "ada", "0% S")] == ["100% sure?"]  # any case
        assert history(ada, "ada", "\\") == [] and history(ada, "ada", "/") == []
        assert [r[1] for r in history(ada, "ada", "潮汐")] == ["关于潮汐的问题"]
        assert len(history(ada, "ada", "")) == 4


# ---- identity: header-mode roles, labels under the signed-in name ---------------------------


def test_header_mode_roles_come_from_the_proxys_groups(
    make_server: Callable[..., LiveServer],
) -> None:
    server = make_server(auth="header")
    dry_run = ["trl-kto", "all", 0, False, True]
    admin = {"X-Forwarded-User": "grace", "X-Forwarded-Groups": "staff,admin"}
    with PageSession(server.url, headers=admin) as grace:
        result = grace.call(grace.dependency(api_name="export_dry_run"), dry_run)
        assert not result.warnings and "records" in result.text(), result.text()
    rater = {"X-Forwarded-User": "ada", "X-Forwarded-Groups": "rater"}
    with PageSession(server.url, headers=rater) as ada:
        result = ada.call(ada.dependency(api_name="export_dry_run"), dry_run)
        assert "export" in " ".join(result.warnings) and "records" not in result.text()
        # In header mode too, the page's labels carry the proxy's user.
        send(ada, "from behind the proxy", rater="mallory")
    assert [t.rater for t in turns.list_turns(server.runtime.store)] == ["ada"]


def test_labels_carry_the_signed_in_name_whatever_the_box_says(
    make_server: Callable[..., LiveServer], wait_for: Callable[[Callable[[], bool], float], None]
) -> None:
    server = make_server(auth="keys", admin_key=ADMIN)
    store, url = server.runtime.store, server.url
    with signed_in(server, "ada") as ada:
        send(ada, "a question", rater="root")
        ada.call(ada.dependency(api_name="arena_vote_b"), ["root", None])
        [turn] = turns.list_turns(store)
        assert turn.rater == "ada"
        assert [v.rater for v in votes.vote_history(store, turn.id)] == ["ada"]
    admin = {"Authorization": f"Bearer {ADMIN}"}
    httpx.post(
        f"{url}/api/campaigns",
        json={"name": "c", "variants": ["alpha", "beta"], "prompts": ["P"], "raters_per_item": 2},
        headers=admin,
    ).raise_for_status()
    wait_for(lambda: httpx.get(f"{url}/api/campaigns/c", headers=admin).json()["answered"] == 1, 30)
    with signed_in(server, "ada") as ada:
        item = ada.call(ada.dependency(api_name="campaign_next"), ["c", "root"])
        assert "**Item 1**" in item.text(), item.text()
        ada.call(ada.dependency(api_name="campaign_vote_a"), ["c", "root", None])
    status = httpx.get(f"{url}/api/campaigns/c", headers=admin).json()
    assert status["votes_per_rater"] == {"ada": 1}


# ---- in a real browser --------------------------------------------------------------------


def test_in_the_browser_the_name_box_shows_who_is_signed_in_and_limits_warn(
    make_server: Callable[..., LiveServer], page: Page
) -> None:
    server = make_server(auth="keys", admin_key=ADMIN, rate_per_min=1)
    store = server.runtime.store
    page.goto(server.url)
    page.fill("input[name=username], #username, input[type=text]", "ada")
    page.fill("input[type=password]", PASSWORDS["ada"])
    page.keyboard.press("Enter")
    box = page.locator("#rater input, #rater textarea")
    expect(box).to_have_value("ada", timeout=30_000)
    expect(box).to_be_disabled()
    expect(page.locator("#rater")).to_contain_text("Signed in as")

    page.fill("#arena-prompt textarea", "first question")
    page.click("#arena-send")
    expect(page.locator("#arena-vote-a")).to_be_enabled(timeout=30_000)
    assert turn_count(store) == 1
    page.fill("#arena-prompt textarea", "second question")
    page.click("#arena-send")
    expect(page.get_by_text("1 requests per minute")).to_be_visible(timeout=10_000)
    expect(page.get_by_text("Try again in", exact=False)).to_be_visible()
    time.sleep(0.5)
    assert turn_count(store) == 1
    assert json.dumps([t.rater for t in turns.list_turns(store)]) == '["ada"]'
