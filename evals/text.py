# ruff: noqa: RUF001, RUF002  (text in other scripts on purpose: not look-alikes)
"""Cutting text into words and sentences in any script, for the metrics that count words.

- `words`: the letters and digits of every script, lower case (NFKC, so full-width
  `ＡＢＣ１２` is `abc12`); Han, kana, Hangul, Thai, Lao, Khmer and Myanmar one character
  (grapheme) each, since they are written without spaces between words; Porter stems
  for English words of more than three letters. On ASCII English this is exactly
  rouge-score's own tokenizer; unlike it, `café`, `Völker`, `東京` and `Москва` survive.
- `normalize_answer`: the MLQA evaluation script's answer normalisation (lower case, no
  Unicode punctuation, no articles of the language, Han and the other scripts above split
  into characters, single spaces), for exact match and token F1.
- `sentences`: split after `.!?` followed by a space, after `。！？` and the other
  sentence terminals of Unicode (with or without a space), and at line breaks.

Hand-written rather than taken from a segmenter (jieba, mecab): single characters need no
dictionary, give the same tokens on every machine and version, and are what Chinese
ROUGE and MLQA's Chinese F1 use; a segmenter's word boundaries would make scores depend
on its dictionary."""

from __future__ import annotations

import functools
import re
import string
import unicodedata

import regex

from evals.languages import SEGMENTED_SCRIPTS

_WORD = regex.compile(
    rf"(?=[{SEGMENTED_SCRIPTS}])\X|[[\p{{L}}\p{{N}}\p{{M}}]--[{SEGMENTED_SCRIPTS}]]+", regex.V1
)
_SEGMENTED = regex.compile(rf"((?=[{SEGMENTED_SCRIPTS}])\X)", regex.V1)
# MLQA: every Unicode punctuation character (category P*) and ASCII's punctuation, which
# also holds the symbols $+<=>^`|~.
_PUNCT = regex.compile(rf"[\p{{P}}{re.escape(string.punctuation)}]")
# MLQA's articles per language (English, Spanish, German, Vietnamese, Arabic as in its
# script), plus French. Languages without articles keep every word.
_ARTICLES = {
    "en": re.compile(r"\b(a|an|the)\b"),
    "es": re.compile(r"\b(un|una|unos|unas|el|la|los|las)\b"),
    "de": re.compile(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b"),
    "vi": re.compile(r"\b(của|là|cái|chiếc|những)\b"),
    "ar": re.compile(r"\sال^|ال"),
    "fr": re.compile(r"\b(le|la|les|un|une|des|du)\b"),
}
_SENTENCE = regex.compile(
    r"(?<=[.!?])\s+"
    r"|(?<=[\p{Sentence_Terminal}--[.!?]][\p{Pf}\p{Pe}\"']*)(?![\p{Pf}\p{Pe}\"'])\s*"
    r"|\n+",
    regex.V1,
)
_ASCII_WORD = re.compile(r"^[a-z0-9]+$")


class _Stemmer:
    """nltk's Porter stemmer with a cache (stemming is most of rouge-score's time): the
    same stems, each word computed once."""

    def __init__(self) -> None:
        from nltk.stem import porter  # lazy: nltk takes seconds to import; English only

        self.stem = functools.lru_cache(maxsize=200_000)(porter.PorterStemmer().stem)


@functools.cache
def _stemmer() -> _Stemmer:
    return _Stemmer()


def _fold(text: str) -> str:
    text = text.lower()
    return text if text.isascii() else unicodedata.normalize("NFKC", text).lower()


def words(text: str, *, stem: bool = False) -> list[str]:
    """Lower-case words of every script, CJK and the like as single characters; Porter
    stems (words of more than three ASCII letters or digits) when `stem`, for English."""
    tokens: list[str] = _WORD.findall(_fold(text))
    if stem:
        porter = _stemmer().stem
        tokens = [porter(t) if len(t) > 3 and _ASCII_WORD.match(t) else t for t in tokens]
    return tokens


def normalize_answer(text: str, language: str = "en") -> str:
    """MLQA's normalisation for `language`: lower case, punctuation removed, articles
    removed, characters of unspaced scripts split apart, single spaces."""
    text = _PUNCT.sub("", text.lower())
    articles = _ARTICLES.get(language)
    if articles is not None:
        text = articles.sub(" ", text)
    return " ".join(_SEGMENTED.sub(r" \1 ", text).split())


def sentences(text: str) -> list[str]:
    """The text's sentences, stripped, empty ones left out."""
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]
