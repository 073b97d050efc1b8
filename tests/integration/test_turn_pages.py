"""History and `/api/turns` page by keyset (created_at, id) with an opaque cursor, on SQLite
and PostgreSQL: every turn once, in order, across pages, also when turns share a
timestamp; a page costs the same number of queries whatever its size."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from service.errors import ErrorCode, InvalidRequest
from service.ids import utcnow
from service.schemas import VoteIn
from service.store import Store, scores, turns, votes
from service.store.tables import TurnRow
from tests.support.fixtures import LiveServer


def _turns(store: Store, n: int, *, rater: str = "ann") -> list[str]:
    ids = []
    for i in range(n):
        start = turns.start_turn(store, None, ["v0", "v1"], f"プロンプト {i}", rater=rater)
        for pane in (0, 1):
            answer_id = turns.save_answer(
                store,
                start.turn_id,
                pane=pane,
                variant_name=f"v{pane}",
                variant_spec={},
                request={"secret": "kept out of lists"},
                text=f"answer {i}/{pane}",
                status="ok",
            )
            scores.save_scores(
                store,
                start.turn_id,
                answer_id,
                f"v{pane}",
                [{"metric": "rouge_l", "version": "1", "value": 0.5, "error": None, "detail": {}}],
            )
        turns.finish_turn(store, start.turn_id)
        ids.append(start.turn_id)
    # Three turns share one timestamp: the id breaks the tie.
    same = utcnow() - timedelta(hours=1)
    with store.session() as s:
        s.execute(sa.update(TurnRow).where(TurnRow.id.in_(ids[2:5])).values(created_at=same))
    return ids


@contextmanager
def _counting(store: Store) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    sa.event.listen(store.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", count)


def test_pages_list_every_turn_once_in_order(store: Store) -> None:
    _turns(store, 9)
    votes.cast_vote(store, turns.list_turns(store, limit=1)[0].id, VoteIn(outcome="a"), rater="ann")
    whole = turns.list_turns(store, limit=100)
    assert len(whole) == 9
    keys = [(t.created_at, t.id) for t in whole]
    assert keys == sorted(keys, reverse=True)
    seen, after = [], None
    while True:
        page = turns.turn_page(store, limit=4, after=after)
        seen += page.turns
        if page.next is None:
            break
        after = page.next
    assert [t.id for t in seen] == [t.id for t in whole]
    # The same content as one turn read whole (requests left out of lists).
    for listed in seen:
        one = turns.get_turn(store, listed.id, with_request=False)
        assert listed == one
    assert seen[0].vote is not None and seen[0].vote.outcome == "a"
    assert all(a.scores and a.request is None for t in seen for a in t.answers)


def test_a_page_costs_the_same_queries_whatever_its_size(store: Store) -> None:
    _turns(store, 8)
    with _counting(store) as small:
        assert len(turns.list_turns(store, limit=2, voter="ann")) == 2
    with _counting(store) as large:
        assert len(turns.list_turns(store, limit=8, voter="ann")) == 8
    assert len(small) == len(large) == 5, large  # turns, answers, scores, votes, tags


def test_a_cursor_not_from_the_server_is_refused_clearly(store: Store) -> None:
    for bad in ("nonsense", "W10", "eyJ4Ijoy"):
        with pytest.raises(InvalidRequest) as caught:
            turns.turn_page(store, after=bad)
        assert caught.value.code == ErrorCode.INVALID_CURSOR
        assert "next" in (caught.value.hint or "")


def test_api_pages_with_next(live: LiveServer) -> None:
    ids = _turns(live.runtime.store, 5)
    got, params = [], {"limit": 2}
    while True:
        body = httpx.get(f"{live.url}/api/turns", params=params).json()
        got += [t["id"] for t in body["turns"]]
        if body["next"] is None:
            break
        params = {"limit": 2, "after": body["next"]}
    assert sorted(got) == sorted(ids) and len(got) == 5
    bad = httpx.get(f"{live.url}/api/turns", params={"after": "nonsense"})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_cursor"
    old = httpx.get(f"{live.url}/api/turns", params={"offset": 2})
    assert old.status_code == 422 and "after" in old.json()["error"]["hint"]
