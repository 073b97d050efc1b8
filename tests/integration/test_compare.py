"""The compare engine with scripted models on the real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from service.app.runtime import Runtime
from service.errors import InvalidRequest, NotFound, PayloadTooLarge, StoreError
from service.schemas import CompareRequest, GenerationParams
from service.serving.compare import CompareEvent
from service.store import turns
from service.store.tables import AnswerRow
from tests.fakes.script import Script


def run(runtime: Runtime, req: CompareRequest, on_event: Any = None) -> list[CompareEvent]:
    async def go() -> list[CompareEvent]:
        events = []
        async for event in runtime.engine.run(req):
            events.append(event)
            if on_event:
                on_event(event)
        return events

    return asyncio.run(go())


def test_tokens_stream_per_pane_and_answers_are_stored(runtime: Runtime) -> None:
    events = run(runtime, CompareRequest(prompt="Capital of France?", variants=["alpha", "beta"]))
    assert events[0].kind == "turn" and events[-1].kind == "done"
    text = {0: "", 1: ""}
    for e in events:
        if e.kind == "token":
            text[e.data["pane"]] += e.data["text"]
    assert text == {0: "Paris is the capital.", 1: "It is Paris."}
    turn = turns.get_turn(runtime.store, events[0].data["turn_id"])
    assert turn.status == "done"
    a0 = turn.answers[0]
    assert a0.status == "ok" and a0.text == "Paris is the capital."
    assert a0.tokens_in == 11 and a0.tokens_out == 5 and a0.finish_reason == "stop"
    assert a0.ttft_ms is not None and a0.latency_ms is not None and a0.latency_ms >= a0.ttft_ms
    # The exact request is kept, so the answer can be reproduced.
    assert a0.request is not None
    assert a0.request["messages"] == [
        {"role": "system", "content": "You are alpha."},
        {"role": "user", "content": "Capital of France?"},
    ]
    assert a0.request["params"]["temperature"] == 0.1


def test_failing_and_hanging_panes_do_not_block_the_third(
    runtime: Runtime, scripts: dict[str, Script]
) -> None:
    scripts["alpha"].failure = "server_error"
    scripts["beta"].failure = "hang"
    scripts["gamma"].token_delay_s = 0.05
    started = time.perf_counter()
    events = run(
        runtime, CompareRequest(prompt="hi", variants=["alpha", "beta", "gamma"], timeout_s=1.0)
    )
    elapsed = time.perf_counter() - started
    answers = {e.data["pane"]: e.data for e in events if e.kind == "answer"}
    # The failing pane ends first, the good one next, the hanging one at its timeout.
    order = [e.data["pane"] for e in events if e.kind == "answer"]
    assert order == [0, 2, 1]
    assert answers[0]["status"] == "error" and answers[0]["error_code"] == "provider_error"
    assert answers[1]["status"] == "timeout" and "1 s" in answers[1]["error_message"]
    assert answers[2]["status"] == "ok" and answers[2]["text"] == "Bonjour!"
    assert 1.0 <= elapsed < 3.0
    stored = turns.get_turn(runtime.store, events[0].data["turn_id"])
    assert [a.status for a in stored.answers] == ["error", "timeout", "ok"]
    assert runtime.store.count(AnswerRow) == 3


def test_throttling_before_first_token_is_retried(
    runtime: Runtime, scripts: dict[str, Script]
) -> None:
    scripts["alpha"].failure = "throttle"
    scripts["alpha"].fail_times = 1
    events = run(runtime, CompareRequest(prompt="hi", variants=["alpha", "beta"]))
    answer = next(e.data for e in events if e.kind == "answer" and e.data["pane"] == 0)
    assert answer["status"] == "ok"
    assert scripts["alpha"].calls == 2


def test_throttling_mid_stream_keeps_partial_text_and_says_why(
    runtime: Runtime, scripts: dict[str, Script]
) -> None:
    scripts["alpha"].failure = "throttle_midstream"
    events = run(runtime, CompareRequest(prompt="hi", variants=["alpha", "beta"]))
    answer = next(e.data for e in events if e.kind == "answer" and e.data["pane"] == 0)
    assert answer["status"] == "error" and answer["error_code"] == "throttled"
    assert answer["text"] == "Paris is"
    assert scripts["alpha"].calls == 1  # not retried: text had already been shown


def test_cancel_stops_running_panes_and_stores_them(
    runtime: Runtime, scripts: dict[str, Script]
) -> None:
    scripts["alpha"].token_delay_s = 0.5
    scripts["beta"].token_delay_s = 0.5

    async def go() -> list[CompareEvent]:
        events = []
        async for event in runtime.engine.run(
            CompareRequest(prompt="hi", variants=["alpha", "beta"])
        ):
            events.append(event)
            if event.kind == "token" and sum(e.kind == "token" for e in events) == 2:
                assert runtime.engine.cancel(events[0].data["turn_id"]) == 2
        return events

    events = asyncio.run(go())
    answers = [e.data for e in events if e.kind == "answer"]
    assert {a["status"] for a in answers} == {"cancelled"}
    stored = turns.get_turn(runtime.store, events[0].data["turn_id"])
    assert stored.status == "done" and len(stored.answers) == 2
    with pytest.raises(NotFound):
        runtime.engine.cancel(events[0].data["turn_id"])


def test_multi_turn_sends_each_pane_its_own_history(runtime: Runtime) -> None:
    first = run(runtime, CompareRequest(prompt="Q1", variants=["alpha", "beta"]))
    conv = first[0].data["conversation_id"]
    run(runtime, CompareRequest(prompt="Q2", variants=["alpha", "beta"], conversation_id=conv))
    factory = runtime.catalog._factory
    beta_seen = factory.models["beta"].seen[-1]  # type: ignore[attr-defined]
    assert [m.text for m in beta_seen] == ["Q1", "It is Paris.", "Q2"]


def test_per_pane_overrides_reach_the_model(runtime: Runtime) -> None:
    run(
        runtime,
        CompareRequest(
            prompt="hi",
            variants=["alpha", "beta"],
            overrides=[GenerationParams(temperature=1.5), None],
        ),
    )
    kwargs = runtime.catalog._factory.models["alpha"].seen_kwargs[-1]  # type: ignore[attr-defined]
    assert kwargs["temperature"] == 1.5 and kwargs["max_tokens"] == 64


def test_same_variant_twice_gets_two_model_instances(runtime: Runtime) -> None:
    events = run(runtime, CompareRequest(prompt="hi", variants=["alpha", "alpha"]))
    assert [e.data["status"] for e in events if e.kind == "answer"] == ["ok", "ok"]
    assert runtime.catalog.model(runtime.catalog.get("alpha"), 0) is not runtime.catalog.model(
        runtime.catalog.get("alpha"), 1
    )


@pytest.mark.parametrize(
    ("req", "error", "code"),
    [
        (CompareRequest(prompt="   ", variants=["alpha", "beta"]), InvalidRequest, "empty_prompt"),
        (
            CompareRequest(prompt="x" * 1001, variants=["alpha", "beta"]),
            PayloadTooLarge,
            "prompt_too_long",
        ),
        (CompareRequest(prompt="hi", variants=["alpha", "nope"]), NotFound, "unknown_variant"),
        (CompareRequest(prompt="hi", variants=["alpha"]), InvalidRequest, "bad_pane_count"),
        (CompareRequest(prompt="hi", variants=["alpha"] * 5), InvalidRequest, "bad_pane_count"),
    ],
)
def test_bad_input_is_refused_before_anything_is_stored(
    runtime: Runtime, req: CompareRequest, error: type, code: str
) -> None:
    before = turns.list_turns(runtime.store)
    with pytest.raises(error) as exc:
        run(runtime, req)
    assert exc.value.code == code
    assert turns.list_turns(runtime.store) == before


def test_store_failure_during_a_turn_is_reported_and_stops_the_panes(runtime: Runtime) -> None:

    with runtime.store.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE turns RENAME TO turns_gone")
    with pytest.raises(StoreError) as exc:
        run(runtime, CompareRequest(prompt="hi", variants=["alpha", "beta"]))
    # The database is up: a missing table is a fault with its cause, not an outage.
    assert "database error" in exc.value.message and exc.value.code == "internal_error"
    assert "turns" in exc.value.message
    assert runtime.engine._running == {}


def test_model_stalling_mid_stream_times_out_and_keeps_partial_text(
    runtime: Runtime, scripts: dict[str, Script]
) -> None:
    scripts["alpha"].token_delay_s = 0.4  # first token at once, the rest too slowly
    events = run(runtime, CompareRequest(prompt="hi", variants=["alpha", "beta"], timeout_s=0.6))
    answer = next(e.data for e in events if e.kind == "answer" and e.data["pane"] == 0)
    assert answer["status"] == "timeout"
    assert answer["text"] == "Paris is"
    stored = turns.get_turn(runtime.store, events[0].data["turn_id"]).answers[0]
    assert stored.text == "Paris is" and stored.error_code == "timeout"
