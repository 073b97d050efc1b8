"""Datasets and batch evaluation runs on the real store, with scripted models."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from evals.datasets import load_dataset
from service.app.runtime import Runtime
from service.errors import ArbiterError
from service.evaluation.batch import Progress
from service.evaluation.judging import JUDGE_SLOT
from service.evaluation.reports import run_summaries
from service.schemas import RagRequest
from service.store import eval_runs
from service.store.tables import EvalItemRow, EvalRunRow
from tests.fakes.script import Script
from tests.support.batch import write_jsonl


def dataset(tmp_path: Path, n: int = 6) -> Path:
    return write_jsonl(
        tmp_path / "ds.jsonl",
        [
            {"id": f"q{i}", "prompt": f"Question {i}?", "reference": "Paris is the capital."}
            for i in range(n)
        ],
    )


def _last_run(runtime: Runtime) -> str:
    from sqlalchemy import select

    with runtime.store.session() as s:
        return str(s.scalars(select(EvalRunRow.id).where(EvalRunRow.name == "crashy")).one())


def test_run_scores_every_answer_and_summarises(runtime: Runtime, tmp_path: Path) -> None:
    seen: list[Progress] = []
    run_id = asyncio.run(
        runtime.evals.run(
            load_dataset(dataset(tmp_path)),
            ["alpha", "beta"],
            ["exact_match", "rouge_l", "bleu"],
            concurrency=4,
            on_progress=seen.append,
        )
    )
    assert seen[-1] == Progress(done=12, total=12, skipped=0, errors=0)
    items = eval_runs.items(runtime.store, run_id)
    assert len(items) == 12
    alpha = next(i for i in items if i["variant"] == "alpha")
    assert alpha["answer"] == "Paris is the capital." and alpha["status"] == "ok"
    summary = run_summaries(runtime.store, run_id)
    assert summary["alpha"].metrics["exact_match"].mean == 1.0  # alpha says exactly the reference
    assert summary["beta"].metrics["exact_match"].mean == 0.0  # "It is Paris."
    assert 0 < summary["beta"].metrics["rouge_l"].mean < 1
    assert summary["alpha"].metrics["error_rate"].mean == 0.0
    assert eval_runs.get_run(runtime.store, run_id)["status"] == "done"


def test_failed_answers_count_as_errors_not_zero_scores(
    runtime: Runtime, scripts: dict[str, Script], tmp_path: Path
) -> None:
    scripts["beta"].failure = "server_error"
    run_id = asyncio.run(
        runtime.evals.run(load_dataset(dataset(tmp_path, 3)), ["alpha", "beta"], ["bleu"])
    )
    summary = run_summaries(runtime.store, run_id)
    assert summary["beta"].metrics["error_rate"].mean == 1.0
    assert "bleu" not in summary["beta"].metrics
    beta = [i for i in eval_runs.items(runtime.store, run_id) if i["variant"] == "beta"]
    assert all(i["status"] == "error" and "provider_error" in i["error"] for i in beta)


def test_interrupted_run_resumes_without_duplicates_or_losses(
    runtime: Runtime, scripts: dict[str, Script], tmp_path: Path
) -> None:
    for script in scripts.values():
        script.token_delay_s = 0.01
    data = load_dataset(dataset(tmp_path, 8))

    async def interrupted() -> str:
        progress: list[Progress] = []
        task = asyncio.create_task(
            runtime.evals.run(
                data,
                ["alpha", "beta"],
                ["rouge_l"],
                concurrency=2,
                on_progress=progress.append,
                name="crashy",
            )
        )
        while len(progress) < 6:  # Ctrl-C after a few answers are stored
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.2)
        return _last_run(runtime)

    run_id = asyncio.run(interrupted())
    stored_before = runtime.store.count(EvalItemRow)
    assert 5 <= stored_before < 16
    assert eval_runs.get_run(runtime.store, run_id)["status"] == "running"

    resumed: list[Progress] = []
    asyncio.run(
        runtime.evals.run(
            data, ["alpha", "beta"], ["rouge_l"], run_id=run_id, on_progress=resumed.append
        )
    )
    assert resumed[0].skipped == stored_before  # finished answers were not redone
    items = eval_runs.items(runtime.store, run_id)
    assert len(items) == 16
    assert len({(i["example_id"], i["variant"]) for i in items}) == 16

    fresh = asyncio.run(runtime.evals.run(data, ["alpha", "beta"], ["rouge_l"]))
    assert run_summaries(runtime.store, run_id)["beta"].metrics["rouge_l"].mean == pytest.approx(
        run_summaries(runtime.store, fresh)["beta"].metrics["rouge_l"].mean
    )


def test_resume_refuses_a_changed_dataset_and_unknown_metrics(
    runtime: Runtime, tmp_path: Path
) -> None:
    path = dataset(tmp_path, 2)
    run_id = asyncio.run(runtime.evals.run(load_dataset(path), ["alpha", "beta"], ["bleu"]))
    path.write_text(path.read_text() + json.dumps({"id": "new", "prompt": "more?"}) + "\n")
    with pytest.raises(ArbiterError) as changed:
        asyncio.run(
            runtime.evals.run(load_dataset(path), ["alpha", "beta"], ["bleu"], run_id=run_id)
        )
    assert "different version" in changed.value.message
    with pytest.raises(ArbiterError) as unknown:
        asyncio.run(runtime.evals.run(load_dataset(path), ["alpha"], ["blue"]))
    assert unknown.value.code == "unknown_metric" and "rouge_l" in unknown.value.message


def test_rate_limit_spaces_out_the_calls(runtime: Runtime, tmp_path: Path) -> None:
    import time

    data = load_dataset(dataset(tmp_path, 3))
    started = time.perf_counter()
    asyncio.run(runtime.evals.run(data, ["alpha", "beta"], ["bleu"], rate_per_s=10, concurrency=6))
    elapsed = time.perf_counter() - started
    # Six calls at ten per second: the last one starts 0.5 s after the first.
    assert elapsed >= 0.45, elapsed


def test_with_a_judge_rag_metrics_are_graded_and_retrieval_feeds_them(
    runtime: Runtime, scripts: dict[str, Script], tmp_path: Path
) -> None:

    runtime.library.create_collection("docs")
    runtime.library.ingest("docs", "paris.txt", b"Paris is the capital of France.")
    scripts["gamma"].tokens = [
        '{"statements": [{"statement": "Paris is the capital.", "supported": true}], '
        '"helpfulness": 4, "correctness": 5, "harmlessness": 5}'
    ]
    run_id = asyncio.run(
        runtime.evals.run(
            load_dataset(dataset(tmp_path, 2)),
            ["alpha"],
            ["faithfulness_judge"],
            judge="gamma",
            rag=RagRequest(collection="docs", top_k=1),
        )
    )
    items = eval_runs.items(runtime.store, run_id)
    assert len(items) == 2
    for item in items:
        scores = {s["metric"]: s for s in item["scores"]}
        assert scores["faithfulness_judge"]["value"] == 1.0
        assert scores["faithfulness_judge"]["version"] == "rag-llm-v1@gamma"
        assert scores["judge_correctness"]["value"] == 5.0
        # Stored with the context it was given, as a batch-backend run's answers are.
        assert [c["text"] for c in item["contexts"]] == ["Paris is the capital of France."]

    judge = runtime.catalog.cached_model(runtime.catalog.get("gamma"), JUDGE_SLOT)
    prompts = [str(m[-1].content) for m in judge.seen]  # type: ignore[union-attr]
    graded = [p for p in prompts if "factual statements" in p]
    assert len(graded) == 2 and "Paris is the capital of France." in graded[0]


def test_each_row_is_scored_in_its_language(
    runtime: Runtime, scripts: dict[str, Script], tmp_path: Path
) -> None:
    """A row's `language` column first, then the run's (a use case's), then the script."""
    scripts["alpha"].tokens = ["北京是首都。"]
    path = write_jsonl(
        tmp_path / "zh.jsonl",
        [
            {
                "id": "ko-row",
                "prompt": "首都在哪里",
                "reference": "北京是中国的首都。",
                "language": "ko",
            },
            {"id": "plain", "prompt": "首都在哪里", "reference": "北京是中国的首都。"},
        ],
    )

    def bleu_tokenizers(language: str | None) -> dict[str, str]:
        run_id = asyncio.run(
            runtime.evals.run(load_dataset(path), ["alpha"], ["bleu", "rouge_l"], language=language)
        )
        found = {}
        for item in eval_runs.items(runtime.store, run_id):
            scores = {s["metric"]: s for s in item["scores"]}
            assert scores["rouge_l"]["value"] == pytest.approx(2 * 5 / (5 + 8))  # by character
            found[item["example_id"]] = scores["bleu"]["version"].split("|tok:")[1].split("|")[0]
        return found

    assert bleu_tokenizers(None) == {"ko-row": "ko-mecab-0.996/ko-0.9.2-KO", "plain": "zh"}
    assert bleu_tokenizers("ja") == {
        "ko-row": "ko-mecab-0.996/ko-0.9.2-KO",
        "plain": "ja-mecab-0.996-IPA",
    }
