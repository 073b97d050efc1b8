"""The regression gate and reports on stored runs refuse two versions of one metric with the
service's error (code `mixed_metric_versions`, both versions named), as the CLI and the API
show it."""

from __future__ import annotations

import pytest

from service.errors import ArbiterError
from service.evaluation.reports import build_report, run_gate
from service.store import Store
from service.store.tables import EvalItemRow, EvalRunRow

OVERLAP = "overlap-1"
RAGAS = "ragas-0.4.3@judge"


def _run(store: Store, run_id: str, version: str, value: float) -> None:
    with store.session() as s:
        s.add(
            EvalRunRow(
                id=run_id,
                name=run_id,
                dataset_path="d.jsonl",
                dataset_sha256="0" * 64,
                variants=["alpha"],
                metrics=["faithfulness"],
                judge=None,
                total=2,
                status="done",
            )
        )
        s.flush()
        for i in range(2):
            s.add(
                EvalItemRow(
                    run_id=run_id,
                    example_id=f"e{i}",
                    variant="alpha",
                    prompt="q",
                    reference=None,
                    answer="a",
                    status="ok",
                    latency_ms=10.0,
                    scores=[
                        {
                            "metric": "faithfulness",
                            "version": version,
                            "value": value,
                            "error": None,
                        }
                    ],
                )
            )


def test_gate_and_report_refuse_mixed_versions(store: Store) -> None:
    _run(store, "base", OVERLAP, 0.9)
    _run(store, "cand", RAGAS, 0.9)
    _run(store, "cand2", OVERLAP, 0.5)
    with pytest.raises(ArbiterError) as err:
        run_gate(store, "base", "cand", {"faithfulness": 0.05})
    assert err.value.code == "mixed_metric_versions"
    assert OVERLAP in err.value.message and RAGAS in err.value.message
    with pytest.raises(ArbiterError) as report_err:
        build_report(store, "cand", against="base")
    assert report_err.value.code == "mixed_metric_versions"
    (check,) = run_gate(store, "base", "cand2", {"faithfulness": 0.05})
    assert not check.passed and "dropped by 0.4" in check.reason
