"""Human labels as training data: the records, the formats that trainers read, their
validation, splits by prompt, de-duplication and PII redaction. Pure functions; the
service gathers the labels from the store and writes the files.

Formats (one JSON object per line, or Parquet):
- `trl-preference`: TRL's conversational preference format, `prompt` (messages, the whole
  history) / `chosen` / `rejected` (one assistant message each);
- `trl-kto`: TRL's unpaired format, `prompt` / `completion` / `label` (true: desirable);
- `reward-pairs`: preference pairs with `margin`, the difference of mean rubric scores;
- `hh-rlhf`: Anthropic HH-RLHF transcripts, `chosen` / `rejected` ("\\n\\nHuman: ...");
- `bedrock-dpo`: Amazon Bedrock (Nova) preference fine-tuning, the last assistant turn as
  `candidates` labelled `preferred` / `non-preferred`;
- `bedrock-sft`: Bedrock conversation JSONL of ideal answers, for supervised fine-tuning;
- `trl-sft`: TRL's conversational language-modeling format for `SFTTrainer`, `messages`
  (the whole history, then the ideal answer as the last assistant message).
Every record carries `provenance` (turn, variants, parameters, RAG chunk ids, panes,
rater, time, campaign), except where the target schema forbids extra keys (Bedrock: a
sidecar file holds it)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

Message = dict[str, str]
BEDROCK_SCHEMA = "bedrock-conversation-2024"


@dataclass(frozen=True)
class Pair:
    """One preference: the same prompt (with its history), a chosen and a rejected answer."""

    prompt: list[Message]  # system?, then user/assistant turns, ending with a user turn
    chosen: str
    rejected: str
    provenance: dict[str, Any]
    margin: float | None = None


@dataclass(frozen=True)
class Completion:
    """One answer judged on its own: desirable or not (KTO)."""

    prompt: list[Message]
    completion: str
    label: bool
    provenance: dict[str, Any]


@dataclass(frozen=True)
class Demonstration:
    """An ideal answer written by a rater (supervised fine-tuning)."""

    prompt: list[Message]
    answer: str
    provenance: dict[str, Any]


Record = Pair | Completion | Demonstration


# ---- formats ---------------------------------------------------------------------------


def _assistant(text: str) -> list[Message]:
    return [{"role": "assistant", "content": text}]


def trl_preference(p: Pair) -> dict[str, Any]:
    return {
        "prompt": p.prompt,
        "chosen": _assistant(p.chosen),
        "rejected": _assistant(p.rejected),
        "provenance": p.provenance,
    }


def reward_pair(p: Pair) -> dict[str, Any]:
    return {**trl_preference(p), "margin": p.margin if p.margin is not None else 0.0}


def trl_kto(c: Completion) -> dict[str, Any]:
    return {
        "prompt": c.prompt,
        "completion": _assistant(c.completion),
        "label": c.label,
        "provenance": c.provenance,
    }


def _transcript(messages: Sequence[Message], answer: str) -> str:
    names = {"user": "Human", "assistant": "Assistant"}
    parts = [f"\n\n{names[m['role']]}: {m['content']}" for m in messages if m["role"] in names]
    return "".join(parts) + f"\n\nAssistant: {answer}"


def hh_rlhf(p: Pair) -> dict[str, Any]:
    return {
        "chosen": _transcript(p.prompt, p.chosen),
        "rejected": _transcript(p.prompt, p.rejected),
        "provenance": p.provenance,
    }


def _bedrock_messages(
    prompt: Sequence[Message],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    system = [{"text": m["content"]} for m in prompt if m["role"] == "system"]
    messages = [
        {"role": m["role"], "content": [{"text": m["content"]}]}
        for m in prompt
        if m["role"] in ("user", "assistant")
    ]
    return system, messages


def bedrock_dpo(p: Pair) -> dict[str, Any]:
    system, messages = _bedrock_messages(p.prompt)
    messages.append(
        {
            "role": "assistant",
            "candidates": [
                {"content": [{"text": p.chosen}], "preferenceLabel": "preferred"},
                {"content": [{"text": p.rejected}], "preferenceLabel": "non-preferred"},
            ],
        }
    )
    return {"schemaVersion": BEDROCK_SCHEMA, "system": system, "messages": messages}


def trl_sft(d: Demonstration) -> dict[str, Any]:
    return {"messages": [*d.prompt, *_assistant(d.answer)], "provenance": d.provenance}


def bedrock_sft(d: Demonstration) -> dict[str, Any]:
    system, messages = _bedrock_messages(d.prompt)
    messages.append({"role": "assistant", "content": [{"text": d.answer}]})
    return {"schemaVersion": BEDROCK_SCHEMA, "system": system, "messages": messages}


@dataclass(frozen=True)
class Format:
    name: str
    kind: type  # the record type it takes
    render: Callable[[Any], dict[str, Any]]
    provenance_inline: bool = True  # False: the schema allows no extra keys (sidecar file)
    description: str = ""
    margin: bool = False  # writes each pair's rubric margin (else it need not be read)


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("trl-preference", Pair, trl_preference, description="TRL DPO/ORPO (conversational)"),
        Format("trl-kto", Completion, trl_kto, description="TRL KTO (unpaired)"),
        Format(
            "reward-pairs",
            Pair,
            reward_pair,
            description="reward model pairs with a margin",
            margin=True,
        ),
        Format("hh-rlhf", Pair, hh_rlhf, description="Anthropic HH-RLHF transcripts"),
        Format("bedrock-dpo", Pair, bedrock_dpo, False, "Amazon Bedrock preference tuning"),
        Format("bedrock-sft", Demonstration, bedrock_sft, False, "Bedrock SFT from ideal answers"),
        Format("trl-sft", Demonstration, trl_sft, description="TRL SFT (conversational messages)"),
    )
}


def json_text(value: Any) -> str:
    """`value` as compact JSON (no spaces after separators), non-ASCII written as is."""
    return json_line(value)[:-1].decode("utf-8")


def json_line(value: Any) -> bytes:
    """`value` as one line of JSONL, UTF-8: what every export file and stream writes. orjson:
    a tenth of the standard library's time, which was a fifth of an export's."""
    try:
        return orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:  # what orjson refuses (integers beyond 64 bits): the standard library
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return (text + "\n").encode("utf-8")


# ---- validation --------------------------------------------------------------------------


def _check_messages(messages: Any, where: str, problems: list[str]) -> None:
    if not isinstance(messages, list) or not messages:
        problems.append(f"{where} must be a non-empty list of messages")
        return
    for m in messages:
        if not (
            isinstance(m, dict)
            and m.get("role") in ("system", "user", "assistant")
            and isinstance(m.get("content"), str)
        ):
            problems.append(f"{where}: every message needs a role and text content")
            return


def _check_bedrock(record: dict[str, Any], problems: list[str], *, preference: bool) -> None:
    if record.get("schemaVersion") != BEDROCK_SCHEMA:
        problems.append(f"schemaVersion must be {BEDROCK_SCHEMA}")
    if not all(
        isinstance(s, dict) and isinstance(s.get("text"), str) for s in record.get("system", [])
    ):
        problems.append("system must be a list of {text}")
    messages = record.get("messages")
    if not isinstance(messages, list) or len(messages) < 2:
        problems.append("messages must hold at least a user and an assistant turn")
        return
    expected = "user"
    for k, m in enumerate(messages):
        if m.get("role") != expected:
            problems.append(
                f"messages[{k}] must be a {expected} turn (turns alternate, user first)"
            )
            return
        last = k == len(messages) - 1
        if last and preference:
            candidates = m.get("candidates")
            labels = sorted(c.get("preferenceLabel", "") for c in candidates or [])
            if labels != ["non-preferred", "preferred"] or "content" in m:
                problems.append("the last turn needs two candidates: preferred and non-preferred")
            for c in candidates or []:
                if not (
                    c.get("content")
                    and all(isinstance(x.get("text"), str) and x["text"] for x in c["content"])
                ):
                    problems.append("each candidate needs non-empty text content")
        elif not (m.get("content") and all(isinstance(x.get("text"), str) for x in m["content"])):
            problems.append(f"messages[{k}] needs text content")
        expected = "assistant" if expected == "user" else "user"
    if messages[-1].get("role") != "assistant":
        problems.append("the last turn must be the assistant's")


def validate(format_name: str, record: dict[str, Any]) -> list[str]:
    """Problems with one rendered record (empty: valid). TRL's conversational checks: the
    prompt is a list of role/content messages, completions are assistant messages; the
    Bedrock checks follow the documented conversation schema."""
    problems: list[str] = []
    if format_name in ("trl-preference", "reward-pairs"):
        _check_messages(record.get("prompt"), "prompt", problems)
        for key in ("chosen", "rejected"):
            _check_messages(record.get(key), key, problems)
            if record.get(key) and record[key][-1].get("role") != "assistant":
                problems.append(f"{key} must end with an assistant message")
        if format_name == "reward-pairs" and not isinstance(record.get("margin"), int | float):
            problems.append("margin must be a number")
    elif format_name == "trl-kto":
        _check_messages(record.get("prompt"), "prompt", problems)
        _check_messages(record.get("completion"), "completion", problems)
        if not isinstance(record.get("label"), bool):
            problems.append("label must be true or false")
    elif format_name == "hh-rlhf":
        for key in ("chosen", "rejected"):
            text = record.get(key)
            if not (
                isinstance(text, str)
                and text.startswith("\n\nHuman: ")
                and "\n\nAssistant: " in text
            ):
                problems.append(f"{key} must be a Human/Assistant transcript")
    elif format_name == "trl-sft":
        messages = record.get("messages")
        _check_messages(messages, "messages", problems)
        if isinstance(messages, list) and messages and isinstance(messages[-1], dict):
            if messages[-1].get("role") != "assistant":
                problems.append("messages must end with the assistant's answer")
            if not any(isinstance(m, dict) and m.get("role") == "user" for m in messages):
                problems.append("messages need a user turn")
    elif format_name == "bedrock-dpo":
        _check_bedrock(record, problems, preference=True)
    elif format_name == "bedrock-sft":
        _check_bedrock(record, problems, preference=False)
    else:
        problems.append(f"unknown format {format_name!r}")
    return problems


# ---- splits, duplicates, redaction --------------------------------------------------------


def prompt_key(prompt: Sequence[Message]) -> str:
    """Records with the same conversation up to the answer share a key (and a split)."""
    text = "\x1e".join(f"{m['role']}\x1f{m['content']}" for m in prompt)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def split_of(prompt: Sequence[Message], test_fraction: float, seed: str = "arbiter") -> str:
    """ "train" or "test", decided by the prompt alone: no prompt lands in both splits."""
    digest = hashlib.sha256((seed + prompt_key(prompt)).encode()).digest()
    return "test" if int.from_bytes(digest[:8], "big") / 2**64 < test_fraction else "train"


def _dedup_key(r: Record) -> bytes:
    body: tuple[Any, ...]
    if isinstance(r, Pair):
        body = ("p", r.chosen, r.rejected)
    elif isinstance(r, Completion):
        body = ("c", r.completion, r.label)
    else:
        body = ("d", r.answer)
    prompt = [(m["role"], m["content"]) for m in r.prompt]
    try:
        data = orjson.dumps((body, prompt))  # JSON: no two records' texts run together
    except orjson.JSONEncodeError:  # a lone surrogate, which JSON cannot hold
        data = b"\0" + repr((body, prompt)).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16).digest()


class Deduplicator:
    """Tells whether a record is the first of its kind (same prompt and same answers).

    The keys seen so far are kept in a scratch SQLite file rather than a Python set: a set
    of a million keys costs ~100 MB of memory, the file's page cache a fixed 16 MB, so an
    export's memory stays flat however many records it writes."""

    def __init__(self) -> None:
        handle, self._path = tempfile.mkstemp(prefix="arbiter-dedup-", suffix=".db")
        os.close(handle)
        self._db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-16000"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute("CREATE TABLE seen (key BLOB PRIMARY KEY) WITHOUT ROWID")
        self._db.execute("BEGIN")
        self._cursor = self._db.cursor()

    def first(self, record: Record) -> bool:
        self._cursor.execute("INSERT OR IGNORE INTO seen VALUES (?)", (_dedup_key(record),))
        return self._cursor.rowcount == 1

    def close(self) -> None:
        self._db.close()
        os.unlink(self._path)

    def __enter__(self) -> Deduplicator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def dedup(records: Iterable[Record]) -> list[Record]:
    """Drop exact repeats (same prompt and same answers), keeping the first."""
    with Deduplicator() as seen:
        return [r for r in records if seen.first(r)]


