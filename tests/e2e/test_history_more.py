"""History's "More" on the live page (Gradio's HTTP API, as the browser calls it): the next
page comes by the cursor of the last one, appended below, each turn once; past the last
page it changes nothing."""

from __future__ import annotations

from typing import Any

from service.store import turns
from tests.support.fixtures import LiveServer
from tests.support.page_api import PageSession


def _rows(output: list[Any]) -> list[list[str]]:
    table = output[0]
    value = table.get("value", table) if "data" not in table else table
    return [list(r) for r in value["data"]]


def test_more_appends_the_next_page_by_cursor(live_ui: LiveServer) -> None:
    store = live_ui.runtime.store
    for i in range(103):
        start = turns.start_turn(store, None, ["alpha", "beta"], f"问题 {i}", rater="ann")
        turns.finish_turn(store, start.turn_id)
    other = turns.start_turn(store, None, ["alpha", "beta"], "not ann's", rater="bob")
    turns.finish_turn(store, other.turn_id)
    with PageSession(live_ui.url) as page:
        search = page.call(page.dependency(api_name="history_search"), ["ann", ""])
        assert search.error is None, search.text()
        first = _rows(search.output)
        assert len(first) == 100
        more = page.triggered_by("history-more", "click")
        shown = {"headers": ["when (UTC)", "prompt", "variants", "vote", "turn id"], "data": first}
        result = page.call(more, ["ann", "", None, shown])
        assert result.error is None, result.text()
        both = _rows(result.output)
        assert len(both) == 103 and both[:100] == first
        ids = [r[-1] for r in both]
        assert len(set(ids)) == 103 and other.turn_id not in ids
        assert ids == [t.id for t in turns.list_turns(store, limit=200, rater="ann")]
        # The last page is shown: More changes nothing.
        again = page.call(more, ["ann", "", None, {"headers": shown["headers"], "data": both}])
        assert _rows(again.output) == both
