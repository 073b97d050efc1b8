"""A board's conversation model (ui/conversation.py) fed compare-engine events directly: no
page, no store, no server."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from service.errors import ArbiterError
from service.schemas import AnswerOut, ScoreOut, VoteIn
from service.serving import blind_error
from service.serving.compare import CompareEvent
from ui.context import NO_CONTEXT
from ui.conversation import ASK_BLIND, ASK_NAMED, NEW_ROUND, STREAMING, Session

PAIR = ["alpha", "beta"]
METRICS: dict[str, Any] = {"ttft_ms": 120.0, "latency_ms": 900.0, "tokens_in": 5, "tokens_out": 7}
CHUNKS = [
    {"ref": "chunk:7", "chunk_id": 7, "title": "pier.txt", "text": "Opens at six.", "score": 0.9},
    {"ref": "chunk:8", "chunk_id": 8, "title": "museum.txt", "text": "Closed.", "score": 0.5},
]


def turn(turn_id: str = "t1", context: list[dict[str, Any]] | None = None) -> CompareEvent:
    return CompareEvent(
        "turn",
        {
            "turn_id": turn_id,
            "conversation_id": "c1",
            "position": 0,
            "panes": [{"pane": i, "variant": v} for i, v in enumerate(PAIR)],
            "context": context,
        },
    )


def token(pane: int, text: str) -> CompareEvent:
    return CompareEvent("token", {"pane": pane, "text": text})


def answer(pane: int, text: str, *, status: str = "ok", **fields: Any) -> CompareEvent:
    out = AnswerOut(
        id=f"a{pane}",
        pane=pane,
        variant=PAIR[pane],
        status=status,  # type: ignore[arg-type]
        text=text,
        cost_usd=0.0001,
        **METRICS,
        **fields,
    )
    return CompareEvent("answer", out.model_dump(mode="json", exclude={"request"}))


def play(
    session: Session,
    prompt: str,
    texts: tuple[str, str],
    *,
    regenerate: bool = False,
    context: list[dict[str, Any]] | None = None,
) -> None:
    """One whole turn: the engine's events in the order it sends them."""
    session.choose(PAIR, None)
    session.start(turn(context=context), prompt, regenerate=regenerate, link=str)
    for pane, text in enumerate(texts):
        session.apply(token(pane, text))
    for pane, text in enumerate(texts):
        session.apply(answer(pane, text))
    session.apply(CompareEvent("done", {"turn_id": "t1"}))
    session.finish()


def contents(session: Session, pane: int) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in session.transcript(pane)]


def test_tokens_stream_into_each_panes_transcript() -> None:
    session = Session(blind=True)
    session.choose(PAIR, None)
    session.start(turn(), "What is the capital?", regenerate=False, link=str)
    assert session.running and session.status_text == STREAMING
    assert contents(session, 0) == [("user", "What is the capital?"), ("assistant", "")]
    session.apply(token(0, "Par"))
    session.apply(token(1, "It is"))
    session.apply(token(0, "is"))
    assert contents(session, 0)[-1] == ("assistant", "Paris")
    assert contents(session, 1)[-1] == ("assistant", "It is")
    assert session.transcript(3) == []  # a pane the board has but this turn does not use
    assert session.footer(0) == session.footer(1) == ""  # nothing under a pane until it ends


def test_blind_board_hides_names_and_metrics_until_the_vote() -> None:
    session = Session(blind=True)
    play(session, "hi", ("one", "two"))
    assert session.status_text == ASK_BLIND and not session.running
    for pane in (0, 1):
        assert session.pane_title(pane) == f"Model {'AB'[pane]}"
        assert session.footer(pane) == ""  # no name, no latency, tokens or cost
    footers = session.show_scores({0: [score("faithfulness", 0.9)], 1: []})
    assert footers == {0: "", 1: ""}  # scores could hint at the model too

    session.record_vote(VoteIn(outcome="a"))
    assert session.status_text == "You preferred **alpha** over **beta**."
    assert session.pane_title(0) == "Model A · alpha" and session.pane_title(1) == "Model B · beta"
    assert session.footer(0).startswith("**alpha**") and session.footer(1).startswith("**beta**")
    assert "first token 120 ms" in session.footer(0) and "$0.000100" in session.footer(1)
    assert "scores: faithfulness 0.90" in session.footer(0)


