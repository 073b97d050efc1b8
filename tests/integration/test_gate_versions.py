"""The regression gate and reports on stored runs refuse two versions of one metric with the
service's error (code `mixed_metric_versions`, both versions named), as the CLI and the API
show it; the dashboard keeps one line per version."""

from __future__ import annotations

import pytest

from service.errors import ArbiterError
from service.evaluation.dashboard import series
from service.evaluation.reports import build_report, run_gate
from service.store import Store, rollup_rebuild
from service.store.tables import (
    AnswerRow,
    ConversationRow,
    EvalItemRow,
    EvalRunRow,
    ScoreRow,
    TurnRow,
)

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


def test_the_dashboard_draws_one_line_per_version_never_a_mean_of_both(store: Store) -> None:
    with store.session() as s:
        s.add(ConversationRow(id="c1", variant_names=["alpha"]))
        s.flush()
        s.add(TurnRow(id="t1", conversation_id="c1", position=0, prompt="q", status="done"))
        s.flush()
        s.add(
            AnswerRow(
                id="a1",
                turn_id="t1",
                pane=0,
                variant_name="alpha",
                variant_spec={},
                request={},
                status="ok",
            )
        )
        s.flush()
        for i, (metric, version, value) in enumerate(
            [
                ("faithfulness", OVERLAP, 1.0),
                ("faithfulness", RAGAS, 0.0),
                ("rouge_l", "rouge-1", 0.5),
            ]
        ):
            s.add(
                ScoreRow(
                    id=f"s{i}",
                    answer_id="a1",
                    turn_id="t1",
                    variant_name="alpha",
                    metric=metric,
                    version=version,
                    value=value,
                    error=None,
                    detail={},
                )
            )
    rollup_rebuild.rebuild_store(store)  # the rows above were written around the service
    points = {p.variant: p.value for p in series(store, "last hour") if p.series == "score (mean)"}
    assert points == {
        f"faithfulness [{OVERLAP}] · alpha": 1.0,
        f"faithfulness [{RAGAS}] · alpha": 0.0,
        "rouge_l · alpha": 0.5,
    }
