"""Reference metrics: the numbers sacrebleu and rouge-score give, explicit errors, no NaN."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sacrebleu
from rouge_score import rouge_scorer

from evals.base import Sample, normalize_answer
from evals.errors import UnknownMetric
from evals.registry import build_metrics

PAIRS = [
    ("The cat sat on the mat.", "The cat is on the mat."),
    ("Paris is the capital of France.", "The capital of France is Paris."),
    ("Refunds arrive within ten business days.", "You get your money back in 10 business days."),
    (
        "Völker, hört die Signale! 東京は日本の首都です。",
        "Völker hört die Signale. 東京は首都です。",
    ),
    ("running runners ran", "the runner runs"),
]


@pytest.mark.parametrize(("answer", "reference"), PAIRS)
def test_values_agree_with_sacrebleu_and_rouge_score(answer: str, reference: str) -> None:
    bleu, chrf, r1, r2, rl = build_metrics(["bleu", "chrf", "rouge1", "rouge2", "rouge_l"])
    sample = Sample(answer=answer, reference=reference)
    assert bleu.score(sample).value == pytest.approx(
        sacrebleu.sentence_bleu(answer, [reference]).score / 100, abs=1e-12
    )
    assert chrf.score(sample).value == pytest.approx(
        sacrebleu.sentence_chrf(answer, [reference]).score / 100, abs=1e-12
    )
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    expected = scorer.score(reference, answer)
    assert r1.score(sample).value == pytest.approx(expected["rouge1"].fmeasure, abs=1e-12)
    assert r2.score(sample).value == pytest.approx(expected["rouge2"].fmeasure, abs=1e-12)
    assert rl.score(sample).value == pytest.approx(expected["rougeL"].fmeasure, abs=1e-12)


def test_exact_match_and_token_f1_follow_squad() -> None:
    em, f1 = build_metrics(["exact_match", "token_f1"])
    assert normalize_answer("The  Eiffel Tower!") == "eiffel tower"
    assert em.score(Sample("the Eiffel tower.", "Eiffel Tower")).value == 1.0
    assert em.score(Sample("Eiffel", "Eiffel Tower")).value == 0.0
    # predicted {eiffel}, expected {eiffel, tower}: P = 1, R = 0.5, F1 = 2/3
    assert f1.score(Sample("Eiffel", "the Eiffel Tower")).value == pytest.approx(2 / 3)
    assert f1.score(Sample("nothing shared", "Eiffel Tower")).value == 0.0


def test_edge_cases_are_values_or_explicit_errors_never_nan() -> None:
    metrics = build_metrics(
        ["bleu", "chrf", "rouge1", "rouge2", "rouge_l", "exact_match", "token_f1"]
    )
    long_answer = " ".join(
        f"word{i % 500}" for i in range(2_000)
    )  # ~14k characters; ROUGE-L is quadratic
    cases = {
        "empty answer": Sample("", "The cat is on the mat."),
        "punctuation only": Sample("!!!", "?"),
        "very long": Sample(long_answer, long_answer[: len(long_answer) // 2]),
        "unicode only": Sample("🙂🙂", "🙂"),
    }
    for label, sample in cases.items():
        for metric in metrics:
            result = metric.score(sample)
            assert result.error is None, (label, metric.name, result.error)
            assert result.value is not None and math.isfinite(result.value), (label, metric.name)
            assert 0.0 <= result.value <= 1.0
    for metric in metrics:
        assert metric.score(Sample("", "The cat")).value == 0.0
        no_reference = metric.score(Sample("an answer"))
        assert no_reference.value is None and "needs a reference" in (no_reference.error or "")
        empty_reference = metric.score(Sample("an answer", "  "))
        assert empty_reference.value is None and "reference answer is empty" in (
            empty_reference.error or ""
        )


def test_embedding_similarity_uses_the_given_model() -> None:
    vectors = {"a cat": np.array([1.0, 0.0]), "a kitten": np.array([0.8, 0.6]), "": np.zeros(2)}
    [metric] = build_metrics(
        ["embedding_similarity"],
        embed=lambda texts: np.stack([vectors[t] for t in texts]).astype(np.float32),
        embed_model="toy",
    )
    result = metric.score(Sample("a cat", "a kitten"))
    assert result.value == pytest.approx(0.8) and result.version == "cosine-toy"
    assert metric.score(Sample("", "a kitten")).value == 0.0


def test_unknown_metric_lists_the_known_ones() -> None:
    with pytest.raises(UnknownMetric) as err:
        build_metrics(["bleu", "blue"])
    assert "'blue'" in str(err.value) and "rouge_l" in str(err.value)