def test_named_board_shows_names_metrics_and_scores_at_once() -> None:
    session = Session(blind=False)
    play(session, "hi", ("one", "two"))
    assert session.status_text == ASK_NAMED
    assert session.pane_title(1) == "Model B · beta"
    assert session.footer(1).startswith("**beta**") and "tokens 5 → 7" in session.footer(1)
    footers = session.show_scores({1: [score("faithfulness", 0.5)]})
    assert "scores: faithfulness 0.50" in footers[1] and footers[1] == session.footer(1)
    assert "scores" not in footers[0]


def test_an_error_in_one_pane_leaves_the_other_alone() -> None:
    session = Session(blind=True)
    session.choose(PAIR, None)
    session.start(turn(), "hi", regenerate=False, link=str)
    session.apply(token(0, "Half an ans"))
    session.apply(token(1, "Fine."))
    session.apply(
        answer(0, "", status="error", error_code="provider_error", error_message="timed out")
    )
    session.apply(answer(1, "Fine."))
    session.finish()
    assert contents(session, 0)[-1] == (
        "assistant",
        "Half an ans\n\nError (provider_error): " + blind_error("provider_error"),
    )
    # a provider's own words may name the model: a blind pane says what failed, not them
    assert "**Error (provider_error)**: this model failed" in session.footer(0)
    assert "timed out" not in session.footer(0) + str(contents(session, 0))
    assert "first token" not in session.footer(0)  # still blind: the error, no metrics
    assert contents(session, 1)[-1] == ("assistant", "Fine.") and session.footer(1) == ""


def test_regenerate_replaces_the_last_exchange() -> None:
    session = Session(blind=True)
    play(session, "first", ("1a", "1b"))
    play(session, "second", ("2a", "2b"))
    play(session, "second", ("2a again", "2b again"), regenerate=True)
    assert contents(session, 0) == [
        ("user", "first"),
        ("assistant", "1a"),
        ("user", "second"),
        ("assistant", "2a again"),
    ]
    assert contents(session, 1)[-1] == ("assistant", "2b again") and len(contents(session, 1)) == 4


def test_a_new_turn_clears_the_footers_and_the_vote() -> None:
    session = Session(blind=False)
    play(session, "first", ("1a", "1b"))
    session.record_vote(VoteIn(outcome="tie"))
    session.start(turn("t2"), "second", regenerate=False, link=str)
    assert session.footer(0) == "" and not session.voted and session.answers == []
    assert session.turn_id == "t2" and session.prompt == "second"


def test_citations_are_linked_to_their_chunks_when_the_turn_has_context() -> None:
    session = Session(blind=True)
    play(session, "When?", ("At six [1].", "Six [2], not [3]."), context=CHUNKS)
    assert contents(session, 0)[-1] == ("assistant", "At six [\\[1\\]](/chunks/7).")
    # A number beyond the context stays as written.
    assert contents(session, 1)[-1] == ("assistant", "Six [\\[2\\]](/chunks/8), not [3].")
    assert "**[1]** [pier.txt](/chunks/7)" in session.context_text

    without = Session(blind=True)
    play(without, "When?", ("At six [1].", "Six."))
    assert contents(without, 0)[-1] == ("assistant", "At six [1].")
    assert without.context_text == NO_CONTEXT


def test_the_vote_message_and_the_ideal_answer_prefill() -> None:
    session = Session(blind=True)
    play(session, "hi", ("answer A", "answer B"))
    session.record_vote(VoteIn(outcome="b"))
    assert session.status_text == "You preferred **beta** over **alpha**."
    assert session.ideal_pane == 1 and session.ideal_prefill == "answer B"

    tie = Session(blind=True)
    play(tie, "hi", ("answer A", "answer B"))
    tie.record_vote(VoteIn(outcome="both_bad"))
    assert tie.status_text == "You found both bad: **alpha** and **beta**."
    assert tie.ideal_pane is None and tie.ideal_prefill == ""


def test_variant_names_are_escaped_in_the_vote_message() -> None:
    session = Session(blind=True)
    session.variants = ["<b>x</b>", "y"]
    session.record_vote(VoteIn(outcome="tie"))
    assert session.status_text == "You called it a tie: **&lt;b&gt;x&lt;/b&gt;** vs **y**."


