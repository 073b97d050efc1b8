"""Reference-based metrics behind one small protocol.

Every metric returns a `MetricResult`: a finite value in [0, 1], or an explicit error with
its reason (no reference, empty reference, ...) — never NaN, never a silently dropped row.
BLEU and chrF come from sacrebleu and ROUGE from rouge-score, so the numbers are the ones
those libraries give (scaled to 0-1); exact match and token F1 follow SQuAD's definitions."""

from __future__ import annotations

import functools
import math
import re
import string
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Sample:
    """What a metric may look at: the answer, and the reference, question, retrieved
    contexts and reference contexts (the passages that hold the answer) when there are any."""

    answer: str
    reference: str | None = None
    question: str = ""
    contexts: tuple[str, ...] = ()
    reference_contexts: tuple[str, ...] = ()


@dataclass(frozen=True)
class MetricResult:
    metric: str
    version: str
    value: float | None
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


class Metric(Protocol):
    name: str
    version: str
    needs_reference: bool
    needs_context: bool
    needs_judge: bool

    def score(self, sample: Sample) -> MetricResult: ...


class _ReferenceMetric:
    """Checks shared by metrics that compare the answer with a reference answer."""

    name = ""
    version = "1"
    needs_reference = True
    needs_context = False
    needs_judge = False

    def score(self, sample: Sample) -> MetricResult:
        if sample.reference is None:
            return self._error("needs a reference answer; the sample has none")
        if not sample.reference.strip():
            return self._error("the reference answer is empty")
        try:
            value = self._compute(sample.answer, sample.reference)
        except Exception as exc:  # a library failure on odd input is a row error, not a crash
            return self._error(f"{type(exc).__name__}: {exc}")
        if not math.isfinite(value):
            return self._error(f"computed a non-finite value ({value})")
        return MetricResult(self.name, self.version, min(1.0, max(0.0, value)))

    def _error(self, reason: str) -> MetricResult:
        return MetricResult(self.name, self.version, None, error=reason)

    def _compute(self, answer: str, reference: str) -> float:
        raise NotImplementedError


class Bleu(_ReferenceMetric):
    """Sentence BLEU (sacrebleu, 13a tokenisation, effective order), divided by 100."""

    name = "bleu"

    def __init__(self) -> None:
        from sacrebleu.metrics import BLEU

        self._bleu = BLEU(effective_order=True)
        self.version = f"sacrebleu-{_version('sacrebleu')}"

    def _compute(self, answer: str, reference: str) -> float:
        return float(self._bleu.sentence_score(answer, [reference]).score) / 100


class Chrf(_ReferenceMetric):
    """Sentence chrF (sacrebleu defaults: character 6-grams, beta 2), divided by 100."""

    name = "chrf"

    def __init__(self) -> None:
        from sacrebleu.metrics import CHRF

        self._chrf = CHRF()
        self.version = f"sacrebleu-{_version('sacrebleu')}"

    def _compute(self, answer: str, reference: str) -> float:
        return float(self._chrf.sentence_score(answer, [reference]).score) / 100


class _MemoStemmer:
    """nltk's Porter stemmer with a cache: rouge-score stems every token of every text,
    and stemming is three quarters of its time. Same stems, computed once per word."""

    def __init__(self) -> None:
        from nltk.stem import porter

        self.stem = functools.lru_cache(maxsize=200_000)(porter.PorterStemmer().stem)


def _rouge_tokenizer() -> Any:
    from rouge_score import tokenize, tokenizers

    class MemoTokenizer(tokenizers.Tokenizer):
        def __init__(self) -> None:
            self._stemmer = _MemoStemmer()

        def tokenize(self, text: str) -> list[str]:
            return list(tokenize.tokenize(text, self._stemmer))

    return MemoTokenizer()


