"""One name, one definition: reports and the gate refuse to compare or pool scores of
different versions of a metric, naming both versions."""

from __future__ import annotations

from typing import Any

import pytest

from evals.errors import MixedVersions
from evals.report import compare, gate, summarize

RAGAS = "ragas-0.4.3@judge"
OVERLAP = "overlap-1"


def items(version: str, values: list[float], metric: str = "faithfulness") -> list[dict[str, Any]]:
    return [
        {
            "example_id": str(i),
            "status": "ok",
            "latency_ms": 100.0,
            "scores": [
                {"metric": metric, "version": version, "value": v, "error": None},
                {"metric": "rouge_l", "version": "rouge-1", "value": 0.5, "error": None},
            ],
        }
        for i, v in enumerate(values)
    ]


def test_the_gate_refuses_two_versions_of_a_metric_naming_both() -> None:
    base = summarize("baseline", items(OVERLAP, [0.9, 0.8]))
    cand = summarize("candidate", items(RAGAS, [0.9, 0.8]))
    with pytest.raises(MixedVersions) as err:
        gate(base, cand, {"faithfulness": 0.05})
    message = str(err.value)
    assert OVERLAP in message and RAGAS in message
    assert "baseline" in message and "candidate" in message
    assert err.value.code == "mixed_metric_versions" and err.value.hint
    # Gating another metric both sides share a version of is fine.
    (check,) = gate(base, cand, {"rouge_l": 0.0})
    assert check.passed


def test_the_gate_passes_one_version_on_both_sides() -> None:
    base = summarize("baseline", items(RAGAS, [0.9, 0.8]))
    cand = summarize("candidate", items(RAGAS, [0.5, 0.4]))
    (check,) = gate(base, cand, {"faithfulness": 0.05})
    assert not check.passed and check.reason.startswith("dropped by 0.4")
    assert base.versions == {"faithfulness": RAGAS, "rouge_l": "rouge-1"}


def test_a_report_refuses_to_compare_two_versions() -> None:
    with pytest.raises(MixedVersions) as err:
        compare(("a", items(OVERLAP, [0.9])), ("b", items(RAGAS, [0.9])))
    assert f"faithfulness is version {OVERLAP} in a but version {RAGAS} in b" in str(err.value)
    same = compare(("a", items(RAGAS, [0.9, 0.7])), ("b", items(RAGAS, [0.8, 0.6])))
    assert [d.metric for d in same.diffs][:2] == ["faithfulness", "rouge_l"]


def test_one_side_never_averages_two_versions() -> None:
    mixed = items(OVERLAP, [1.0]) + items(RAGAS, [0.0])
    with pytest.raises(MixedVersions) as err:
        summarize("run 1", mixed)
    assert str(err.value).startswith(
        f"run 1 has faithfulness scores of two versions, {OVERLAP} and {RAGAS}"
    )