def _luhn(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    checksum = sum(digits[-1::-2]) + sum(sum(divmod(2 * d, 10)) for d in digits[-2::-2])
    return checksum % 10 == 0


def _phone(number: str) -> bool:
    return 9 <= sum(c.isdigit() for c in number) <= 15


# A documented rule set rather than Presidio: Presidio's recognisers need a spaCy language
# model, a large download at run time; these patterns cover what the exports must remove.
# Card numbers must pass the Luhn check and phone numbers hold 9-15 digits, so dates and
# ordinary numbers are left alone.
REDACTIONS: list[tuple[str, re.Pattern[str], Callable[[str], bool] | None]] = [
    ("EMAIL", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), None),
    ("AWS_ACCESS_KEY", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), None),
    (
        "AWS_SECRET_KEY",
        re.compile(r"(?i)aws_secret_access_key\s*[:=]\s*['\"]?[A-Za-z0-9/+=]{40}"),
        None,
    ),
    (
        "API_KEY",
        re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}\b|\bgh[pousr]_[A-Za-z0-9]{30,}\b"),
        None,
    ),
    ("BEARER_TOKEN", re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/-]{20,}=*"), None),
    ("IP_ADDRESS", re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"), None),
    ("CARD_NUMBER", re.compile(r"\b(?:\d[ -]?){12,18}\d\b"), _luhn),
    ("PHONE", re.compile(r"(?<![\w+])\+?\(?\d[\d ().-]{7,18}\d(?![\w])"), _phone),
]


