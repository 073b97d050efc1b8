"""The page's event handlers through `gradio_client` (the Gradio API), on scripted models."""

from __future__ import annotations

import pytest

from service.schemas import AnswerOut, TurnOut
from ui.history import render_turn


@pytest.mark.parametrize(
    "payload", ["<img src=x onerror=alert(1)>", "**bold** <script>alert(1)</script>"]
)
def test_history_detail_escapes_markup(payload: str) -> None:
    from datetime import UTC, datetime

    turn = TurnOut(
        id="t",
        conversation_id="c",
        position=0,
        prompt=payload,
        status="done",
        created_at=datetime.now(UTC),
        answers=[AnswerOut(id="a", pane=0, variant=payload, status="ok", text=payload)],
        retrieval={
            "collection": payload,
            "chunks": [
                {"ref": "chunk:1", "chunk_id": 1, "text": payload, "title": payload, "score": 1}
            ],
        },
    )
    rendered = render_turn(turn, link=str)
    assert "Sources (RAG" in rendered and "/chunks/1" in rendered
    assert "<img" not in rendered and "<script" not in rendered
