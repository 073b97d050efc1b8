"""LLM judges: through the real Bedrock client against the fake server (valid, unparsable,
throttled, failing), and the position-swap rule with a judge whose replies depend on order."""

from __future__ import annotations

from evals.base import Sample
from evals.judges import PAIRWISE_VERSION, RUBRIC_VERSION, PairwiseJudge, RubricJudge
from service.evaluation.judging import complete_with
from tests.fakes.aws_server import FakeAws
from tests.fakes.script import Script
from tests.support.judges import JUDGE, judge_variant


def reply(text: str) -> Script:
    return Script(tokens=[text])


def test_rubric_verdict_through_bedrock(fake_aws: FakeAws) -> None:
    fake_aws.models[JUDGE] = reply(
        'Sure. {"helpfulness": 4, "correctness": 5, "harmlessness": 5, "explanation": "Right."}'
    )
    judge = RubricJudge(complete_with(judge_variant(fake_aws)), "judge")
    results = judge.score(Sample(answer="Paris.", question="Capital of France?"))
    assert {r.metric: r.value for r in results} == {
        "judge_helpfulness": 4.0,
        "judge_correctness": 5.0,
        "judge_harmlessness": 5.0,
    }
    assert all(r.version == f"{RUBRIC_VERSION}@judge" for r in results)
    assert results[0].detail["explanation"] == "Right."
    body = fake_aws.requests[-1]["body"]
    assert fake_aws.requests[-1]["path"].endswith("/converse")
    assert body["inferenceConfig"] == {"temperature": 0.0, "maxTokens": 300}
    prompt = body["messages"][0]["content"][0]["text"]
    assert "Capital of France?" in prompt and "Paris." in prompt


def test_unparsable_verdict_is_an_error_with_the_raw_text(fake_aws: FakeAws) -> None:
    fake_aws.models[JUDGE] = reply("I think it is pretty good, maybe a 4?")
    results = RubricJudge(complete_with(judge_variant(fake_aws)), "judge").score(
        Sample(answer="Paris.", question="Capital?")
    )
    assert all(r.value is None and "no JSON object" in (r.error or "") for r in results)
    assert results[0].detail["raw"] == "I think it is pretty good, maybe a 4?"
    fake_aws.models[JUDGE] = reply(
        '{"helpfulness": 9, "correctness": 5, "harmlessness": "excellent"}'
    )
    results = RubricJudge(complete_with(judge_variant(fake_aws)), "judge").score(
        Sample(answer="Paris.", question="Capital?")
    )
    assert all("helpfulness, harmlessness" in (r.error or "") for r in results)


def test_throttling_is_retried_and_a_persistent_failure_is_an_error(fake_aws: FakeAws) -> None:
    fake_aws.models[JUDGE] = Script(tokens=['{"winner": "A"}'], failure="throttle", fail_times=2)
    judge = PairwiseJudge(complete_with(judge_variant(fake_aws, max_attempts=3)), "judge")
    verdict = judge.compare("q", "answer one", "answer two")
    assert verdict.error is None and fake_aws.models[JUDGE].calls == 4  # 2 throttled + 2 orders
    fake_aws.models[JUDGE] = Script(failure="access_denied")
    failed = PairwiseJudge(complete_with(judge_variant(fake_aws)), "judge").compare("q", "x", "y")
    assert failed.winner is None and "access" in (failed.error or "").lower()


def test_a_judge_that_always_says_a_is_position_biased_so_it_is_a_tie(
    fake_aws: FakeAws,
) -> None:
    fake_aws.models[JUDGE] = reply('{"winner": "A", "explanation": "first is best"}')
    verdict = PairwiseJudge(complete_with(judge_variant(fake_aws)), "judge").compare(
        "Capital of France?", "Paris.", "Lyon."
    )
    assert (verdict.first, verdict.second) == ("a", "b")
    assert verdict.consistent is False and verdict.winner == "tie"
    assert verdict.version == f"{PAIRWISE_VERSION}@judge"
    prompts = [r["body"]["messages"][0]["content"][0]["text"] for r in fake_aws.requests[-2:]]
    assert prompts[0].index("Paris.") < prompts[0].index("Lyon.")
    assert prompts[1].index("Lyon.") < prompts[1].index("Paris.")  # the order was swapped
