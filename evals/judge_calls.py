# ruff: noqa: RUF002  (full-width and CJK punctuation on purpose)
"""Calling a judge model: the `Complete` function type, asking it one prompt, and reading
its reply: the JSON object in it, and the verdicts in that object (a 1-5 score, true /
false, A / B / tie). Shared by the answer judges (`evals.judges`) and the RAG judges
(`evals.rag_judges`).

Judges asked about Chinese (or Japanese, Korean...) text often answer in kind: prose
around the JSON, full-width punctuation inside it (`｛"helpfulness"：４，…｝`), curly
quotes for JSON quotes, and verdicts in words (`"是"`, `"平局"`, `"4分"`, `"答案A"`). The
reply is read as is first, then repaired (NFKC folds full-width forms to ASCII; then curly
quotes become straight ones); a verdict is accepted in the few unambiguous forms below,
anything else is an `UnparsableVerdict` — never a guessed score."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from typing import Any, Literal

from evals.errors import UnparsableVerdict

Complete = Callable[[list[dict[str, str]]], str]
"""A chat completion: messages (`role`, `content`) in, the reply's text out."""

Winner = Literal["a", "b", "tie"]

_JSON_OBJECT = re.compile(r"\{.*\}", re.S)
_CURLY_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "「": '"', "」": '"'})
_SCORE = re.compile(r"^([1-5])(?:\.0+)?\s*(?:分|points?|/\s*5)?$")
_TRUE = {"true", "yes", "是", "是的", "对", "支持", "有用", "はい", "예"}
_FALSE = {"false", "no", "否", "不是", "不", "不支持", "无用", "いいえ", "아니요"}
_TIE = ("tie", "平局", "平手", "持平", "不相上下", "一样好", "同样好", "引き分け", "무승부")
_LETTER = re.compile(r"(?<![a-z])([ab])(?![a-z])")


def ask(complete: Complete, prompt: str) -> str:
    """The judge's reply to one user message."""
    return complete([{"role": "user", "content": prompt}])


def _object(text: str) -> dict[str, Any]:
    match = _JSON_OBJECT.search(text)
    if match is None:
        raise UnparsableVerdict("the judge's reply has no JSON object")
    try:
        data = json.loads(match.group(0))
    except json.JSONDecodeError as exc:
        raise UnparsableVerdict(f"the judge's JSON is invalid: {exc.msg}") from None
    if not isinstance(data, dict):
        raise UnparsableVerdict("the judge's JSON is not an object")
    return data


def parse_json(raw: str) -> dict[str, Any]:
    """The JSON object in a judge's reply (text around it is ignored), repaired when it is
    written with full-width punctuation or curly quotes. Raises `UnparsableVerdict` when
    there is none or it is not valid JSON even so (the reason given is the reply's own)."""
    try:
        return _object(raw)
    except UnparsableVerdict as first:
        folded = unicodedata.normalize("NFKC", raw)
        for repaired in (folded, folded.translate(_CURLY_QUOTES)):
            try:
                return _object(repaired)
            except UnparsableVerdict:
                continue
        raise first from None


def _folded(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip().lower()


def verdict_score(value: Any) -> int | None:
    """A 1-5 score: an integer, or a string holding one (`"4"`, `"４"`, `"4分"`, `"4/5"`);
    None for anything else (0, 9, 3.5, "good", true)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and value in (1, 2, 3, 4, 5):
        return int(value)
    if isinstance(value, str):
        match = _SCORE.match(_folded(value))
        return int(match.group(1)) if match else None
    return None


def verdict_flag(value: Any) -> bool | None:
    """true / false: a JSON boolean, or yes / no in words (`"yes"`, `"是"`, `"否"`)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = _folded(value).rstrip("。.!！")
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    return None


def verdict_winner(value: Any) -> Winner | None:
    """`a`, `b` or `tie`: those words in any case or width, a tie in words (`平局`), or
    the one letter named among other words (`"答案A"`, `"A 更好"`); None when it names
    both letters or neither."""
    if not isinstance(value, str):
        return None
    word = _folded(value)
    if word == "tie":
        return "tie"
    if any(t in word for t in _TIE):
        return "tie"
    letters = set(_LETTER.findall(word))
    if letters == {"a"}:
        return "a"
    if letters == {"b"}:
        return "b"
    return None
