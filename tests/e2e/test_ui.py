"""The page's event handlers through `gradio_client` (the Gradio API), on scripted models."""

from __future__ import annotations

import json
from typing import Any

import httpx
from gradio_client import Client

from service.store import turns, votes
from service.store.tables import CommentRow, IdealAnswerRow, RatingRow, TurnRow, VoteRow
from tests.fakes.script import Script
from tests.support.fixtures import LiveServer
from tests.support.gradio import page_client

NAMES = ("alpha", "beta", "gamma")


def client(live: LiveServer) -> Client:
    return page_client(live.url)


def send(
    c: Client,
    prompt: str,
    rater: str = "ann",
    rag: tuple[bool, str | None, int] = (False, None, 3),
) -> list[Any]:
    job = c.submit(prompt, rater, *rag, api_name="/arena_send")
    job.result()
    return list(job.outputs())


def mentions_a_variant(payload: Any) -> bool:
    text = json.dumps(payload, default=str)
    return any(name in text for name in NAMES)


def test_arena_hides_names_until_the_vote_then_reveals_them(live_ui: LiveServer) -> None:
    c = client(live_ui)
    outputs = send(c, "What is the capital of France?")
    assert len(outputs) >= 2  # streamed in several updates
    assert not mentions_a_variant(outputs)
    # Nor does the page, its config or its API description name them.
    for path in ("/", "/config", "/gradio_api/info"):
        assert not mentions_a_variant(httpx.get(live_ui.url + path).text), path
    store = live_ui.runtime.store
    turn = turns.list_turns(store)[0]
    assert turn.mode == "arena" and turn.rater == "ann" and turn.vote is None
    revealed = c.predict("ann", api_name="/arena_vote_a")
    assert mentions_a_variant(revealed)
    pair = [a.variant for a in turns.get_turn(store, turn.id).answers]
    assert f"You preferred **{pair[0]}** over **{pair[1]}**." in revealed
    history = votes.vote_history(store, turn.id)
    assert [(v.outcome, v.rater) for v in history] == [("a", "ann")]


def test_multi_turn_keeps_the_pair_and_the_history(live_ui: LiveServer) -> None:
    c = client(live_ui)
    send(c, "first question")
    send(c, "second question")
    listed = turns.list_turns(live_ui.runtime.store)
    assert [t.prompt for t in listed] == ["second question", "first question"]
    assert listed[0].conversation_id == listed[1].conversation_id and listed[0].position == 1
    assert [a.variant for a in listed[0].answers] == [a.variant for a in listed[1].answers]


def test_new_round_draws_a_different_pair(live_ui: LiveServer) -> None:
    c = client(live_ui)
    send(c, "q1")
    c.predict(api_name="/arena_new_round")
    send(c, "q2")
    listed = turns.list_turns(live_ui.runtime.store)
    assert listed[0].conversation_id != listed[1].conversation_id
    assert {a.variant for a in listed[0].answers} != {a.variant for a in listed[1].answers}


def test_empty_prompt_and_early_vote_store_nothing(live_ui: LiveServer) -> None:
    c = client(live_ui)
    send(c, "   ")
    c.predict("ann", api_name="/arena_vote_a")
    store = live_ui.runtime.store
    assert store.count(TurnRow) == 0 and store.count(VoteRow) == 0


def test_double_vote_stores_one(live_ui: LiveServer) -> None:
    c = client(live_ui)
    send(c, "hi")
    jobs = [c.submit("ann", api_name="/arena_vote_b") for _ in range(3)]
    for job in jobs:
        job.result()
    c.predict("ann", api_name="/arena_vote_a")  # a later click on another button changes nothing
    assert live_ui.runtime.store.count(VoteRow) == 1


def test_pane_error_is_shown_in_its_pane_and_voting_still_works(
    live_ui: LiveServer, scripts: dict[str, Script]
) -> None:
    for name in NAMES:
        scripts[name].failure = "server_error"
    scripts["beta"].failure = "none"
    c = client(live_ui)
    outputs = send(c, "hi")
    final_chats = outputs[-1]
    texts = json.dumps(outputs, default=str)
    # a blind pane says what failed, not the provider's words (they may name the model)
    assert "Error (provider_error): this model failed" in texts
    assert "scripted failure" not in texts
    c.predict("ann", api_name="/arena_vote_both_bad")
    assert live_ui.runtime.store.count(VoteRow) == 1
    del final_chats


def test_rubric_is_stored_with_the_rater(live_ui: LiveServer) -> None:
    c = client(live_ui)
    send(c, "hi")
    c.predict("ann", api_name="/arena_vote_b")
    status = c.predict(
        "ann", "clear and correct", "B, edited", 5, 4, None, None, None, 2, api_name="/arena_rate"
    )
    assert "Saved 2 rating(s), a comment, an ideal answer" in json.dumps(status)
    store = live_ui.runtime.store
    assert (store.count(RatingRow), store.count(CommentRow), store.count(IdealAnswerRow)) == (
        2,
        1,
        1,
    )
    with store.session() as s:
        import sqlalchemy as sa

        ratings = {
            (r.helpfulness, r.honesty, r.harmlessness) for r in s.scalars(sa.select(RatingRow))
        }
        assert ratings == {(5, 4, None), (None, None, 2)}
        ideal = s.scalars(sa.select(IdealAnswerRow)).one()
        turn = turns.list_turns(store)[0]
        # Voted B, so the ideal answer was prefilled from (and records) pane 1, though edited.
        assert ideal.text == "B, edited" and ideal.based_on_answer_id == turn.answers[1].id
        assert {r.rater for r in s.scalars(sa.select(RatingRow))} == {"ann"}


