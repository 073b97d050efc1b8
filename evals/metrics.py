"""Reference-based metrics: the answer compared with a reference answer.

BLEU and chrF come from sacrebleu and ROUGE from rouge-score, so the numbers are the ones
those libraries give (scaled to 0-1); exact match and token F1 follow SQuAD's definitions.
They are built by name through `evals.registry`."""

from __future__ import annotations

import functools
import math
from collections import Counter
from importlib import metadata
from typing import Any

import numpy as np

from evals.base import Embed, MetricResult, Sample, normalize_answer


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
        from sacrebleu.metrics import BLEU  # lazy: loaded only when BLEU is used

        self._bleu = BLEU(effective_order=True)
        self.version = f"sacrebleu-{metadata.version('sacrebleu')}"

    def _compute(self, answer: str, reference: str) -> float:
        return float(self._bleu.sentence_score(answer, [reference]).score) / 100


class Chrf(_ReferenceMetric):
    """Sentence chrF (sacrebleu defaults: character 6-grams, beta 2), divided by 100."""

    name = "chrf"

    def __init__(self) -> None:
        from sacrebleu.metrics import CHRF  # lazy: loaded only when chrF is used

        self._chrf = CHRF()
        self.version = f"sacrebleu-{metadata.version('sacrebleu')}"

    def _compute(self, answer: str, reference: str) -> float:
        return float(self._chrf.sentence_score(answer, [reference]).score) / 100


class _MemoStemmer:
    """nltk's Porter stemmer with a cache: rouge-score stems every token of every text,
    and stemming is three quarters of its time. Same stems, computed once per word."""

    def __init__(self) -> None:
        from nltk.stem import porter  # lazy: nltk takes seconds to import; ROUGE only

        self.stem = functools.lru_cache(maxsize=200_000)(porter.PorterStemmer().stem)


def _rouge_tokenizer() -> Any:
    from rouge_score import tokenize, tokenizers  # lazy: seconds to import; ROUGE only

    class MemoTokenizer(tokenizers.Tokenizer):
        def __init__(self) -> None:
            self._stemmer = _MemoStemmer()

        def tokenize(self, text: str) -> list[str]:
            return list(tokenize.tokenize(text, self._stemmer))

    return MemoTokenizer()


class Rouge(_ReferenceMetric):
    """ROUGE-1, -2 or -L F-measure (rouge-score, Porter stemming)."""

    def __init__(self, kind: str) -> None:
        from rouge_score import rouge_scorer  # lazy: seconds to import; ROUGE only

        self._kind = {"rouge1": "rouge1", "rouge2": "rouge2", "rouge_l": "rougeL"}[kind]
        self._scorer = rouge_scorer.RougeScorer([self._kind], tokenizer=_rouge_tokenizer())
        self.name = kind
        self.version = f"rouge-score-{metadata.version('rouge-score')}"

    def _compute(self, answer: str, reference: str) -> float:
        return float(self._scorer.score(reference, answer)[self._kind].fmeasure)


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