# What every match of REDACTIONS holds: an "@" (EMAIL), AKIA or ASIA (AWS_ACCESS_KEY), "k-"
# (API_KEY's sk-, pk-, rk-), an underscore (API_KEY's gh?_, AWS_SECRET_KEY), "bearer" in any
# case (BEARER_TOKEN), or a digit, five or more digits, spaces, brackets, dots or hyphens, and
# a digit (IP_ADDRESS, CARD_NUMBER, PHONE). A text with none of them is left as it is without
# running the patterns: most texts, and the patterns were a third of an export's time.
_DIGIT_RUN = re.compile(r"\d[\d ().-]{5,}\d")


def may_hold_pii(value: str) -> bool:
    """False only when no pattern of REDACTIONS can match `value`."""
    return (
        "@" in value
        or "AKIA" in value
        or "ASIA" in value
        or "k-" in value
        or "_" in value
        or "bearer" in value.lower()
        or _DIGIT_RUN.search(value) is not None
    )


@dataclass
class Redactor:
    """Replaces each match with [KIND]; counts what it replaced."""

    counts: dict[str, int] = field(default_factory=dict)

    def text(self, value: str) -> str:
        if not may_hold_pii(value):
            return value
        for kind, pattern, check in REDACTIONS:

            def replace(match: re.Match[str], kind: str = kind, check: Any = check) -> str:
                if check is not None and not check(match.group(0)):
                    return match.group(0)
                self.counts[kind] = self.counts.get(kind, 0) + 1
                return f"[{kind}]"

            value = pattern.sub(replace, value)
        return value

    @staticmethod
    def may_change(r: Record) -> bool:
        """Whether redacting `r` can change any of its texts: the quick screen on all of them
        at once (a separator no pattern crosses keeps one text's match from running into the
        next, so this is exactly "the screen passes some text")."""
        texts = [m["content"] for m in r.prompt]
        if isinstance(r, Pair):
            texts += (r.chosen, r.rejected)
        else:
            texts.append(r.completion if isinstance(r, Completion) else r.answer)
        return may_hold_pii("\x00".join(texts))

    def messages(self, messages: Sequence[Message]) -> list[Message]:
        return [{**m, "content": self.text(m["content"])} for m in messages]

    def record(self, r: Record) -> Record:
        if not self.may_change(r):
            return r  # what the rebuild below would give, copied
        if isinstance(r, Pair):
            return Pair(
                self.messages(r.prompt),
                self.text(r.chosen),
                self.text(r.rejected),
                r.provenance,
                r.margin,
            )
        if isinstance(r, Completion):
            return Completion(
                self.messages(r.prompt), self.text(r.completion), r.label, r.provenance
            )
        return Demonstration(self.messages(r.prompt), self.text(r.answer), r.provenance)
