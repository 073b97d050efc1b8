"""RAG metrics that need no judge model, Arbiter's own: `faithfulness_overlap`,
`answer_relevancy_embedding`, `context_precision_match` and `context_recall_match`. They
are cheap stand-ins for ragas' LLM metrics (`evals.ragas_metrics`), not the same numbers,
hence names of their own: ragas' names mean ragas' definitions. Built by name through
`evals.registry`."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import numpy as np

from evals.base import Embed, Metric, MetricResult, Sample
from evals.errors import LanguageError
from evals.languages import resolve_language
from evals.text import normalize_answer, sentences

SIMILARITY_THRESHOLD = 0.5  # ragas' default for its non-LLM context metrics
SUPPORT_THRESHOLD = 0.6  # share of a sentence's words found in the contexts


def average_precision(relevant: Sequence[bool]) -> float:
    """Mean of precision@k over the ranks k holding a relevant item; 0 with none."""
    hits, total = 0, 0.0
    for rank, is_relevant in enumerate(relevant, start=1):
        if is_relevant:
            hits += 1
            total += hits / rank
    return total / hits if hits else 0.0


def _error(metric: Metric, reason: str) -> MetricResult:
    return MetricResult(metric.name, metric.version, None, error=reason)


def _matches(retrieved: str, reference: str) -> bool:
    """A retrieved context matches a reference passage when their strings are similar, or
    when it holds the passage whole (a chunk is often longer than the passage)."""
    if reference.strip() and reference.strip() in retrieved:
        return True
    ratio = difflib.SequenceMatcher(None, retrieved, reference, autojunk=False).ratio()
    return ratio >= SIMILARITY_THRESHOLD


def _words(text: str, language: str) -> list[str]:
    """The text's words normalised as MLQA does: Han, kana, Hangul... one character each."""
    return normalize_answer(text, language).split()


class Faithfulness:
    """Share of the answer's sentences whose words are mostly found in the retrieved
    contexts: an answer that says things the context does not is less faithful. Sentences
    end at `.!?` and at `。！？` and the other sentence terminals of Unicode; Han, kana,
    Hangul... count one character per word, as in token F1."""

    name = "faithfulness_overlap"
    version = "overlap-2"
    needs_reference = False
    needs_context = True
    needs_judge = False

    def score(self, sample: Sample) -> MetricResult:
        if not sample.contexts:
            return _error(self, "needs retrieved contexts; the answer had none")
        try:
            language = resolve_language(sample.language, (sample.answer, *sample.contexts))
        except LanguageError as exc:
            return _error(self, f"{exc}. {exc.hint}")
        said = [words for s in sentences(sample.answer) if (words := _words(s, language))]
        if not said:
            return _error(self, "the answer is empty")
        context_words = set(_words(" ".join(sample.contexts), language))
        supported = sum(
            sum(w in context_words for w in words) / len(words) >= SUPPORT_THRESHOLD
            for words in said
        )
        return MetricResult(self.name, self.version, supported / len(said))


class ContextRecall:
    """Share of the reference contexts that some retrieved context matches."""

    name = "context_recall_match"
    version = "nonllm-1"
    needs_reference = True
    needs_context = True
    needs_judge = False

    def score(self, sample: Sample) -> MetricResult:
        if not sample.reference_contexts:
            return _error(self, "needs reference contexts; the example has none")
        if not sample.contexts:
            return MetricResult(self.name, self.version, 0.0)
        found = sum(
            any(_matches(c, ref) for c in sample.contexts) for ref in sample.reference_contexts
        )
        return MetricResult(self.name, self.version, found / len(sample.reference_contexts))


class ContextPrecision:
    """Average precision of the retrieved ranking, a retrieved context counting as relevant
    when it matches a reference context: relevant chunks ranked first score higher."""

    name = "context_precision_match"
    version = "nonllm-1"
    needs_reference = True
    needs_context = True
    needs_judge = False

    def score(self, sample: Sample) -> MetricResult:
        if not sample.reference_contexts:
            return _error(self, "needs reference contexts; the example has none")
        if not sample.contexts:
            return _error(self, "needs retrieved contexts; the answer had none")
        relevant = [
            any(_matches(c, ref) for ref in sample.reference_contexts) for c in sample.contexts
        ]
        return MetricResult(self.name, self.version, average_precision(relevant))


class AnswerRelevancy:
    """Cosine similarity of the question and the answer embeddings, clipped to [0, 1]: an
    answer about something else scores low. Needs no reference, so it runs on live traffic."""

    name = "answer_relevancy_embedding"
    needs_reference = False
    needs_context = False
    needs_judge = False

    def __init__(self, embed: Embed, model_name: str) -> None:
        self._embed = embed
        self.version = f"cosine-{model_name}"

    def score(self, sample: Sample) -> MetricResult:
        if not sample.question.strip():
            return _error(self, "needs the question; the sample has none")
        if not sample.answer.strip():
            return MetricResult(self.name, self.version, 0.0)
        q, a = np.asarray(self._embed([sample.question, sample.answer]), dtype=float)
        norm = float(np.linalg.norm(q) * np.linalg.norm(a))
        value = float(q @ a) / norm if norm else 0.0
        return MetricResult(self.name, self.version, min(1.0, max(0.0, value)))
