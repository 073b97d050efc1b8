"""Every metric by name: the tables of known metrics, and `build_metrics` that turns names
into metric objects (the RAG metrics graded by a judge model when one is given)."""

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
    "faithfulness": Faithfulness,
    "context_recall": ContextRecall,
    "context_precision": ContextPrecision,
}
EMBEDDING_RAG_METRICS: dict[str, Callable[[Embed, str], Metric]] = {
    "answer_relevancy": AnswerRelevancy,
}
METRIC_NAMES: tuple[str, ...] = (
    *REFERENCE_METRICS,
    "embedding_similarity",
    *RAG_METRICS,
    *EMBEDDING_RAG_METRICS,
)
"""Every name `build_metrics` knows, in the order they are listed to users."""


def needs_embedding(names: Sequence[str]) -> bool:
    """Whether building these metrics needs an embedding function."""
    return any(n == "embedding_similarity" or n in EMBEDDING_RAG_METRICS for n in names)


def build_metrics(
    names: Sequence[str],
    *,
    embed: Embed | None = None,
    embed_model: str = "",
    judge: Complete | None = None,
    judge_name: str = "",
) -> list[Metric]:
    """Metric objects by name; an unknown name is an error that lists the known ones. With
    a `judge` (a chat completion function), the RAG metrics are graded by it; without one,
    their non-LLM versions are used."""
    graded: dict[str, Callable[[], Metric]] = {}
    if judge is not None:
        graded = {
            "faithfulness": lambda: LlmFaithfulness(judge, judge_name),
            "context_recall": lambda: LlmContextRecall(judge, judge_name),
            "context_precision": lambda: LlmContextPrecision(judge, judge_name),
        }
    metrics: list[Metric] = []
    for name in names:
        if name == "embedding_similarity" or name in EMBEDDING_RAG_METRICS:
            if embed is None:
                raise UnknownMetric(f"{name} needs an embedding model")
            if name == "embedding_similarity":
                metrics.append(EmbeddingSimilarity(embed, embed_model))
            elif judge is not None:
                metrics.append(LlmAnswerRelevancy(judge, judge_name, embed))
            else:
                metrics.append(EMBEDDING_RAG_METRICS[name](embed, embed_model))
        elif name in REFERENCE_METRICS:
            metrics.append(REFERENCE_METRICS[name]())
        elif name in graded:
            metrics.append(graded[name]())
        elif name in RAG_METRICS:
            metrics.append(RAG_METRICS[name]())
        else:
            raise UnknownMetric(f"unknown metric {name!r}; known: {', '.join(METRIC_NAMES)}")
    return metrics
