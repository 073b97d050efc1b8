"""The base models' customization limits (service/defaults/customization_limits.toml) and the
checks made from them before anything is written or submitted."""

from __future__ import annotations

from typing import Any

import pytest

from service.errors import InvalidRequest
from service.tuning import limits


def _record(prompt: str = "How do I charge it?", answer: str = "Plug it in.") -> dict[str, Any]:
    return {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "Be brief."}],
        "messages": [
            {"role": "user", "content": [{"text": prompt}]},
            {"role": "assistant", "content": [{"text": answer}]},
        ],
    }


def test_the_table_reads_and_each_model_has_documented_defaults_inside_its_ranges() -> None:
    table = limits.all_limits()
    assert {"amazon.nova-micro-v1:0:128k", "anthropic.claude-3-haiku-20240307-v1:0:200k"} <= set(
        table
    )
    for model in table.values():
        assert model.min_train_records <= model.max_train_records
        for hp in model.hyperparameters.values():
            assert hp.min <= hp.default <= hp.max


def test_a_variant_model_id_finds_its_customization_entry() -> None:
    assert limits.limits_for("amazon.nova-micro-v1:0").model_id == "amazon.nova-micro-v1:0:128k"
    assert limits.limits_for("us.amazon.nova-lite-v1:0").model_id == "amazon.nova-lite-v1:0:300k"
    with pytest.raises(InvalidRequest, match="no Bedrock customization limits") as exc:
        limits.limits_for("mistral.mistral-7b-instruct-v0:2")
    assert "amazon.nova-micro-v1:0:128k" in exc.value.hint


def test_hyperparameters_default_as_documented_and_each_bad_value_is_named() -> None:
    nova = limits.limits_for("amazon.nova-micro-v1:0")
    assert limits.hyperparameters(nova, {}) == {
        "epochCount": "2",
        "learningRate": "1e-05",
        "learningRateWarmupSteps": "10",
    }
    assert limits.hyperparameters(nova, {"learningRate": "0.00005"})["learningRate"] == "5e-05"
    with pytest.raises(InvalidRequest) as exc:
        limits.hyperparameters(nova, {"epochCount": "0", "learningRate": "fast", "batchSize": "8"})
    message = exc.value.message
    assert "epochCount: 0 is outside 1..5 (default 2)" in message
    assert "learningRate: 'fast' is not a number" in message
    assert "batchSize: Amazon Nova Micro takes no such hyperparameter" in message


def test_dataset_rules_each_give_one_message() -> None:
    nova = limits.limits_for("amazon.nova-micro-v1:0")
    assert limits.dataset_problems(nova, [_record()] * 8, []) == []
    problems = limits.dataset_problems(
        nova,
        [_record("System: be rude"), _record(answer="x" * 130_000), *[_record()] * 3],
        [],
    )
    assert problems[0] == "5 training records; Amazon Nova Micro needs at least 8"
    assert any("longer than 128,000 characters" in p and "record 2" in p for p in problems)
    assert any("reserved keyword 'System:'" in p and "record 1" in p for p in problems)
    assert len(problems) == 3
    too_many = limits.dataset_problems(nova, [_record()] * 20_001, [])
    assert too_many == [
        "20001 training records; Amazon Nova Micro takes at most 20,000 (narrow the filters, e.g. --since)"
    ]


def test_methods_a_model_does_not_take_on_bedrock_say_where_they_run() -> None:
    nova = limits.limits_for("amazon.nova-pro-v1:0")
    assert limits.method_spec(nova, "sft").format == "bedrock-sft"
    with pytest.raises(InvalidRequest) as exc:
        limits.method_spec(nova, "dpo")
    assert "--target sagemaker" in exc.value.hint


def _trl(*roles: str) -> dict[str, Any]:
    return {"messages": [{"role": r, "content": f"{r} text"} for r in roles], "provenance": {}}


def test_sagemaker_methods_train_on_their_trl_exports() -> None:
    table = limits.sagemaker_limits()
    assert limits.sagemaker_format(table, "sft") == "trl-sft"
    assert limits.sagemaker_format(table, "dpo") == "trl-preference"
    with pytest.raises(InvalidRequest, match="kto is not offered on SageMaker") as exc:
        limits.sagemaker_format(table, "kto")
    assert "sft, dpo" in exc.value.hint


def test_sagemaker_hyperparameters_follow_the_create_training_job_limits() -> None:
    table = limits.sagemaker_limits()
    assert limits.sagemaker_hyperparameters(table, "sft", {"learning_rate": "2e-5"}) == {
        "method": "sft",
        "learning_rate": "2e-5",
    }
    many = {f"k{i}": "1" for i in range(100)}
    with pytest.raises(InvalidRequest) as exc:
        limits.sagemaker_hyperparameters(table, "sft", many | {"long": "v" * 2501})
    message = exc.value.message
    assert "102 hyperparameters (with `method`); SageMaker takes at most 100" in message
    assert "long: the value has 2,501 characters; SageMaker takes at most 2,500" in message
    assert exc.value.code == "tuning_limit"


def test_sagemaker_dataset_problems_name_each_rule_once_with_the_first_record() -> None:
    table = limits.sagemaker_limits()
    good = [_trl("system", "user", "assistant") for _ in range(8)]
    assert limits.sagemaker_dataset_problems(table, "trl-sft", good) == []
    bad = [*good[:5], _trl("user"), _trl("assistant"), _trl("user")]
    problems = limits.sagemaker_dataset_problems(table, "trl-sft", bad)
    assert problems == [
        "2 records are not valid trl-sft: messages must end with the assistant's answer "
        "(first: record 6)",
        "1 records are not valid trl-sft: messages need a user turn (first: record 7)",
    ]
    few = limits.sagemaker_dataset_problems(table, "trl-sft", good[:3])
    assert few == ["3 training records; a SageMaker tuning needs at least 8"]
