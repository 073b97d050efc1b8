"""Calling a judge model: the `Complete` function type, asking it one prompt, and reading
the JSON object out of its reply. Shared by the answer judges (`evals.judges`) and the RAG
judges (`evals.rag_judges`)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from evals.errors import UnparsableVerdict

Complete = Callable[[list[dict[str, str]]], str]
"""A chat completion: messages (`role`, `content`) in, the reply's text out."""

_JSON_OBJECT = re.compile(r"\{.*\}", re.S)


def ask(complete: Complete, prompt: str) -> str:
    """The judge's reply to one user message."""
    return complete([{"role": "user", "content": prompt}])


def parse_json(raw: str) -> dict[str, Any]:
    """The JSON object in a judge's reply (text around it is ignored). Raises
    `UnparsableVerdict` when there is none or it is not valid JSON."""
    match = _JSON_OBJECT.search(raw)
    if match is None:
        raise UnparsableVerdict("the judge's reply has no JSON object")
    try:
        data = json.loads(match.group(0))
    except json.JSONDecodeError as exc:
        raise UnparsableVerdict(f"the judge's JSON is invalid: {exc.msg}") from None
    if not isinstance(data, dict):
        raise UnparsableVerdict("the judge's JSON is not an object")
    return data
