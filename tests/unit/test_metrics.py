# ruff: noqa: RUF001  (text in other scripts on purpose: not look-alikes)
"""Reference metrics: the numbers sacrebleu and rouge-score give, in every language (the
sample's, or the one its script tells), explicit errors, no NaN."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import sacrebleu
from rouge_score import rouge_scorer
from rouge_score.rouge_scorer import _lcs_table

from evals.base import Sample, normalize_answer
from evals.errors import UnknownMetric
from evals.metrics import WordTokenizer, bleu_tokenizer, lcs_length
from evals.registry import build_metrics

REFERENCE_METRICS = ["bleu", "chrf", "rouge1", "rouge2", "rouge_l", "exact_match", "token_f1"]

ENGLISH = [
    ("The cat sat on the mat.", "The cat is on the mat."),
    ("Paris is the capital of France.", "The capital of France is Paris."),
    ("Refunds arrive within ten business days.", "You get your money back in 10 business days."),
    ("running runners ran", "the runner runs"),
    (
        "Lumen's e-bikes (model X-2) don't ship to Norway; returns: 45 days!",
        "Returns are accepted within 45 days; the X-2 e-bike doesn't ship outside the EU.",
    ),
    ("It costs $7.50 -- or 7,50 EUR -- per order.", "Shipping is 7.50 euros per order."),
]

# Held out: written for these tests, used nowhere while the metrics were built.
# (language, tokenizer sacrebleu uses for it, answer, reference)
HELD_OUT = [
    (
        "zh",
        "zh",
        "退货须在收货后四十五天内办理，商品不得使用过。",
        "收到商品后45天内可以退货，但商品必须未使用。",
    ),
    ("zh", "zh", "电池在寒冷天气下续航会明显缩短。", "天气寒冷时，电池的续航时间会变短。"),
    (
        "ja",
        "ja-mecab",
        "バッテリーは寒い日には持ちが悪くなります。",
        "寒い天候ではバッテリーの持続時間が短くなります。",
    ),
    (
        "ja",
        "ja-mecab",
        "返品は商品到着後45日以内にお願いします。",
        "商品の到着から45日以内であれば返品できます。",
    ),
    (
        "ko",
        "ko-mecab",
        "배터리는 추운 날씨에 빨리 닳습니다.",
        "추운 날씨에는 배터리 지속 시간이 짧아집니다.",
    ),
    (
        "ko",
        "ko-mecab",
        "상품을 받은 후 45일 이내에 반품하세요.",
        "상품 수령 후 45일 이내에 반품할 수 있습니다.",
    ),
    (
        "de",
        "intl",
        "Die Batterie hält bei Kälte deutlich kürzer.",
        "Bei kaltem Wetter hält der Akku kürzer.",
    ),
    (
        "de",
        "intl",
        "Rücksendungen sind innerhalb von 45 Tagen möglich.",
        "Sie können Waren binnen 45 Tagen zurückgeben.",
    ),
    (
        "fr",
        "intl",
        "La batterie se décharge plus vite par temps froid.",
        "Par temps froid, l'autonomie de la batterie diminue.",
    ),
    (
        "fr",
        "intl",
        "Les retours sont acceptés sous 45 jours « sans frais ».",
        "Vous pouvez retourner l'article sous 45 jours.",
    ),
    (
        "ru",
        "intl",
        "Батарея быстрее разряжается в холодную погоду.",
        "В холодную погоду аккумулятор держит заряд меньше.",
    ),
    (
        "ru",
        "intl",
        "Возврат возможен в течение 45 дней после доставки.",
        "Товар можно вернуть в течение 45 дней.",
    ),
]


@pytest.mark.parametrize(("answer", "reference"), ENGLISH)
def test_english_values_are_what_sacrebleu_and_rouge_score_give(
    answer: str, reference: str
) -> None:
    bleu, chrf, r1, r2, rl = build_metrics(["bleu", "chrf", "rouge1", "rouge2", "rouge_l"])
    sample = Sample(answer=answer, reference=reference)
    assert bleu.score(sample).value == pytest.approx(
        sacrebleu.sentence_bleu(answer, [reference]).score / 100, abs=1e-12
    )
    assert chrf.score(sample).value == pytest.approx(
        sacrebleu.sentence_chrf(answer, [reference]).score / 100, abs=1e-12
    )
    # rouge-score with its own default tokenizer and Porter stemming, as before languages.
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    expected = scorer.score(reference, answer)
    assert r1.score(sample).value == pytest.approx(expected["rouge1"].fmeasure, abs=1e-12)
    assert r2.score(sample).value == pytest.approx(expected["rouge2"].fmeasure, abs=1e-12)
    assert rl.score(sample).value == pytest.approx(expected["rougeL"].fmeasure, abs=1e-12)
    # The stored version is sacrebleu's signature, tokenizer included.
    assert bleu.score(sample).version == (
        f"nrefs:1|case:mixed|eff:yes|tok:13a|smooth:exp|version:{sacrebleu.__version__}"
    )


@pytest.mark.parametrize(("language", "tokenizer", "answer", "reference"), HELD_OUT)
@pytest.mark.parametrize("given", [True, False], ids=["given", "detected"])
def test_bleu_is_sacrebleu_with_the_languages_tokenizer(
    language: str, tokenizer: str, answer: str, reference: str, given: bool
) -> None:
    if not given and language in ("de", "fr"):
        tokenizer = "13a"  # Latin script alone says English: such datasets name their language
    [bleu] = build_metrics(["bleu"])
    result = bleu.score(Sample(answer, reference, language=language if given else None))
    expected = sacrebleu.sentence_bleu(answer, [reference], tokenize=tokenizer)
    assert result.value == pytest.approx(expected.score / 100, abs=1e-9)
    assert f"|tok:{tokenizer}" in result.version and result.version.startswith("nrefs:1|")
    assert result.version.endswith(f"|version:{sacrebleu.__version__}")
    assert 0.0 < result.value < 1.0  # paraphrases: some overlap, not all


@pytest.mark.parametrize(("language", "tokenizer", "answer", "reference"), HELD_OUT)
def test_rouge_is_rouge_score_with_a_tokenizer_of_every_script(
    language: str, tokenizer: str, answer: str, reference: str
) -> None:
    r1, r2, rl = build_metrics(["rouge1", "rouge2", "rouge_l"])
    sample = Sample(answer, reference, language=language)
    scorer = rouge_scorer.RougeScorer(
        ["rouge1", "rouge2", "rougeL"], tokenizer=WordTokenizer(stem=False)
    )
    expected = scorer.score(reference, answer)
    assert r1.score(sample).value == pytest.approx(expected["rouge1"].fmeasure, abs=1e-12)
    assert r2.score(sample).value == pytest.approx(expected["rouge2"].fmeasure, abs=1e-12)
    assert rl.score(sample).value == pytest.approx(expected["rougeL"].fmeasure, abs=1e-12)
    assert r1.score(sample).value > 0.0  # the old tokenizer gave 0.0 to every CJK/Cyrillic pair


@pytest.mark.parametrize(("language", "tokenizer", "answer", "reference"), HELD_OUT)
def test_an_answer_identical_to_its_reference_scores_one_everywhere(
    language: str, tokenizer: str, answer: str, reference: str
) -> None:
    for given in (language, None):
        for metric in build_metrics(REFERENCE_METRICS):
            result = metric.score(Sample(reference, reference, language=given))
            assert result.value == pytest.approx(1.0, abs=1e-12), (language, metric.name)


def test_chrf_needs_no_language_and_works_in_chinese() -> None:
    [chrf] = build_metrics(["chrf"])
    answer, reference = "电池在寒冷天气下续航会明显缩短。", "天气寒冷时，电池的续航时间会变短。"
    result = chrf.score(Sample(answer, reference))
    assert result.value == pytest.approx(
        sacrebleu.sentence_chrf(answer, [reference]).score / 100, abs=1e-12
    )
    assert 0.1 < result.value < 1.0
    assert chrf.score(Sample(answer, reference, language="zh")).value == result.value


def test_chinese_paraphrase_gets_credit_the_old_tokenizers_denied() -> None:
    """The issue's example: 13a BLEU and rouge-score's default tokenizer gave 0.0."""
    answer, reference = "北京是中国的首都，也是文化中心。", "中国的首都是北京。"
    bleu, rl, f1 = build_metrics(["bleu", "rouge_l", "token_f1"])
    assert sacrebleu.sentence_bleu(answer, [reference]).score == 0.0
    assert rouge_scorer.RougeScorer(["rougeL"]).score(reference, answer)["rougeL"].fmeasure == 0
    assert bleu.score(Sample(answer, reference)).value > 0.2
    # ROUGE-L by characters: the LCS 中国的首都…是 (6) of 14 and 8 characters.
    assert rl.score(Sample(answer, reference)).value == pytest.approx(2 * 6 / (14 + 8))
    # Token F1 by characters (MLQA): all 8 of the reference's, P = 8/14, R = 8/8.
    assert f1.score(Sample(answer, reference)).value == pytest.approx(2 * 8 / (14 + 8))


def test_accented_latin_is_kept_and_stemming_is_english_only() -> None:
    [r1] = build_metrics(["rouge1"])
    # rouge-score's own tokenizer turned both into "caf": a false match.
    assert r1.score(Sample("café", "cafard", language="fr")).value == 0.0
    assert r1.score(Sample("café crème", "café", language="fr")).value == pytest.approx(2 / 3)
    # Porter stemming only for English: "running" and "runs" meet as "run".
    assert r1.score(Sample("running", "runs", language="en")).value == 1.0
    assert r1.score(Sample("running", "runs", language="de")).value == 0.0


def test_exact_match_and_token_f1_normalise_as_mlqa_does() -> None:
    em, f1 = build_metrics(["exact_match", "token_f1"])
    assert normalize_answer("The  Eiffel Tower!") == "eiffel tower"
    assert em.score(Sample("the Eiffel tower.", "Eiffel Tower")).value == 1.0
    assert em.score(Sample("Eiffel", "Eiffel Tower")).value == 0.0
    # predicted {eiffel}, expected {eiffel, tower}: P = 1, R = 0.5, F1 = 2/3
    assert f1.score(Sample("Eiffel", "the Eiffel Tower")).value == pytest.approx(2 / 3)
    assert f1.score(Sample("nothing shared", "Eiffel Tower")).value == 0.0
    # Unicode punctuation (curly quotes, full-width and CJK marks) goes too.
    assert em.score(Sample("“Paris”", "Paris")).value == 1.0
    assert em.score(Sample("北京。", "「北京」")).value == 1.0
    assert normalize_answer("北京是中国的首都！", "zh") == "北 京 是 中 国 的 首 都"
    # Articles per language: German and Spanish ones go, English ones stay in German.
    assert em.score(Sample("der Hund", "Hund", language="de")).value == 1.0
    assert em.score(Sample("el perro", "perro", language="es")).value == 1.0
    assert em.score(Sample("the Hund", "Hund", language="de")).value == 0.0
    assert em.score(Sample("la batterie", "batterie", language="fr")).value == 1.0
    # Korean and Japanese by character.
    assert f1.score(Sample("서울입니다", "서울", language="ko")).value == pytest.approx(2 * 2 / 7)
    assert f1.score(Sample("東京です", "東京", language="ja")).value == pytest.approx(2 * 2 / 6)


def test_bleu_tokenizer_per_language() -> None:
    assert [bleu_tokenizer(lang) for lang in ("zh", "yue", "ja", "ko", "th", "en", "und")] == [
        "zh",
        "zh",
        "ja-mecab",
        "ko-mecab",
        "char",
        "13a",
        "13a",
    ]
    assert {bleu_tokenizer(lang) for lang in ("de", "fr", "ru", "ar", "el", "hi")} == {"intl"}


def test_lcs_length_is_the_one_of_rouge_scores_table() -> None:
    rng = random.Random(7)
    vocab = ["的", "是", "北京", "a", "b", "the", "Ж"]
    for _ in range(2_000):
        a = rng.choices(vocab, k=rng.randint(0, 40))
        b = rng.choices(vocab, k=rng.randint(0, 40))
        expected = _lcs_table(a, b)[-1][-1] if a and b else 0
        assert lcs_length(a, b) == expected, (a, b)


def test_bad_input_gives_finite_values_or_explicit_errors_never_nan() -> None:
    metrics = build_metrics(REFERENCE_METRICS)
    long_english = " ".join(f"word{i % 500}" for i in range(8_000))  # ~50k characters
    long_chinese = ("电池在寒冷天气下续航会明显缩短。" * 3_200)[:50_000]
    cases = {
        "empty answer": Sample("", "The cat is on the mat."),
        "empty Chinese answer": Sample("", "北京是中国的首都。"),
        "punctuation only": Sample("!!!", "?"),
        "full-width punctuation only": Sample("。！？", "，"),
        "emoji only": Sample("🙂🙂", "🙂"),
        "emoji answer, Chinese reference": Sample("👍🎉", "北京是中国的首都。"),
        "mixed script": Sample("Python 是一种 язык программирования 🐍", "Python 是编程语言。"),
        "mixed script given zh": Sample("Tokyo 東京 Москва", "東京 Tokyo", language="zh"),
        "50k characters, English": Sample(long_english, long_english[:25_000]),
        "50k characters, Chinese": Sample(long_chinese, long_chinese[:20_000]),
        "50k characters vs short": Sample(long_chinese, "北京"),
        "zero-width characters only": Sample("\u200b\u200d\ufeff", "北京"),
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
        bad_language = metric.score(Sample("答案", "答案", language="Chinese"))
        assert bad_language.value is None
        assert "'Chinese' is not a language code" in (bad_language.error or "")
        assert "zh" in (bad_language.error or "")


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