class Rouge(_ReferenceMetric):
    """ROUGE-1, -2 or -L F-measure (rouge-score, Porter stemming)."""

    def __init__(self, kind: str) -> None:
        from rouge_score import rouge_scorer

        self._kind = {"rouge1": "rouge1", "rouge2": "rouge2", "rouge_l": "rougeL"}[kind]
        self._scorer = rouge_scorer.RougeScorer([self._kind], tokenizer=_rouge_tokenizer())
        self.name = kind
        self.version = f"rouge-score-{_version('rouge-score')}"

    def _compute(self, answer: str, reference: str) -> float:
        return float(self._scorer.score(reference, answer)[self._kind].fmeasure)


_PUNCT = re.compile(f"[{re.escape(string.punctuation)}]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, no punctuation, no articles, single spaces."""
    text = _ARTICLES.sub(" ", _PUNCT.sub("", text.lower()))
    return " ".join(text.split())


class ExactMatch(_ReferenceMetric):
    name = "exact_match"
    version = "squad-1"

    def _compute(self, answer: str, reference: str) -> float:
        return float(normalize_answer(answer) == normalize_answer(reference))


class TokenF1(_ReferenceMetric):
    name = "token_f1"
    version = "squad-1"

    def _compute(self, answer: str, reference: str) -> float:
        predicted, expected = normalize_answer(answer).split(), normalize_answer(reference).split()
        common = sum((Counter(predicted) & Counter(expected)).values())
        if common == 0:
            return 0.0
        precision, recall = common / len(predicted), common / len(expected)
        return 2 * precision * recall / (precision + recall)


Embed = Callable[[Sequence[str]], NDArray[np.float32]]


class EmbeddingSimilarity(_ReferenceMetric):
    """Cosine similarity of answer and reference embeddings, clipped to [0, 1]. The embedding
    function is given by the caller (the service passes its bundled CPU model)."""

    name = "embedding_similarity"

    def __init__(self, embed: Embed, model_name: str) -> None:
        self._embed = embed
        self.version = f"cosine-{model_name}"

    def _compute(self, answer: str, reference: str) -> float:
        if not answer.strip():
            return 0.0
        a, r = self._embed([answer, reference])
        norm = float(np.linalg.norm(a) * np.linalg.norm(r))
        return float(a @ r) / norm if norm else 0.0


REFERENCE_METRICS: dict[str, Callable[[], Metric]] = {
    "bleu": Bleu,
    "chrf": Chrf,
    "rouge1": lambda: Rouge("rouge1"),
    "rouge2": lambda: Rouge("rouge2"),
    "rouge_l": lambda: Rouge("rouge_l"),
    "exact_match": ExactMatch,
    "token_f1": TokenF1,
}


class UnknownMetric(ValueError):
    pass


def build_metrics(
    names: Sequence[str],
    *,
    embed: Embed | None = None,
    embed_model: str = "",
    judge: Callable[[list[dict[str, str]]], str] | None = None,
    judge_name: str = "",
) -> list[Metric]:
    """Metric objects by name; an unknown name is an error that lists the known ones. With
    a `judge` (a chat completion function), the RAG metrics are graded by it; without one,
    their non-LLM versions are used."""
    from evals.rag_judges import (
        LlmAnswerRelevancy,
        LlmContextPrecision,
        LlmContextRecall,
        LlmFaithfulness,
    )
    from evals.rag_metrics import EMBEDDING_RAG_METRICS, RAG_METRICS

    graded: dict[str, Callable[[], Metric]] = {}
    if judge is not None:
        graded = {
            "faithfulness": lambda: LlmFaithfulness(judge, judge_name),
            "context_recall": lambda: LlmContextRecall(judge, judge_name),
            "context_precision": lambda: LlmContextPrecision(judge, judge_name),
        }
    known = [*REFERENCE_METRICS, "embedding_similarity", *RAG_METRICS, *EMBEDDING_RAG_METRICS]
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
            raise UnknownMetric(f"unknown metric {name!r}; known: {', '.join(known)}")
    return metrics


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def needs_embedding(names: Sequence[str]) -> bool:
    """Whether building these metrics needs an embedding function."""
    from evals.rag_metrics import EMBEDDING_RAG_METRICS

    return any(n == "embedding_similarity" or n in EMBEDDING_RAG_METRICS for n in names)
