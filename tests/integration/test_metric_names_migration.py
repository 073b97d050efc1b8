"""Migration 0014: scores stored under the names ragas' metrics now have keep their meaning
— the non-LLM ones and the single-prompt judge ones get their own names, told apart by the
stored version — in the scores table, eval items, eval runs and use cases; SQLite and
PostgreSQL; and back on downgrade."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from service.store import Store, migrate
from service.store.tables import (
    AnswerRow,
    ConversationRow,
    EvalItemRow,
    EvalRunRow,
    ScoreRow,
    TurnRow,
    UseCaseRow,
)
from tests.support.fixtures import scratch_store

REVISION = "0014"
# Scores as 0012 stored them: (metric, version) -> the name they must have after 0014.
STORED = {
    ("faithfulness", "overlap-1"): "faithfulness_overlap",
    ("faithfulness", "rag-llm-v1@judge"): "faithfulness_judge",
    ("context_recall", "nonllm-1"): "context_recall_match",
    ("context_recall", "rag-llm-v1@judge"): "context_recall_judge",
    ("context_precision", "nonllm-1"): "context_precision_match",
    ("context_precision", "rag-llm-v1@judge"): "context_precision_judge",
    ("answer_relevancy", "cosine-intfloat/multilingual-e5-small"): "answer_relevancy_embedding",
    ("answer_relevancy", "rag-llm-v1@judge"): "answer_relevancy_judge",
    ("rouge_l", "rouge-score-0.1.2"): "rouge_l",
}


def _before_revision() -> str:
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    down = script.get_revision(REVISION).down_revision
    assert isinstance(down, str)
    return down


@pytest.fixture(params=["sqlite", "postgres"])
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A store migrated up to the revision before 0014."""
    with scratch_store(request.param, tmp_path, revision=_before_revision()) as s:
        yield s


def _fill(store: Store) -> None:
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
        for i, (metric, version) in enumerate(STORED):
            s.add(
                ScoreRow(
                    id=f"s{i}",
                    answer_id="a1",
                    turn_id="t1",
                    variant_name="alpha",
                    metric=metric,
                    version=version,
                    value=0.5,
                    error=None,
                    detail={},
                )
            )
        for run_id, judge in (("r-plain", None), ("r-judged", "judge")):
            s.add(
                EvalRunRow(
                    id=run_id,
                    name=run_id,
                    dataset_path="d.jsonl",
                    dataset_sha256="0" * 64,
                    variants=["alpha"],
                    metrics=["rouge_l", "faithfulness", "answer_relevancy"],
                    judge=judge,
                    total=1,
                )
            )
        s.flush()
        # Core, naming its columns: the ORM would write every column today's model has,
        # some added by later migrations (eval_items.contexts, 0023).
        s.execute(
            sa.insert(EvalItemRow).values(
                id="i1",
                run_id="r-plain",
                example_id="e1",
                variant="alpha",
                prompt="q",
                reference=None,
                answer="x",
                status="ok",
                scores=[
                    {"metric": m, "version": v, "value": 0.5, "error": None} for m, v in STORED
                ],
            )
        )
        s.add(
            UseCaseRow(
                id="u1",
                name="news",
                spec={
                    "name": "news",
                    "variants": ["alpha"],
                    "metrics": ["rouge_l", "faithfulness", "context_recall"],
                    "targets": ["faithfulness >= 0.5", " context_recall>=0.2", "rouge_l >= 0.1"],
                },
            )
        )


def _state(
    store: Store,
) -> tuple[dict[str, str], list[str], dict[str, list[str]], dict[str, list[str]]]:
    with store.session() as s:
        scores = {f"{r.metric}|{r.version}": r.id for r in s.scalars(sa.select(ScoreRow))}
        item_scores = s.scalar(sa.select(EvalItemRow.scores).where(EvalItemRow.id == "i1"))
        item_names = [sc["metric"] for sc in item_scores or []]
        runs = {r.id: list(r.metrics) for r in s.scalars(sa.select(EvalRunRow))}
        spec = s.get_one(UseCaseRow, "u1").spec
    return scores, item_names, runs, {"metrics": spec["metrics"], "targets": spec["targets"]}


def test_renames_stored_scores_by_their_version_and_back(old_store: Store) -> None:
    _fill(old_store)
    migrate.upgrade(old_store.engine, REVISION)
    scores, item_names, runs, use_case = _state(old_store)
    assert set(scores) == {f"{new}|{v}" for (_, v), new in STORED.items()}
    assert item_names == list(STORED.values())
    assert runs == {
        "r-plain": ["rouge_l", "faithfulness_overlap", "answer_relevancy_embedding"],
        "r-judged": ["rouge_l", "faithfulness_judge", "answer_relevancy_judge"],
    }
    assert use_case == {
        "metrics": ["rouge_l", "faithfulness_overlap", "context_recall_match"],
        "targets": [
            "faithfulness_overlap >= 0.5",
            " context_recall_match>=0.2",
            "rouge_l >= 0.1",
        ],
    }
    # A score ragas computed after the upgrade keeps ragas' name on the way down and up.
    with old_store.session() as s:
        s.add(
            ScoreRow(
                id="s-ragas",
                answer_id="a1",
                turn_id="t1",
                variant_name="alpha",
                metric="faithfulness",
                version="ragas-0.4.3@judge",
                value=0.75,
                error=None,
                detail={},
            )
        )
    migrate.downgrade(old_store.engine, _before_revision())
    scores, item_names, runs, use_case = _state(old_store)
    assert set(scores) == {f"{m}|{v}" for m, v in STORED} | {"faithfulness|ragas-0.4.3@judge"}
    assert item_names == [m for m, _ in STORED]
    assert runs["r-plain"] == runs["r-judged"] == ["rouge_l", "faithfulness", "answer_relevancy"]
    assert use_case["targets"][0] == "faithfulness >= 0.5"
