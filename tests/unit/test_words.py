"""BM25 words in every script: English exactly as bm25s tokenized it before, Chinese by
jieba plus characters, Japanese and Korean by bigrams, accents kept, a stemmer only where
the script says which language; chunks end at full-width sentence marks."""

from __future__ import annotations

import bm25s
import Stemmer

from rag import SAMPLE_CORPUS, ChunkSettings
from rag.chunking import split
from rag.lexical import LexicalIndex
from rag.loaders import Section
from rag.words import words


def _bm25s_words(text: str) -> list[str]:
    tokens = bm25s.tokenize(
        [text], stopwords="en", stemmer=Stemmer.Stemmer("english"), show_progress=False
    )
    vocab = {i: w for w, i in tokens.vocab.items()}
    return [vocab[i] for i in tokens.ids[0]]


def test_english_words_are_exactly_what_bm25s_gave() -> None:
    for path in sorted(SAMPLE_CORPUS.glob("*.md")):
        text = path.read_text()
        assert words(text) == _bm25s_words(text), path.name


def test_chinese_is_cut_into_words_and_characters() -> None:
    tokens = words("电助力车的电池保修几年？")
    assert {"助力车", "电池", "保修"} <= set(tokens)  # jieba's words
    assert {"电", "池", "车"} <= set(tokens)  # and each character
    assert "的" not in tokens and "？" not in tokens
    assert "电助力车的电池保修几年" not in tokens  # bm25s kept the clause as one word


def test_japanese_and_korean_by_bigrams_and_other_scripts_keep_their_letters() -> None:
    assert words("電池の容量") == ["電池", "池の", "の容", "容量"]
    assert words("배터리는 얼마나") == ["배터", "터리", "리는", "얼마", "마나"]
    assert words("Café Ümlaut") == ["café", "ümlaut"]  # accents kept, not "caf"
    assert words("книги книга") == ["книг", "книг"]  # Russian stemmer for Cyrillic
    assert words("") == [] and words("🚲🔋!!") == [] and words("the of and") == []


def test_a_chinese_question_finds_its_chunk_by_bm25() -> None:
    texts = [
        "退款会在 10 个工作日内原路退回到您的付款方式。",
        "使用标配的 4 安培充电器充满一次需要 4.5 小时。",
        "每个 Lumen 车架都为首任车主提供针对制造缺陷的终身保修。",
    ]
    index = LexicalIndex([10, 20, 30], texts)
    assert index.search("充电要多少小时？", k=3)[0][0] == 20
    assert index.search("车架保修多久", k=3)[0][0] == 30
    assert index.search("退款多久到账", k=3)[0][0] == 10
    assert index.search("。？", k=3) == []


def test_chinese_chunks_end_at_full_width_sentence_marks() -> None:
    sentence = "按照欧洲关于电助力自行车的法规，车速达到每小时二十五公里时电机停止助力。"
    text = sentence * 12
    chunks = split([Section(text=text)], ChunkSettings(size_tokens=64, overlap_tokens=0), len)
    assert len(chunks) > 1
    assert all(c.text.endswith("。") for c in chunks)
    english = "Tide pools hold crabs. " * 20
    pieces = split([Section(text=english)], ChunkSettings(size_tokens=64, overlap_tokens=0), len)
    assert all(p.text.endswith(".") for p in pieces)
