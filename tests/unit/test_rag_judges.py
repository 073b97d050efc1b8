"""RAG metrics graded by a judge model: through the real Bedrock client against the fake
server, and the ranking logic with a judge whose replies depend on the prompt."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pytest

from evals.base import Sample
from evals.errors import UnknownMetric
from evals.rag_judges import (
    LlmAnswerRelevancy,
    LlmContextPrecision,
    LlmContextRecall,
)
from evals.registry import build_metrics
from tests.support.rag_judges import CONTEXT


def by_prompt(replies: dict[str, dict[str, object]]):  # type: ignore[no-untyped-def]
    """A judge that answers according to which key appears in the prompt."""

    def complete(messages: list[dict[str, str]]) -> str:
        prompt = messages[-1]["content"]
        for key, reply in replies.items():
            if key in prompt.split("Context:")[-1]:
                return json.dumps(reply)
        return json.dumps({"useful": False})

    return complete


def embed(texts: Sequence[str]) -> np.ndarray:
    vocab = ["return", "days", "pizza"]
    return np.array([[float(v in t.lower()) for v in vocab] for t in texts], dtype=np.float32)


def test_context_precision_rewards_useful_chunks_ranked_first() -> None:
    complete = by_prompt({"45 days": {"useful": True}})
    metric = LlmContextPrecision(complete, "j")
    late = Sample(
        "a", question="q", reference="45 days", contexts=("shipping", "warranty", CONTEXT[0])
    )
    early = Sample("a", question="q", reference="45 days", contexts=(CONTEXT[0], "shipping"))
    none = Sample("a", question="q", reference="45 days", contexts=("shipping",))
    assert metric.score(late).value == pytest.approx(1 / 3)
    assert metric.score(early).value == 1.0
    assert metric.score(none).value == 0.0
    assert metric.score(Sample("a", contexts=CONTEXT)).error == (
        "needs a reference answer; the sample has none"
    )


def test_context_recall_is_the_share_of_attributed_reference_sentences() -> None:
    def complete(messages: list[dict[str, str]]) -> str:
        return json.dumps(
            {
                "sentences": [
                    {"sentence": "a", "attributed": True},
                    {"sentence": "b", "attributed": True},
                    {"sentence": "c", "attributed": False},
                ]
            }
        )

    result = LlmContextRecall(complete, "j").score(
        Sample("a", reference="A. B. C.", contexts=CONTEXT)
    )
    assert result.value == pytest.approx(2 / 3)


def test_answer_relevancy_compares_the_generated_question_and_zeroes_noncommittal() -> None:
    def says(reply: dict[str, object]):  # type: ignore[no-untyped-def]
        return lambda messages: json.dumps(reply)

    question = "How many days to return a bike?"
    same = LlmAnswerRelevancy(
        says({"question": "Within how many days can I return it?", "noncommittal": False}),
        "j",
        embed,
    )
    other = LlmAnswerRelevancy(
        says({"question": "Do you like pizza?", "noncommittal": False}), "j", embed
    )
    evasive = LlmAnswerRelevancy(says({"question": question, "noncommittal": True}), "j", embed)
    sample = Sample("Within 45 days.", question=question)
    assert same.score(sample).value == pytest.approx(1.0)
    assert other.score(sample).value == 0.0
    assert evasive.score(sample).value == 0.0


def test_the_judge_versions_have_names_of_their_own() -> None:
    names = [
        "faithfulness_judge",
        "context_recall_judge",
        "context_precision_judge",
        "answer_relevancy_judge",
        "rouge_l",
    ]
    graded = build_metrics(
        names, embed=embed, embed_model="e", judge=lambda m: "{}", judge_name="j"
    )
    assert [type(m).__name__ for m in graded] == [
        "LlmFaithfulness",
        "LlmContextRecall",
        "LlmContextPrecision",
        "LlmAnswerRelevancy",
        "Rouge",
    ]
    assert [m.name for m in graded] == names
    # Without a judge they are an error pointing at Arbiter's non-LLM versions, never
    # silently something else under the same name.
    with pytest.raises(UnknownMetric) as err:
        build_metrics(["faithfulness_judge"], embed=embed, embed_model="e")
    assert (
        str(err.value) == "faithfulness_judge is graded by a judge model and needs a judge variant"
    )
    plain = build_metrics(
        ["faithfulness_overlap", "context_recall_match", "answer_relevancy_embedding"],
        embed=embed,
        embed_model="e",
    )
    assert [type(m).__name__ for m in plain] == ["Faithfulness", "ContextRecall", "AnswerRelevancy"]
