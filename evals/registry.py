"""Every metric by name: the tables of known metrics, and `build_metrics` that turns names
into metric objects.

One name, one definition. The RAG metrics named as in ragas (`faithfulness`,
`answer_relevancy`, `context_precision`, `context_recall`, `factual_correctness`) are
computed by ragas itself and need a judge; Arbiter's own variants have names of their own:
the non-LLM ones (`faithfulness_overlap`, `answer_relevancy_embedding`,
`context_precision_match`, `context_recall_match`) and the single-prompt judge ones
(`*_judge`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from evals.base import Embed, Metric
from evals.errors import UnknownMetric
from evals.judge_calls import Complete
from evals.metrics import Bleu, Chrf, EmbeddingSimilarity, ExactMatch, Rouge, TokenF1
from evals.rag_judges import (
    LlmAnswerRelevancy,
    LlmContextPrecision,
    LlmContextRecall,
    LlmFaithfulness,
)
from evals.rag_metrics import AnswerRelevancy, ContextPrecision, ContextRecall, Faithfulness
from evals.ragas_metrics import RAGAS_METRIC_NAMES, RagasLlm, ragas_metric

REFERENCE_METRICS: dict[str, Callable[[], Metric]] = {
    "bleu": Bleu,
    "chrf": Chrf,
    "rouge1": lambda: Rouge("rouge1"),
    "rouge2": lambda: Rouge("rouge2"),
    "rouge_l": lambda: Rouge("rouge_l"),
    "exact_match": ExactMatch,
    "token_f1": TokenF1,
}
RAG_METRICS: dict[str, Callable[[], Metric]] = {
    "faithfulness_overlap": Faithfulness,
    "context_recall_match": ContextRecall,
    "context_precision_match": ContextPrecision,
}
EMBEDDING_RAG_METRICS: dict[str, Callable[[Embed, str], Metric]] = {
    "answer_relevancy_embedding": AnswerRelevancy,
}
JUDGE_RAG_METRICS: tuple[str, ...] = (
    "faithfulness_judge",
    "answer_relevancy_judge",
    "context_precision_judge",
    "context_recall_judge",
)
"""Arbiter's single-prompt judge versions of the RAG metrics (one call per metric)."""
METRIC_NAMES: tuple[str, ...] = (
    *REFERENCE_METRICS,
    "embedding_similarity",
    *RAG_METRICS,
    *EMBEDDING_RAG_METRICS,
    *RAGAS_METRIC_NAMES,
    *JUDGE_RAG_METRICS,
)
"""Every name `build_metrics` knows, in the order they are listed to users."""
RENAMED: dict[str, tuple[str, str]] = {
    "faithfulness": ("faithfulness_overlap", "faithfulness_judge"),
    "answer_relevancy": ("answer_relevancy_embedding", "answer_relevancy_judge"),
    "context_precision": ("context_precision_match", "context_precision_judge"),
    "context_recall": ("context_recall_match", "context_recall_judge"),
}
"""Names that meant Arbiter's own definitions before they meant ragas': (non-LLM, judge)."""
_NEEDS_EMBEDDING = {"embedding_similarity", "answer_relevancy", "answer_relevancy_judge"}


def needs_embedding(names: Sequence[str]) -> bool:
    """Whether building these metrics needs an embedding function."""
    return any(n in _NEEDS_EMBEDDING or n in EMBEDDING_RAG_METRICS for n in names)


def _needs_judge(name: str) -> UnknownMetric:
    if name in RENAMED:
        fallback = RENAMED[name][0]
        hint = f"Name a judge variant, or use {fallback} (Arbiter's non-LLM version)."
    else:
        hint = "Name a judge variant (--judge, `judge` in the API)."
    what = "ragas' LLM metric" if name in RAGAS_METRIC_NAMES else "graded by a judge model"
    return UnknownMetric(f"{name} is {what} and needs a judge variant", hint=hint)


def build_metrics(
    names: Sequence[str],
    *,
    embed: Embed | None = None,
    embed_model: str = "",
    judge: Complete | None = None,
    judge_name: str = "",
    ragas_llm: RagasLlm | None = None,
) -> list[Metric]:
    """Metric objects by name; an unknown name is an error that lists the known ones.
    `judge` (a chat completion function) grades the `*_judge` metrics, `ragas_llm` (a ragas
    judge LLM) ragas' ones; a metric whose judge is not given is an error saying so."""
    metrics: list[Metric] = []
    for name in names:
        if name in _NEEDS_EMBEDDING and embed is None:
            raise UnknownMetric(f"{name} needs an embedding model")
        if name == "embedding_similarity":
            assert embed is not None
            metrics.append(EmbeddingSimilarity(embed, embed_model))
        elif name in EMBEDDING_RAG_METRICS:
            if embed is None:
                raise UnknownMetric(f"{name} needs an embedding model")
            metrics.append(EMBEDDING_RAG_METRICS[name](embed, embed_model))
        elif name in REFERENCE_METRICS:
            metrics.append(REFERENCE_METRICS[name]())
        elif name in RAG_METRICS:
            metrics.append(RAG_METRICS[name]())
        elif name in RAGAS_METRIC_NAMES:
            if ragas_llm is None:
                raise _needs_judge(name)
            metrics.append(ragas_metric(name, ragas_llm, judge_name, embed, embed_model))
        elif name in JUDGE_RAG_METRICS:
            if judge is None:
                raise _needs_judge(name)
            metrics.append(_judge_metric(name, judge, judge_name, embed))
        else:
            raise UnknownMetric(f"unknown metric {name!r}; known: {', '.join(METRIC_NAMES)}")
    return metrics


def _judge_metric(name: str, judge: Complete, judge_name: str, embed: Embed | None) -> Metric:
    if name == "answer_relevancy_judge":
        assert embed is not None  # checked by build_metrics
        return LlmAnswerRelevancy(judge, judge_name, embed)
    graded: dict[str, Callable[[Complete, str], Metric]] = {
        "faithfulness_judge": LlmFaithfulness,
        "context_recall_judge": LlmContextRecall,
        "context_precision_judge": LlmContextPrecision,
    }
    return graded[name](judge, judge_name)
