"""RAG metrics that need no judge: faithfulness_overlap, context_recall_match /
context_precision_match, answer_relevancy_embedding."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from evals.base import Sample
from evals.errors import UnknownMetric
from evals.rag_metrics import AnswerRelevancy, ContextPrecision, ContextRecall, Faithfulness
from evals.registry import build_metrics, needs_embedding

RETURNS = "Lumen Bikes accepts returns of unused bicycles within 45 days of delivery."
GIFTS = "Gift cards are not refundable and do not expire."
SHIPPING = "Delivery is free for orders over 100 euros; smaller orders pay a flat 7.50 euros."


def test_faithfulness_is_the_share_of_supported_sentences() -> None:
    f = Faithfulness()
    supported = f.score(
        Sample("You can return unused bicycles within 45 days.", contexts=(RETURNS,))
    )
    assert supported.value == 1.0
    half = f.score(
        Sample(
            "You can return unused bicycles within 45 days. Shipping to Mars costs nothing extra.",
            contexts=(RETURNS,),
        )
    )
    assert half.value == 0.5
    assert f.score(Sample("Anything.")).error == "needs retrieved contexts; the answer had none"
    assert f.score(Sample("  ", contexts=(RETURNS,))).error == "the answer is empty"


def test_faithfulness_splits_chinese_sentences_and_counts_characters() -> None:
    context = ("Lumen 自行车接受交付后 45 天内未使用自行车的退货。礼品卡不可退款，也不会过期。",)
    f = Faithfulness()
    supported = f.score(Sample("您可以在 45 天内退回未使用的自行车。", contexts=context))
    assert (supported.value, supported.version) == (1.0, "overlap-2")
    # 。！？ end sentences with no space after them: one supported, one not.
    for answer in (
        "您可以在 45 天内退回未使用的自行车。运送到火星不另收费！",
        "运送到火星不另收费？您可以在 45 天内退回未使用的自行车",
        "「您可以在 45 天内退回未使用的自行车。」运送到火星不另收费。",
    ):
        assert f.score(Sample(answer, contexts=context)).value == 0.5, answer
    assert f.score(Sample("。！？", contexts=context)).error == "the answer is empty"
    japanese = Faithfulness().score(
        Sample(
            "返品は45日以内です。火星への送料は無料です。", contexts=("返品は到着後45日以内です。",)
        )
    )
    assert japanese.value == 0.5
    bad = f.score(Sample("答案。", contexts=context, language="Chinese"))
    assert bad.value is None and "'Chinese' is not a language code" in (bad.error or "")


def test_context_recall_and_precision_follow_the_ranking() -> None:
    recall, precision = ContextRecall(), ContextPrecision()
    both = Sample("a", contexts=(SHIPPING, RETURNS, GIFTS), reference_contexts=(RETURNS, GIFTS))
    assert recall.score(both).value == 1.0
    # Relevant at ranks 2 and 3: (1/2 + 2/3) / 2.
    assert precision.score(both).value == pytest.approx((1 / 2 + 2 / 3) / 2)
    first = Sample("a", contexts=(RETURNS, GIFTS, SHIPPING), reference_contexts=(RETURNS, GIFTS))
    assert precision.score(first).value == 1.0
    half = Sample("a", contexts=(SHIPPING, RETURNS), reference_contexts=(RETURNS, GIFTS))
    assert recall.score(half).value == 0.5
    # A retrieved chunk that holds the reference passage inside more text still counts.
    longer = Sample("a", contexts=("Intro. " * 40 + RETURNS,), reference_contexts=(RETURNS,))
    assert recall.score(longer).value == 1.0
    assert recall.score(Sample("a", contexts=(RETURNS,))).error is not None
    assert recall.score(Sample("a", reference_contexts=(RETURNS,))).value == 0.0
    assert precision.score(Sample("a", reference_contexts=(RETURNS,))).error is not None


def fake_embed(texts: Sequence[str]) -> np.ndarray:
    """Bag of words over a tiny vocabulary: similar texts, similar vectors."""
    vocab = ["return", "bicycle", "days", "delivery", "euros", "pizza"]
    return np.array(
        [[float(sum(w.startswith(v) for w in t.lower().split())) for v in vocab] for t in texts],
        dtype=np.float32,
    )


def test_answer_relevancy_compares_question_and_answer() -> None:
    m = AnswerRelevancy(fake_embed, "bag")
    on_topic = m.score(
        Sample("Return the bicycle within 45 days.", question="How many days to return a bicycle?")
    )
    off_topic = m.score(Sample("I like pizza.", question="How many days to return a bicycle?"))
    assert on_topic.value is not None and off_topic.value is not None
    assert on_topic.value > 0.8 and off_topic.value == 0.0
    assert m.score(Sample("", question="q")).value == 0.0
    assert m.score(Sample("answer")).error == "needs the question; the sample has none"
    assert m.version == "cosine-bag"


def test_build_metrics_knows_the_rag_metrics() -> None:
    names = [
        "faithfulness_overlap",
        "context_recall_match",
        "context_precision_match",
        "answer_relevancy_embedding",
    ]
    assert needs_embedding(names) and not needs_embedding(names[:3])
    built = build_metrics(names, embed=fake_embed, embed_model="bag")
    assert [m.name for m in built] == names
    assert all(m.needs_context for m in built[:3]) and not built[3].needs_reference
    with pytest.raises(UnknownMetric, match="answer_relevancy_embedding needs an embedding model"):
        build_metrics(["answer_relevancy_embedding"])
    with pytest.raises(UnknownMetric, match=r"known: .*faithfulness_overlap"):
        build_metrics(["faithfulnes"])
