"""A scripted ragas judge: replies that depend on which ragas prompt is asked (instructor's
JSON mode puts the expected output schema, titled with its pydantic class, in the request),
for the fake OpenAI-compatible server's `responders`."""

from __future__ import annotations

import json
from typing import Any

QUESTION = "How long do I have to return a bike?"
ANSWER = "You can return an unused bike within 45 days. Shipping back is free."
CONTEXTS = (
    "Lumen Bikes accepts returns of unused bicycles within 45 days of delivery.",
    "Our stores open at nine in the morning.",
    "Lumen pays return shipping for every bicycle.",
)
REFERENCE = "Unused bikes can be returned within 45 days. Return shipping is free."
GENERATED_QUESTION = "Within how many days can I return an unused bike?"


def _text(body: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content", "")) for m in body.get("messages", []))


def ragas_reply(body: dict[str, Any]) -> str:
    """The judge's reply to one ragas prompt."""
    text = _text(body)
    if "StatementGeneratorOutput" in text:
        reply: dict[str, Any] = {
            "statements": ["Unused bikes can be returned within 45 days.", "Shipping is free."]
        }
    elif "NLIStatementOutput" in text:
        reply = {
            "statements": [
                {
                    "statement": "Unused bikes can be returned within 45 days.",
                    "reason": "ctx 1",
                    "verdict": 1,
                },
                {"statement": "Shipping is free.", "reason": "not stated", "verdict": 0},
                {"statement": "Bikes are bicycles.", "reason": "implied", "verdict": 1},
            ]
        }
    elif "AnswerRelevanceOutput" in text:
        reply = {"question": GENERATED_QUESTION, "noncommittal": 0}
    elif "ContextPrecisionOutput" in text:
        # Useful when the context being judged is one of Lumen's return rules (1st, 3rd).
        reply = {"reason": "r", "verdict": int("Lumen" in text)}
    elif "ContextRecallOutput" in text:
        reply = {
            "classifications": [
                {
                    "statement": "Unused bikes can be returned within 45 days.",
                    "reason": "ctx",
                    "attributed": 1,
                },
                {"statement": "Return shipping is free.", "reason": "ctx 3", "attributed": 1},
                {"statement": "It is fast.", "reason": "absent", "attributed": 0},
            ]
        }
    elif "ClaimDecompositionOutput" in text:
        reply = {"claims": ["Bikes can be returned within 45 days.", "Shipping back is free."]}
    else:
        return "I cannot help with that."
    return json.dumps(reply, ensure_ascii=False)


def empty_statements_reply(body: dict[str, Any]) -> str:
    """A judge that finds no statements in any answer: ragas' faithfulness is then NaN."""
    if "StatementGeneratorOutput" in _text(body):
        return json.dumps({"statements": []})
    return ragas_reply(body)


def unparsable_reply(body: dict[str, Any]) -> str:
    return "Sure! The answer looks fine to me."
