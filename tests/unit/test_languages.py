# ruff: noqa: RUF001  (text in other scripts on purpose)
"""The language of a sample (given, or told by its script), and how text is cut into words
and sentences in every script; the `language` of dataset rows and use cases."""

from __future__ import annotations

import random
import string
from pathlib import Path

import pytest
from rouge_score import tokenize as rouge_tokenize
from rouge_score.tokenizers import DefaultTokenizer

from evals.datasets import load_dataset
from evals.errors import DatasetError, LanguageError
from evals.languages import detect_language, normalize_language, resolve_language
from evals.text import normalize_answer, sentences, words
from service.errors import InvalidRequest
from service.evaluation import usecases
from tests.support.batch import write_jsonl


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("北京是中国的首都。", "zh"),
        ("東京は日本の首都です。", "ja"),
        ("東京タワー", "ja"),
        ("서울은 한국의 수도입니다.", "ko"),
        ("The capital of France is Paris.", "en"),
        ("Völker, hört die Signale!", "en"),  # Latin script: English unless told
        ("Москва — столица России.", "ru"),
        ("Η Αθήνα είναι η πρωτεύουσα.", "el"),
        ("القاهرة عاصمة مصر", "ar"),
        ("नई दिल्ली भारत की राजधानी है।", "hi"),
        ("กรุงเทพฯ เป็นเมืองหลวง", "th"),
        ("Python 是一种编程语言", "zh"),  # CJK tokenizers also handle the Latin words
        ("The word 茶 means tea in many languages around the world", "en"),  # under 10% Han
        ("🙂🎉👍", "und"),
        ("", "und"),
        ("12345 !!!", "und"),
    ],
)
def test_the_script_tells_the_language(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_language_codes_are_normalised_or_refused() -> None:
    assert [normalize_language(t) for t in ("zh", "zh-CN", "ZH_hant", " ja-JP ", "yue")] == [
        "zh",
        "zh",
        "zh",
        "ja",
        "yue",
    ]
    for bad in ("Chinese", "中文", "", "z", "zh1"):
        with pytest.raises(LanguageError) as err:
            normalize_language(bad)
        assert "is not a language code" in str(err.value) and "zh" in err.value.hint


def test_a_given_language_wins_then_the_first_text_with_letters() -> None:
    assert resolve_language("de", ["北京"]) == "de"
    assert resolve_language(None, ["", "🙂", "北京", "Paris"]) == "zh"
    assert resolve_language(None, [None, "🙂"]) == "und"


def test_words_keep_every_script_and_match_rouge_score_on_ascii_english() -> None:
    text = "Lumen's e-bikes (model X-2) don't ship; returns: 45 days! Running runners ran."
    assert words(text, stem=True) == DefaultTokenizer(use_stemmer=True).tokenize(text)
    assert words(text) == rouge_tokenize.tokenize(text, None)
    assert words("Völker, hört! café Москва") == ["völker", "hört", "café", "москва"]
    assert words("東京は首都。서울") == ["東", "京", "は", "首", "都", "서", "울"]
    assert words("ＡＢＣ１２３ ｶﾀｶﾅ") == ["abc123", "カ", "タ", "カ", "ナ"]  # NFKC
    assert words("ภาษาไทย") == ["ภ", "า", "ษ", "า", "ไ", "ท", "ย"]
    assert words("नमस्ते दुनिया") == ["नमस्ते", "दुनिया"]  # vowel signs stay in the word
    assert words("🙂 — !!!") == []


def test_words_equal_rouge_scores_tokens_on_any_ascii_text() -> None:
    rng = random.Random(5)
    alphabet = string.printable + "running runs generously"
    stemmed = DefaultTokenizer(use_stemmer=True)
    for _ in range(500):
        text = "".join(rng.choices(alphabet, k=rng.randint(0, 120)))
        assert words(text) == rouge_tokenize.tokenize(text, None), text
        assert words(text, stem=True) == stemmed.tokenize(text), text


def test_mlqa_normalisation() -> None:
    assert normalize_answer("The  Eiffel Tower!") == "eiffel tower"
    assert normalize_answer("“北京”，中国。", "zh") == "北 京 中 国"
    assert normalize_answer("Die Katze und der Hund", "de") == "katze und hund"
    assert normalize_answer("Los gatos", "es") == "gatos"
    assert normalize_answer("Los gatos", "en") == "los gatos"
    assert normalize_answer("¿Qué? «Sí»", "es") == "qué sí"


def test_sentences_end_at_every_scripts_terminals() -> None:
    assert sentences("第一句。第二句！第三句？最后") == ["第一句。", "第二句！", "第三句？", "最后"]
    assert sentences("「引用。」然后呢。") == ["「引用。」", "然后呢。"]
    assert sentences("It costs 3.5 euros. Next! Done?\nNew line") == [
        "It costs 3.5 euros.",
        "Next!",
        "Done?",
        "New line",
    ]
    assert sentences("नमस्ते। दुनिया।") == ["नमस्ते।", "दुनिया।"]
    assert sentences("  \n ") == []


def test_a_dataset_row_names_its_language(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "d.jsonl",
        [
            {"prompt": "首都？", "reference": "北京", "language": "zh-CN"},
            {"prompt": "Capital?", "reference": "Paris", "language": ""},
            {"prompt": "Hauptstadt?", "reference": "Berlin", "language": "de", "topic": "geo"},
        ],
    )
    examples = load_dataset(path).examples
    assert [e.language for e in examples] == ["zh", None, "de"]
    assert examples[2].meta == {"topic": "geo"}  # `language` is a column of its own
    bad = write_jsonl(
        tmp_path / "bad.jsonl", [{"prompt": "a"}, {"prompt": "b", "language": "中文"}]
    )
    with pytest.raises(DatasetError) as err:
        load_dataset(bad)
    assert "line 2: `language` '中文' is not a language code" in str(err.value)
    assert "zh" in err.value.hint


def test_a_use_case_may_name_its_language(tmp_path: Path) -> None:
    path = tmp_path / "uc.yaml"
    path.write_text(
        "name: zh-support\nvariants: [alpha]\ntargets: ['bleu >= 0.2']\nlanguage: zh-CN\n"
    )
    assert usecases.load_file(path).language == "zh"
    path.write_text("name: s\nvariants: [alpha]\ntargets: ['bleu >= 0.2']\n")
    assert usecases.load_file(path).language is None
    path.write_text("name: s\nvariants: [alpha]\ntargets: ['bleu >= 0.2']\nlanguage: Chinese\n")
    with pytest.raises(InvalidRequest, match="language: 'Chinese' is not a language code"):
        usecases.load_file(path)