def test_named_side_by_side_with_three_panes_and_a_ranking(live_ui: LiveServer) -> None:
    c = client(live_ui)
    job = c.submit(
        "Compare us",
        "bob",
        False,
        None,
        3,
        ["alpha", "beta", "gamma"],
        1.2,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        api_name="/named_send",
    )
    job.result()
    store = live_ui.runtime.store
    turn = turns.list_turns(store)[0]
    assert [a.variant for a in turn.answers] == ["alpha", "beta", "gamma"]
    full = turns.get_turn(store, turn.id)
    assert (
        full.answers[0].request is not None
        and full.answers[0].request["params"]["temperature"] == 1.2
    )
    assert (
        full.answers[1].request is not None
        and full.answers[1].request["params"]["temperature"] is None
    )
    c.predict(["C", "A", "B"], "bob", api_name="/named_rank")
    vote = turns.get_turn(store, turn.id).vote
    assert vote is not None and vote.outcome == "ranking" and vote.ranking == [2, 0, 1]


def test_named_view_refuses_one_variant(live_ui: LiveServer) -> None:
    c = client(live_ui)
    job = c.submit(
        "hi",
        "bob",
        False,
        None,
        3,
        ["alpha"],
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        api_name="/named_send",
    )
    job.result()
    assert live_ui.runtime.store.count(TurnRow) == 0


def test_history_search_finds_only_the_raters_turns(live_ui: LiveServer) -> None:
    c = client(live_ui)
    send(c, "about tides", rater="ann")
    send(c, "about volcanoes", rater="ann")
    other = client(live_ui)
    send(other, "about tides", rater="bob")
    table, detail = c.predict("ann", "tides", api_name="/history_search")  # (State not sent)
    rows = table["data"]
    assert detail == "Select a row to see the whole turn."  # the detail follows the search
    assert len(rows) == 1 and rows[0][1] == "about tides"
    assert rows[0][2] == "(hidden until voted)"


def test_rag_turn_shows_the_sources_and_links_citations(
    live_ui: LiveServer, scripts: dict[str, Script]
) -> None:
    runtime = live_ui.runtime
    runtime.library.create_collection("docs")
    runtime.library.ingest("docs", "pier.txt", b"The north pier opens at six <b>sharp</b>.")
    runtime.library.ingest("docs", "museum.txt", b"The museum is closed on Mondays.")
    for script in scripts.values():
        script.tokens = ["Six", " o'clock [1]."]
    c = client(live_ui)
    outputs = send(c, "When does the pier open?", rag=(True, "docs", 2))
    final = json.dumps(outputs[-1], default=str)
    assert "pier.txt" in final and "**[1]**" in final
    assert "&lt;b&gt;sharp&lt;/b&gt;" in final and "<b>sharp</b>" not in final  # escaped
    turn = turns.list_turns(runtime.store)[0]
    chunk_id = turn.retrieval["chunks"][0]["chunk_id"]  # type: ignore[index]
    assert f"(/chunks/{chunk_id})" in final  # the [1] in each answer links to the chunk
    page = httpx.get(f"{live_ui.url}/chunks/{chunk_id}")
    assert page.status_code == 200 and "&lt;b&gt;sharp&lt;/b&gt;" in page.text
    assert not mentions_a_variant(outputs)  # still blind


def test_rag_on_without_a_collection_warns_and_stores_nothing(live_ui: LiveServer) -> None:
    c = client(live_ui)
    send(c, "hello", rag=(True, None, 3))
    assert live_ui.runtime.store.count(TurnRow) == 0


def test_every_event_shows_its_progress_on_at_most_one_light_component(
    live_ui: LiveServer,
) -> None:
    """The page refreshes the loading status of every component any event has targeted on
    every message of every event (copying its value), so no event may target many, nor
    a plot, a table or a layout block (see ui.app.show_progress_on_one_component)."""
    config = httpx.get(live_ui.url + "/config").json()
    kinds = {c["id"]: c["type"] for c in config["components"]}
    light = {"markdown", "textbox", "dropdown", "button", "number", "checkbox", "radio"}
    targets = [d["show_progress_on"] for d in config["dependencies"]]
    assert len(targets) > 50 and all(t is not None and len(t) <= 1 for t in targets)
    assert {kinds[t[0]] for t in targets if t} <= light
    # The boards' events show it on their status line.
    status = next(
        c["id"] for c in config["components"] if c["props"].get("elem_id") == "arena-status"
    )
    assert sum(t == [status] for t in targets) >= 10
