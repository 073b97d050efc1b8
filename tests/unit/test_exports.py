"""Exports of labels as training data, the pure parts: the formats, the quick screen that
spares most texts the redaction patterns (exact: it never skips a text a pattern matches),
and the JSON lines written."""

from __future__ import annotations

import json
import random

from evals.exports import (
    FORMATS,
    REDACTIONS,
    Completion,
    Demonstration,
    Pair,
    Redactor,
    dedup,
    json_line,
    json_text,
    may_hold_pii,
)


def test_every_format_is_listed_with_a_record_type() -> None:
    assert set(FORMATS) == {
        "trl-preference",
        "trl-kto",
        "reward-pairs",
        "hh-rlhf",
        "bedrock-dpo",
        "bedrock-sft",
        "trl-sft",
    }


# One or more real matches of every kind of REDACTIONS, near its edges (the shortest, odd
# cases, separators): the quick screen must let each through to the patterns.
PII_SAMPLES = {
    "EMAIL": ["a@b.co", "jane.doe+x@example.com"],
    "AWS_ACCESS_KEY": ["AKIAIOSFODNN7EXAMPLE", "key ASIAABCDEFGHIJKLMNOP here"],
    "AWS_SECRET_KEY": ["AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'"],
    "API_KEY": ["sk-abcdefghijklmnop1234", "rk-ABCDEFGHIJKLMNOP", "ghp_" + "a" * 36],
    "BEARER_TOKEN": ["Bearer abcdefghijklmnopqrstuvwxyz", "BEARER 0123456789abcdefghij=="],
    "IP_ADDRESS": ["1.2.3.4", "host 192.168.0.12 up"],
    "CARD_NUMBER": ["4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111"],
    "PHONE": ["+1 415 555 0134", "(415) 555-0134", "415.555.0134", "0044 20 7946 0958"],
}


def test_the_pii_screen_lets_every_kind_through() -> None:
    assert set(PII_SAMPLES) == {kind for kind, _, _ in REDACTIONS}  # a new kind needs samples
    patterns = {kind: pattern for kind, pattern, _ in REDACTIONS}
    for kind, samples in PII_SAMPLES.items():
        for sample in samples:
            assert patterns[kind].search(sample), (kind, sample)  # a real match
            assert may_hold_pii(sample), (kind, sample)
            assert f"[{kind}]" in Redactor().text(f"见 {sample} ok"), (kind, sample)


def test_a_text_the_screen_passes_over_matches_no_pattern() -> None:
    """Random texts built from what the patterns look for (digits, separators, key prefixes,
    '@', '_'): whenever the screen says no PII, no pattern matches, so redaction is exact."""
    rng = random.Random(7)
    pieces = [*"0123456789", " ", ".", "-", "(", ")", "+", "@", "_", "k", "s", "A", "K", "I"]
    pieces += ["AKI", "ASI", "sk", "gh", "bear", "er", "Bearer ", "例", "é", "ab", "com"]
    passed_over = 0
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 30)))
        if not may_hold_pii(text):
            passed_over += 1
            assert all(p.search(text) is None for _, p, _ in REDACTIONS), text
            assert Redactor().text(text) == text
    assert passed_over > 1000  # the property was exercised


def test_a_json_line_is_compact_utf8_and_reads_back() -> None:
    row = {"prompt": [{"role": "user", "content": '哪辆 "bike"?\n'}], "margin": 0.5, "ok": True}
    line = json_line(row)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == row and "哪辆".encode() in line  # not \u-escaped
    assert line == json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
    # What orjson refuses goes through the standard library, in the same form.
    assert json_line({"n": 2**70}) == b'{"n":1180591620717411303424}\n'
    assert json_text({"a": [1, "é"]}) == '{"a":[1,"é"]}'


def test_a_record_the_screen_passes_over_is_left_as_it_is() -> None:
    """The screen on a record's texts at once says the same as on each text: a record it
    passes over comes back unchanged, one it does not is redacted text by text."""
    rng = random.Random(11)
    pieces = [*"0123456789", " ", ".", "-", "(", ")", "@", "_", "k", "s", "A", "K", "I", "例"]
    pieces += ["AKI", "ASI", "A", "bear", "er", "\x00", "Σ", "ab"]

    def text() -> str:
        return "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 12)))

    for _ in range(5_000):
        prompt = [{"role": "user", "content": text()} for _ in range(rng.randrange(1, 3))]
        records = [
            Pair(prompt, text(), text(), {"turn_id": "t"}),
            Completion(prompt, text(), rng.random() < 0.5, {}),
            Demonstration(prompt, text(), {}),
        ]
        for record in records:
            texts = [m["content"] for m in record.prompt]
            texts += [
                getattr(record, f)
                for f in ("chosen", "rejected", "completion", "answer")
                if hasattr(record, f)
            ]
            assert Redactor.may_change(record) == any(may_hold_pii(t) for t in texts), texts
            redactor = Redactor()
            redacted = redactor.record(record)
            if not Redactor.may_change(record):
                assert redacted is record and not redactor.counts


def test_exact_repeats_only_are_dropped_whatever_the_texts_hold() -> None:
    one = [{"role": "user", "content": "a\x1euser\x1fb"}]
    two = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
    records = [Pair(one, "x", "y", {}), Pair(two, "x", "y", {}), Pair(one, "x", "y", {"k": 1})]
    records += [Pair(one, "x\ud800", "y", {}), Pair(one, "x\ud800", "y", {})]  # lone surrogate
    records += [Completion(one, "x", True, {}), Completion(one, "x", False, {})]
    assert dedup(records) == [records[k] for k in (0, 1, 3, 5, 6)]
