"""Background jobs in the store, and online scoring of every answer after a turn."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from sqlalchemy import select

from evals.registry import build_metrics
from rag import EmbedderSpec
from service.app.runtime import Runtime
from service.documents.library import embed_texts
from service.store import turns
from service.store.tables import ScoreRow
from tests.fakes.script import Script
from tests.support.fixtures import LiveServer
from ui.history import render_turn

PIER = b"The north pier opens at six in the morning and closes at ten at night."


def test_answers_are_scored_in_the_background_and_shown_with_the_turn(
    runtime: Runtime,
    scripts: dict[str, Script],
    live: LiveServer,
    wait_for: Callable[[Callable[[], bool], float], None],
) -> None:
    runtime.library.create_collection("docs")
    runtime.library.ingest("docs", "pier.txt", PIER)
    runtime.online.metrics = build_metrics(
        ["faithfulness_overlap", "answer_relevancy_embedding"],
        embed=embed_texts(runtime.library),
        embed_model=EmbedderSpec().model_id,
    )
    scripts["alpha"].tokens = ["The north pier opens", " at six in the morning."]
    scripts["beta"].tokens = ["Bananas", " are yellow", "."]
    scripts["gamma"].failure = "server_error"
    r = httpx.post(
        f"{live.url}/api/compare",
        json={
            "prompt": "When does the pier open?",
            "variants": ["alpha", "beta", "gamma"],
            "rag": {"collection": "docs", "top_k": 1},
        },
        timeout=30,
    )
    assert r.status_code == 200, r.text
    turn_id = r.json()["id"]

    def scored() -> bool:
        answers = httpx.get(f"{live.url}/api/turns/{turn_id}").json()["answers"]
        return all(len(a["scores"]) == 2 for a in answers[:2])

    wait_for(scored, 30)
    alpha, beta, gamma = httpx.get(f"{live.url}/api/turns/{turn_id}").json()["answers"]
    a = {s["metric"]: s for s in alpha["scores"]}
    b = {s["metric"]: s for s in beta["scores"]}
    assert a["faithfulness_overlap"]["value"] == 1.0 and b["faithfulness_overlap"]["value"] == 0.0
    assert a["answer_relevancy_embedding"]["value"] > b["answer_relevancy_embedding"]["value"]
    assert a["answer_relevancy_embedding"]["version"] == f"cosine-{EmbedderSpec().model_id}"
    assert gamma["status"] == "error" and gamma["scores"] == []  # failed: not scored as 0
    assert httpx.get(f"{live.url}/api/jobs").json() == {"done": 1}

    # The History view shows them under each answer.

    shown = render_turn(turns.get_turn(runtime.store, turn_id), link=str)
    assert "scores: answer_relevancy_embedding 0." in shown and "faithfulness_overlap 1.00" in shown

    # A retried job adds nothing twice.
    runtime.online.score_turn({"turn_id": turn_id})
    with runtime.store.session() as s:
        rows = s.scalars(select(ScoreRow).where(ScoreRow.turn_id == turn_id)).all()
    assert len(rows) == 4


def test_no_context_no_faithfulness_score(
    runtime: Runtime, live: LiveServer, wait_for: Callable[[Callable[[], bool], float], None]
) -> None:
    r = httpx.post(
        f"{live.url}/api/compare",
        json={"prompt": "Capital of France?", "variants": ["alpha", "beta"]},
        timeout=30,
    )
    turn_id = r.json()["id"]
    wait_for(lambda: httpx.get(f"{live.url}/api/jobs").json().get("done") == 1, 30)
    answers = httpx.get(f"{live.url}/api/turns/{turn_id}").json()["answers"]
    assert [a["scores"] for a in answers] == [[], []]  # not applicable, not an error
