"""The HTTP API on a live uvicorn server (127.0.0.1), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest

from service.errors import NotFound
from service.store import turns, variants
from service.store.tables import AnswerRow, VoteRow
from tests.fakes.script import Script
from tests.support.fixtures import LiveServer
from tests.support.sse import compare_stream


def test_stream_compare_then_vote(live: LiveServer) -> None:
    with compare_stream(
        live.url, {"prompt": "Capital of France?", "variants": ["alpha", "beta"]}
    ) as (r, stream):
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = list(stream)
    kinds = [k for k, _ in events]
    assert kinds[0] == "turn" and kinds[-1] == "done"
    assert kinds.count("answer") == 2 and kinds.count("token") == 9
    turn_id = events[0][1]["turn_id"]
    turn = httpx.get(f"{live.url}/api/turns/{turn_id}").json()
    assert [a["text"] for a in turn["answers"]] == ["Paris is the capital.", "It is Paris."]
    vote = httpx.post(f"{live.url}/api/turns/{turn_id}/votes", json={"outcome": "a"})
    assert vote.status_code == 201
    assert httpx.get(f"{live.url}/api/turns/{turn_id}").json()["vote"]["outcome"] == "a"


def test_json_compare_returns_the_stored_turn(live: LiveServer) -> None:
    r = httpx.post(
        f"{live.url}/api/compare",
        json={"prompt": "hi", "variants": ["alpha", "beta", "gamma"]},
        timeout=10,
    )
    assert r.status_code == 200
    body = r.json()
    assert [a["variant"] for a in body["answers"]] == ["alpha", "beta", "gamma"]
    assert body["answers"][0]["request"]["messages"][-1] == {"role": "user", "content": "hi"}
    listed = httpx.get(f"{live.url}/api/turns").json()["turns"]
    assert listed[0]["id"] == body["id"]


def test_pane_failure_is_reported_in_its_pane(live: LiveServer, scripts: dict[str, Script]) -> None:
    scripts["beta"].failure = "server_error"
    body = httpx.post(
        f"{live.url}/api/compare", json={"prompt": "hi", "variants": ["alpha", "beta"]}, timeout=10
    ).json()
    assert body["answers"][0]["status"] == "ok"
    assert (
        body["answers"][1]["status"] == "error"
        and body["answers"][1]["error_code"] == "provider_error"
    )
    # Voting is still possible.
    assert (
        httpx.post(f"{live.url}/api/turns/{body['id']}/votes", json={"outcome": "a"}).status_code
        == 201
    )


def test_bad_input_gets_json_errors_with_stable_codes(live: LiveServer) -> None:
    cases = [
        ({"prompt": "", "variants": ["alpha", "beta"]}, 422, "empty_prompt"),
        ({"prompt": "x" * 2000, "variants": ["alpha", "beta"]}, 413, "prompt_too_long"),
        ({"prompt": "hi", "variants": ["alpha", "ghost"]}, 404, "unknown_variant"),
        ({"prompt": "hi", "variants": ["alpha", "beta"], "temprature": 1}, 422, "invalid_request"),
        ({"variants": ["alpha", "beta"]}, 422, "invalid_request"),
    ]
    for path in ("/api/compare", "/api/compare/stream"):
        for body, status, code in cases:
            r = httpx.post(live.url + path, json=body)
            assert r.status_code == status, (path, body, r.text)
            assert r.json()["error"]["code"] == code
            assert "Traceback" not in r.text
    r = httpx.post(
        live.url + "/api/compare",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    assert httpx.get(f"{live.url}/api/turns/nope").json()["error"]["code"] == "not_found"
    assert httpx.get(f"{live.url}/no/such/route").json()["error"]["code"] == "not_found"


def test_vote_before_answers_finish_is_refused_and_double_click_stores_one(
    live: LiveServer, scripts: dict[str, Script]
) -> None:
    scripts["alpha"].token_delay_s = 0.3
    with compare_stream(live.url, {"prompt": "hi", "variants": ["alpha", "beta"]}) as (_, events):
        _, turn = next(events)
        early = httpx.post(f"{live.url}/api/turns/{turn['turn_id']}/votes", json={"outcome": "a"})
        assert early.status_code == 409 and early.json()["error"]["code"] == "turn_not_finished"
        list(events)
    store = live.server.config.app.state.runtime.store  # type: ignore[attr-defined]
    before = store.count(VoteRow)
    results: list[int] = []

    def click() -> None:
        results.append(
            httpx.post(
                f"{live.url}/api/turns/{turn['turn_id']}/votes",
                json={"outcome": "b", "idempotency_key": "click-1"},
            ).status_code
        )

    threads = [threading.Thread(target=click) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [201] * 5
    assert store.count(VoteRow) == before + 1


def test_variants_list_and_create(live: LiveServer) -> None:
    names = [v["name"] for v in httpx.get(f"{live.url}/api/variants").json()]
    assert names == ["alpha", "beta", "gamma"]
    new = {
        "name": "delta",
        "model": {"provider": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "d"},
        "params": {"temperature": 0.3},
    }
    r = httpx.post(f"{live.url}/api/variants", json=new)
    assert r.status_code == 201 and r.json()["source"] == "api"
    assert httpx.post(f"{live.url}/api/variants", json=new).json()["error"]["code"] == "conflict"
    typo = {**new, "name": "eps", "params": {"temprature": 0.3}}
    r = httpx.post(f"{live.url}/api/variants", json=typo)
    assert r.status_code == 422 and "temprature" in r.json()["error"]["message"]
    # The new variant is usable at once and persisted.
    body = httpx.post(
        f"{live.url}/api/compare", json={"prompt": "hi", "variants": ["alpha", "delta"]}, timeout=10
    ).json()
    assert body["answers"][1]["variant"] == "delta"
    assert [v.name for v in variants.api_variants(live.server.config.app.state.runtime.store)] == [
        "delta"
    ]  # type: ignore[attr-defined]


def test_health_ready_and_openapi(live: LiveServer) -> None:
    assert httpx.get(f"{live.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{live.url}/readyz")
    # The test variants point at a closed port: not ready, and it says which.
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["store"]["ok"] is True
    assert (
        checks["variant:alpha"]["ok"] is False
        and "provider_unreachable" in checks["variant:alpha"]["detail"]
    )
    spec = httpx.get(f"{live.url}/openapi.json").json()
    assert {
        "/api/compare",
        "/api/compare/stream",
        "/api/turns/{turn_id}",
        "/api/turns/{turn_id}/votes",
        "/api/variants",
        "/healthz",
        "/readyz",
    } <= set(spec["paths"])


def test_client_disconnect_keeps_answers(
    live: LiveServer, scripts: dict[str, Script], wait_for
) -> None:  # type: ignore[no-untyped-def]
    scripts["alpha"].token_delay_s = 0.1
    with compare_stream(live.url, {"prompt": "hi", "variants": ["alpha", "beta"]}) as (_, events):
        _, turn = next(events)
    store = live.server.config.app.state.runtime.store  # type: ignore[attr-defined]

    def done() -> bool:
        # A new conversation's turn row is written while the panes start, so it may not
        # exist yet the moment the `turn` event arrives.
        try:
            return turns.get_turn(store, turn["turn_id"]).status == "done"
        except NotFound:
            return False

    wait_for(done)
    answers = turns.get_turn(store, turn["turn_id"]).answers
    assert [a.text for a in answers] == ["Paris is the capital.", "It is Paris."]
    assert store.count(AnswerRow) == 2


def test_cancel_endpoint(live: LiveServer, scripts: dict[str, Script]) -> None:
    scripts["alpha"].token_delay_s = 1.0
    with compare_stream(live.url, {"prompt": "hi", "variants": ["alpha", "beta"]}) as (_, events):
        _, turn = next(events)
        for kind, _ in events:
            if kind == "token":
                break
        r2 = httpx.post(f"{live.url}/api/turns/{turn['turn_id']}/cancel")
        assert r2.status_code == 200 and r2.json()["cancelled_panes"] >= 1
        rest = list(events)
    answers = [d for k, d in rest if k == "answer"]
    assert any(a["status"] == "cancelled" for a in answers), rest  # what came, if not


def test_arena_turns_hide_variants_until_voted(live: LiveServer) -> None:
    with compare_stream(
        live.url, {"prompt": "hi", "variants": ["alpha", "beta"], "mode": "arena"}
    ) as (_, stream):
        events = list(stream)
    assert "alpha" not in json.dumps([d for _, d in events]) and "beta" not in json.dumps(
        [d for _, d in events]
    )
    turn_id = events[0][1]["turn_id"]
    before = httpx.get(f"{live.url}/api/turns/{turn_id}").text
    assert "alpha" not in before and "beta" not in before
    httpx.post(f"{live.url}/api/turns/{turn_id}/votes", json={"outcome": "tie"})
    after = httpx.get(f"{live.url}/api/turns/{turn_id}").json()
    assert [a["variant"] for a in after["answers"]] == ["alpha", "beta"]


def test_labels_endpoint(live: LiveServer) -> None:
    body = httpx.post(
        f"{live.url}/api/compare", json={"prompt": "hi", "variants": ["alpha", "beta"]}, timeout=10
    ).json()
    r = httpx.post(
        f"{live.url}/api/turns/{body['id']}/labels",
        json={"on_behalf_of": "ann", "ratings": [{"pane": 1, "honesty": 5}], "comment": "ok"},
    )
    assert r.status_code == 201 and r.json()["ratings"] == 1 and r.json()["comment_id"]
    bad = httpx.post(
        f"{live.url}/api/turns/{body['id']}/labels", json={"ratings": [{"pane": 0, "honesty": 9}]}
    )
    assert bad.status_code == 422 and "honesty" in bad.json()["error"]["message"]


def test_acting_on_the_turn_event_at_once_never_finds_no_turn(
    live: LiveServer, scripts: dict[str, Script], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new conversation's turn row is written while the panes start; a slow database
    write must not make a client's immediate read or vote see 'no such turn'."""
    original = turns.start_turn

    def slow_start_turn(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.4)
        return original(*args, **kwargs)

    monkeypatch.setattr(turns, "start_turn", slow_start_turn)
    scripts["alpha"].token_delay_s = 0.3
    with compare_stream(live.url, {"prompt": "hi", "variants": ["alpha", "beta"]}) as (_, events):
        _, turn = next(events)
        read = httpx.get(f"{live.url}/api/turns/{turn['turn_id']}")
        assert read.status_code == 200 and read.json()["status"] == "running"
        vote = httpx.post(f"{live.url}/api/turns/{turn['turn_id']}/votes", json={"outcome": "a"})
        assert vote.status_code == 409 and vote.json()["error"]["code"] == "turn_not_finished"
        list(events)
