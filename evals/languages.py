"""Which language a text is in, for the metrics that tokenize: a language code given by the
dataset (`language` column) or the use case, else one guessed from the text's script.

The guess reads Unicode script properties only (no model, nothing to download): Han →
`zh`, kana → `ja`, Hangul → `ko`, Cyrillic → `ru`, Greek → `el`, Arabic → `ar`, Latin →
`en`, ... A script shared by several languages gives its most common one, so a French or
Ukrainian dataset should say its language; a text with no letters at all (empty,
emoji-only) is `und` (undetermined)."""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable

import regex

from evals.errors import LanguageError

UNDETERMINED = "und"

# Chinese languages (macrolanguage members) are tokenized as `zh`.
CHINESE = frozenset({"zh", "cmn", "yue", "wuu", "nan", "hak", "gan", "hsn", "lzh"})

# Scripts written without spaces between words, or whose characters are word-like
# (Han, kana, Hangul syllables): the metrics split them into single characters
# (grapheme clusters, so a Thai vowel sign stays with its consonant).
SEGMENTED_SCRIPTS = (
    r"\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\u30fc\uff70"
)

# Script → the language a text in that script is most likely in (the first match wins
# among these, by letter count). Han/kana/Hangul are decided apart, below.
_SCRIPT_LANGUAGE: tuple[tuple[str, str], ...] = (
    ("Latin", "en"),
    ("Cyrillic", "ru"),
    ("Greek", "el"),
    ("Arabic", "ar"),
    ("Hebrew", "he"),
    ("Devanagari", "hi"),
    ("Bengali", "bn"),
    ("Gurmukhi", "pa"),
    ("Gujarati", "gu"),
    ("Tamil", "ta"),
    ("Telugu", "te"),
    ("Kannada", "kn"),
    ("Malayalam", "ml"),
    ("Sinhala", "si"),
    ("Thai", "th"),
    ("Lao", "lo"),
    ("Khmer", "km"),
    ("Myanmar", "my"),
    ("Georgian", "ka"),
    ("Armenian", "hy"),
    ("Ethiopic", "am"),
    ("Tibetan", "bo"),
)
_SCRIPT_PATTERNS = [(regex.compile(rf"\p{{{s}}}"), lang) for s, lang in _SCRIPT_LANGUAGE]
_HAN = regex.compile(r"\p{Han}")
_KANA = regex.compile(r"[\p{Hiragana}\p{Katakana}]")
_HANGUL = regex.compile(r"\p{Hangul}")
_LETTER = regex.compile(r"\p{L}")
_ASCII_LETTER = re.compile(r"[A-Za-z]")

# A text is CJK when at least this share of its letters are Han, kana or Hangul. Low on
# purpose: the CJK tokenizers also handle the Latin words around them, while a Latin
# tokenizer keeps a whole Chinese clause as one token.
CJK_SHARE = 0.1
# Japanese when kana make up this share of the CJK characters (Japanese prose mixes kana
# and kanji; a Chinese text may quote one katakana name).
KANA_SHARE = 0.1
DETECT_CHARS = 4_000  # the script of the first characters is enough to decide

_TAG = re.compile(r"^[a-z]{2,3}$")


def normalize_language(tag: str) -> str:
    """The primary language subtag of a BCP 47 tag, lower case: `zh-CN` → `zh`,
    `pt_BR` → `pt`. Raises `LanguageError` for anything that is not a language code."""
    primary = str(tag).strip().lower().replace("_", "-").split("-")[0]
    if not _TAG.match(primary):
        raise LanguageError(
            f"{str(tag)!r} is not a language code",
            hint="Use an ISO 639 code such as zh, ja, ko, en, de, fr or ru (zh-CN works too), "
            "or leave it out to detect the language from the script.",
        )
    return primary


@functools.lru_cache(maxsize=65_536)
def _script_of(char: str) -> str | None:
    """`han`, `kana`, `hangul`, the language of another letter's script, `other` for a
    letter of a script not listed, None for anything but a letter."""
    if not _LETTER.match(char):
        return None
    for pattern, key in ((_HAN, "han"), (_KANA, "kana"), (_HANGUL, "hangul")):
        if pattern.match(char):
            return key
    for pattern, lang in _SCRIPT_PATTERNS:
        if pattern.match(char):
            return lang
    return "other"


@functools.lru_cache(maxsize=4_096)
def detect_language(text: str) -> str:
    """The language a text's letters point to, by script; `und` when it has none.
    Cached: every metric of a sample asks about the same texts."""
    text = text[:DETECT_CHARS]
    if text.isascii():
        return "en" if _ASCII_LETTER.search(text) else UNDETERMINED
    counts: Counter[str] = Counter()
    for char, n in Counter(text).items():
        script = _script_of(char)
        if script is not None:
            counts[script] += n
    letters = sum(counts.values())
    if not letters:
        return UNDETERMINED
    han, kana, hangul = counts["han"], counts["kana"], counts["hangul"]
    if han + kana + hangul >= CJK_SHARE * letters:
        if hangul >= han + kana:
            return "ko"
        return "ja" if kana >= KANA_SHARE * (han + kana) else "zh"
    others = [(n, lang) for lang, n in counts.items() if lang not in ("han", "kana", "hangul")]
    n, lang = max(others)
    return lang if lang != "other" else UNDETERMINED


def resolve_language(given: str | None, texts: Iterable[str | None]) -> str:
    """The given language code (normalised), else the one detected from the first of
    `texts` whose script tells one."""
    if given:
        return normalize_language(given)
    for text in texts:
        if text:
            found = detect_language(text)
            if found != UNDETERMINED:
                return found
    return UNDETERMINED
