"""Use cases: target parsing and validation, goal status on seeded data (CIs checked
against reference computations), the model-selection report, and the definition's life
in the store, the API and the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.errors import TargetError
from evals.goals import Observations, goal_status, parse_target, parse_targets
from evals.selection import pareto_front
from service.errors import InvalidRequest
from service.evaluation import usecases
from service.models.variants import load_variants


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rouge_x >= 0.3", "unknown metric 'rouge_x'; did you mean 'rouge_l'?"),
        ("rouge_l => 0.3", "unknown operator '=>'; use one of >=, <=, >, <"),
        ("rouge_l == 0.3", "unknown operator '=='"),
        ("p90_latency_s <= fast", "'fast' is not a number"),
        ("p90_latency_s <= nan", "must be a finite number"),
        ("satisfaction >= 1.2", "can never be met: satisfaction is between 0 and 1"),
        ("error_rate < 0", "can never be met: error_rate is between 0 and 1"),
        ("judge_helpfulness > 5", "judge_helpfulness is between 1 and 5"),
        ("rouge_l", "is not `metric operator number`"),
    ],
)
def test_a_bad_target_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(TargetError) as info:
        parse_target(text)
    assert message in str(info.value)


def test_targets_that_contradict_or_repeat_are_refused() -> None:
    with pytest.raises(TargetError, match="contradict each other: no value of rouge_l"):
        parse_targets(["rouge_l >= 0.8", "rouge_l <= 0.5"])
    with pytest.raises(TargetError, match="contradict"):
        parse_targets(["latency_s > 2", "latency_s < 2"])
    with pytest.raises(TargetError, match="given twice"):
        parse_targets(["error_rate <= 0.01", "error_rate <= 0.01"])
    ok = parse_targets(["rouge_l >= 0.3", "rouge_l <= 0.9", "p90_latency_s <= 2.5"])
    assert [str(t) for t in ok] == ["rouge_l >= 0.3", "rouge_l <= 0.9", "p90_latency_s <= 2.5"]
    assert ok[2].holds(2.5) and not ok[2].holds(2.51)


def test_a_use_case_file_is_validated_field_by_field(tmp_path: Path) -> None:
    path = tmp_path / "uc.yaml"
    path.write_text(
        "name: support\nvariants: [alpha, beta]\nbaseline: gamma\ntargets: ['rouge_l >= 2']\n"
    )
    with pytest.raises(InvalidRequest) as info:
        usecases.load_file(path)
    message = info.value.message
    assert "targets: target 'rouge_l >= 2' can never be met" in message
    assert "baseline 'gamma' is not one of the use case's variants" not in message  # one pass
    path.write_text("name: support\nvariants: [alpha]\nbaseline: gamma\ntargets: ['bleu >= 0.2']")
    with pytest.raises(InvalidRequest, match="baseline 'gamma' is not one of"):
        usecases.load_file(path)
    path.write_text("name: support\nvariants: [alpha]\ntargets: ['bleu >= 0.2']\ncolour: red\n")
    with pytest.raises(InvalidRequest, match="colour: Extra inputs are not permitted"):
        usecases.load_file(path)
    path.write_text("name: [unclosed\n")
    with pytest.raises(InvalidRequest, match="cannot be read"):
        usecases.load_file(path)
    toml = tmp_path / "uc.toml"
    toml.write_text('name = "t"\nvariants = ["alpha"]\ntargets = ["error_rate <= 0.01"]\n')
    assert usecases.load_file(toml).name == "t"


def test_the_bundled_example_is_valid_for_the_bundled_variants() -> None:

    spec = usecases.load_file(usecases.EXAMPLE_FILE)
    names = {v.name for v in load_variants(Path("service/defaults/variants.toml"))}
    assert set(spec.variants) <= names and spec.baseline in spec.variants
    assert spec.datasets == ["example"] and spec.collections == ["sample"]
    assert spec.parsed_targets()


def test_pareto_front() -> None:
    points = [("a", 1.0, 0.5), ("b", 2.0, 0.7), ("c", 2.5, 0.6), ("d", 0.5, 0.2), ("e", 1.0, 0.4)]
    assert pareto_front(points) == {"a", "b", "d"}


def test_a_metric_that_could_not_be_scored_says_so() -> None:

    answers = [
        {"status": "ok", "scores": [{"metric": "faithfulness", "value": None, "error": "no ctx"}]}
    ] * 12
    g = goal_status(parse_target("faithfulness >= 0.5"), Observations(answers=answers), 10)
    assert g.status == "insufficient"
    assert g.describe() == "not measured: none of its 12 answers could be scored for faithfulness"