def test_a_ranking_names_every_pane_once() -> None:
    session = Session(blind=False, variants=["alpha", "beta", "gamma"])
    assert session.ranking(["C", "A", "B"]) == [2, 0, 1]
    assert session.ranking(["C", "A"]) is None
    assert session.ranking(["C", "A", "A"]) is None
    assert session.ranking(None) is None
    session.record_vote(VoteIn(outcome="ranking", ranking=[2, 0, 1]))
    assert session.status_text == "Your ranking: **gamma** > **alpha** > **beta**."
    assert session.ideal_pane == 2


def test_the_rubric_becomes_labels_for_each_pane() -> None:
    session = Session(blind=True)
    play(session, "hi", ("a", "b"))
    session.record_vote(VoteIn(outcome="b"))
    given = session.labels("clear", "B, edited", (5, 4, None, None, None, 2))
    assert [(r.pane, r.helpfulness, r.honesty, r.harmlessness) for r in given.ratings] == [
        (0, 5, 4, None),
        (1, None, None, 2),
    ]
    assert given.comment == "clear" and given.ideal_answer == "B, edited"
    assert given.ideal_based_on_pane == 1
    blank = session.labels("", "  ", (None,) * 6)
    assert blank.comment is None and blank.ideal_based_on_pane is None


def test_a_new_round_forgets_the_conversation_but_not_the_pair() -> None:
    session = Session(blind=True)
    play(session, "hi", ("a", "b"))
    session.variants = ["beta", "alpha"]
    session.new_round()
    assert session.blind and session.status_text == NEW_ROUND
    assert session.last_pair == ["alpha", "beta"]  # so the arena can draw another pair
    assert session.variants == [] and session.transcripts == [] and session.turn_id is None
    assert session.footer(0) == "" and session.context_text == NO_CONTEXT


def test_other_variants_start_a_new_round_the_same_ones_continue_it() -> None:
    session = Session(blind=False)
    play(session, "hi", ("a", "b"))
    session.choose(PAIR, None)
    assert session.turn_id == "t1" and len(session.transcript(0)) == 2
    session.choose(["alpha", "gamma"], None)
    assert session.turn_id is None and session.transcript(0) == []
    assert session.variants == ["alpha", "gamma"] and not session.blind


def test_a_failed_turn_says_why_on_the_status_line() -> None:
    session = Session(blind=True)
    session.choose(PAIR, None)
    session.start(turn(), "hi", regenerate=False, link=str)
    session.fail(ArbiterError("the store is <down>", hint="Try again."))
    assert not session.running
    assert session.status_text == "**Error:** the store is &lt;down&gt; Try again."


@pytest.mark.parametrize(
    ("running", "prompt", "regenerate", "expected"),
    [
        (True, "hi", False, "The answers are still streaming: wait, or press Stop."),
        (False, "   ", False, "Type a prompt first."),
        (False, "hi", True, "There is nothing to regenerate yet."),
        (False, "hi", False, None),
    ],
)
def test_when_a_turn_may_start(
    running: bool, prompt: str, regenerate: bool, expected: str | None
) -> None:
    assert Session(running=running).refusal(prompt, regenerate=regenerate) == expected


def test_thumbs_go_to_the_latest_finished_answer_only() -> None:
    session = Session(blind=True)
    play(session, "first", ("1a", "1b"))
    play(session, "second", ("2a", "2b"))
    found = session.answer(1)
    assert found is not None and found.text == "2b"
    assert session.is_latest(0, 3) and not session.is_latest(0, 1)


def test_the_model_imports_no_gradio() -> None:
    """The conversation model and the ui modules it uses stay free of Gradio."""
    ui = Path(__file__).resolve().parents[2] / "ui"
    seen, todo = set(), ["conversation"]
    while todo:
        name = todo.pop()
        seen.add(name)
        for node in ast.walk(ast.parse((ui / f"{name}.py").read_text())):
            modules = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for module in modules:
                assert module.split(".")[0] != "gradio", f"ui/{name}.py imports {module}"
                if module.startswith("ui.") and module[3:] not in seen:
                    todo.append(module[3:])
    assert seen == {"conversation", "context", "format", "i18n"}


def score(metric: str, value: float) -> ScoreOut:
    return ScoreOut(metric=metric, version="1", value=value, created_at=datetime.now(UTC))
