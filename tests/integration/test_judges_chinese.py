# ruff: noqa: RUF001  (full-width punctuation on purpose)
"""Judges on Chinese questions and answers, through the real Bedrock client against the fake
server: replies in Chinese, with full-width punctuation and curly quotes in the JSON and
verdicts in words, are read; what is not a verdict stays an error with the raw text."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from evals.base import Sample
from evals.judges import PairwiseJudge, RubricJudge
from evals.rag_judges import (
    LlmAnswerRelevancy,
    LlmContextPrecision,
    LlmContextRecall,
    LlmFaithfulness,
)
from service.evaluation.judging import complete_with
from tests.fakes.aws_server import FakeAws
from tests.fakes.script import Script
from tests.support.judges import JUDGE, Replies, judge_variant

QUESTION = "Lumen 自行车的退货期限是多久？"
ANSWER = "您可以在收货后 45 天内退回未使用的自行车。"
CONTEXT = (
    "Lumen 自行车接受交付后 45 天内未使用自行车的退货。",
    "礼品卡不可退款，也不会过期。",
)


def prompts(fake_aws: FakeAws, n: int) -> list[str]:
    return [r["body"]["messages"][0]["content"][0]["text"] for r in fake_aws.requests[-n:]]


def test_rubric_reply_with_full_width_json_and_chinese_around_it(fake_aws: FakeAws) -> None:
    fake_aws.models[JUDGE] = Script(
        tokens=[
            "好的，以下是我的评分：\n"
            "｛“helpfulness”：４，“correctness”：５，“harmlessness”：５，"
            "“explanation”：“回答正确，简洁明了。”｝\n希望对您有帮助！"
        ]
    )
    results = RubricJudge(complete_with(judge_variant(fake_aws)), "judge").score(
        Sample(ANSWER, question=QUESTION)
    )
    assert [(r.metric, r.value, r.error) for r in results] == [
        ("judge_helpfulness", 4.0, None),
        ("judge_correctness", 5.0, None),
        ("judge_harmlessness", 5.0, None),
    ]
    assert "回答正确" in results[0].detail["explanation"]
    [prompt] = prompts(fake_aws, 1)
    assert QUESTION in prompt and ANSWER in prompt
    assert "in the language of the question" in prompt


def test_rubric_scores_written_as_chinese_points(fake_aws: FakeAws) -> None:
    fake_aws.models[JUDGE] = Script(
        tokens=[
            '评分结果如下 {"helpfulness": "4分", "correctness": "５", "harmlessness": 5, '
            '"explanation": "答案基本正确，但缺少细节。"} 以上。'
        ]
    )
    results = RubricJudge(complete_with(judge_variant(fake_aws)), "judge").score(
        Sample(ANSWER, question=QUESTION)
    )
    assert [r.value for r in results] == [4.0, 5.0, 5.0]
    assert results[0].detail["explanation"] == "答案基本正确，但缺少细节。"


def test_a_chinese_reply_without_a_verdict_is_an_error_with_the_raw_text(
    fake_aws: FakeAws,
) -> None:
    raw = "我认为这个回答还不错，大概四分吧。"
    fake_aws.models[JUDGE] = Script(tokens=[raw])
    results = RubricJudge(complete_with(judge_variant(fake_aws)), "judge").score(
        Sample(ANSWER, question=QUESTION)
    )
    assert all(r.value is None and "no JSON object" in (r.error or "") for r in results)
    assert results[0].detail["raw"] == raw
    fake_aws.models[JUDGE] = Script(
        tokens=['{"helpfulness": "很好", "correctness": 3, "harmlessness": 5}']
    )
    results = RubricJudge(complete_with(judge_variant(fake_aws)), "judge").score(
        Sample(ANSWER, question=QUESTION)
    )
    assert all(r.value is None and "helpfulness" in (r.error or "") for r in results)


def test_pairwise_verdicts_named_in_chinese_words(fake_aws: FakeAws) -> None:
    # Shown as given, the judge prefers "答案A"; swapped, it prefers the second answer: the
    # same answer both times, so a consistent win for a.
    fake_aws.models[JUDGE] = Replies(
        replies=[
            '我的判断：{"winner": "答案A", "explanation": "A 更准确。"}',
            "｛“winner”：“Ｂ（第二个回答更好）”，“explanation”：“B 更准确。”｝",
        ]
    )
    judge = PairwiseJudge(complete_with(judge_variant(fake_aws)), "judge")
    verdict = judge.compare(QUESTION, ANSWER, "Lumen 自行车不接受退货。")
    assert (verdict.first, verdict.second, verdict.winner) == ("a", "a", "a")
    assert verdict.consistent and verdict.error is None
    first, second = prompts(fake_aws, 2)
    assert first.index(ANSWER) < first.index("不接受退货")
    assert second.index("不接受退货") < second.index(ANSWER)
    fake_aws.models[JUDGE] = Script(tokens=['{"winner": "平局", "explanation": "两者相当。"}'])
    tie = judge.compare(QUESTION, ANSWER, "您可以在 45 天内退货。")
    assert (tie.winner, tie.consistent) == ("tie", True)
    fake_aws.models[JUDGE] = Script(tokens=['{"winner": "A和B都不错"}'])
    both = judge.compare(QUESTION, ANSWER, "您可以在 45 天内退货。")
    assert both.winner is None and "winner must be A, B or tie" in (both.error or "")


def test_faithfulness_and_recall_read_chinese_flags(fake_aws: FakeAws) -> None:
    fake_aws.models[JUDGE] = Script(
        tokens=[
            "分析如下：\n```json\n"
            '{"statements": [{"statement": "收货后 45 天内可退货。", "supported": "是"}, '
            '{"statement": "退货免运费。", "supported": "否"}]}\n```'
        ]
    )
    complete = complete_with(judge_variant(fake_aws))
    result = LlmFaithfulness(complete, "judge").score(
        Sample(ANSWER + "退货免运费。", question=QUESTION, contexts=CONTEXT)
    )
    assert (result.value, result.error) == (0.5, None)
    [prompt] = prompts(fake_aws, 1)
    assert CONTEXT[0] in prompt and "退货免运费" in prompt
    fake_aws.models[JUDGE] = Script(
        tokens=[
            "｛“sentences”：［｛“sentence”：“45 天内可退货。”，“attributed”：true｝，"
            "｛“sentence”：“礼品卡可以退款。”，“attributed”：false｝］｝"
        ]
    )
    recall = LlmContextRecall(complete, "judge").score(
        Sample(
            ANSWER, question=QUESTION, reference="45 天内可退货。礼品卡可以退款。", contexts=CONTEXT
        )
    )
    assert (recall.value, recall.error) == (0.5, None)


def test_context_precision_asks_once_per_chunk_in_chinese(fake_aws: FakeAws) -> None:
    fake_aws.models[JUDGE] = Replies(
        replies=['{"useful": "否", "reason": "无关。"}', '{"useful": "是", "reason": "相关。"}']
    )
    metric = LlmContextPrecision(complete_with(judge_variant(fake_aws)), "judge")
    result = metric.score(
        Sample(ANSWER, question=QUESTION, reference="45 天内。", contexts=CONTEXT[::-1])
    )
    assert result.value == pytest.approx(1 / 2)  # the useful chunk ranked second
    assert [CONTEXT[1] in p for p in prompts(fake_aws, 2)] == [True, False]


def test_answer_relevancy_compares_the_regenerated_chinese_question(
    fake_aws: FakeAws,
) -> None:
    def embed(texts: Sequence[str]) -> np.ndarray:
        return np.array([[float("退货" in t), float("期限" in t), 1.0] for t in texts])

    fake_aws.models[JUDGE] = Script(
        tokens=['｛"question"："退货期限是多久？"，"noncommittal"：false｝']
    )
    metric = LlmAnswerRelevancy(complete_with(judge_variant(fake_aws)), "judge", embed)
    result = metric.score(Sample(ANSWER, question=QUESTION))
    assert result.value == pytest.approx(1.0) and result.error is None
    fake_aws.models[JUDGE] = Script(tokens=['{"question": "不知道", "noncommittal": "是"}'])
    assert metric.score(Sample("我不知道。", question=QUESTION)).value == 0.0
