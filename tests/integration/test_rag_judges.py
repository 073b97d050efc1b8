"""RAG metrics graded by a judge model: through the real Bedrock client against the fake
server, and the ranking logic with a judge whose replies depend on the prompt."""

from __future__ import annotations

from evals.base import Sample
from evals.rag_judges import (
    RAG_JUDGE_VERSION,
    LlmFaithfulness,
)
from service.evaluation.judging import complete_with
from tests.fakes.aws_server import FakeAws
from tests.fakes.script import Script
from tests.support.judges import JUDGE, judge_variant
from tests.support.rag_judges import CONTEXT


def test_faithfulness_through_bedrock(fake_aws: FakeAws) -> None:
    fake_aws.models[JUDGE] = Script(
        tokens=[
            'Here you go: {"statements": [{"statement": "Returns within 45 days.", '
            '"supported": true}, {"statement": "Returns are free.", "supported": false}]}'
        ]
    )
    metric = LlmFaithfulness(complete_with(judge_variant(fake_aws)), "judge")
    result = metric.score(
        Sample("You can return it within 45 days, for free.", question="q", contexts=CONTEXT)
    )
    assert result.value == 0.5 and result.error is None
    assert result.version == f"{RAG_JUDGE_VERSION}@judge"
    prompt = fake_aws.requests[-1]["body"]["messages"][0]["content"][0]["text"]
    assert CONTEXT[0] in prompt and "for free" in prompt


def test_unparsable_or_failing_judge_is_an_error_with_the_raw_text(fake_aws: FakeAws) -> None:
    fake_aws.models[JUDGE] = Script(
        tokens=['{"statements": [{"statement": "x", "supported": "partly"}]}']
    )
    metric = LlmFaithfulness(complete_with(judge_variant(fake_aws)), "judge")
    result = metric.score(Sample("An answer.", contexts=CONTEXT))
    assert result.value is None and "`supported` must be true or false" in (result.error or "")
    assert result.detail["raw"] == ['{"statements": [{"statement": "x", "supported": "partly"}]}']
    fake_aws.models[JUDGE] = Script(failure="access_denied")
    failed = metric.score(Sample("An answer.", contexts=CONTEXT))
    assert failed.value is None and (failed.error or "").startswith("the judge failed")
    no_context = metric.score(Sample("An answer."))
    assert no_context.error == "needs retrieved contexts; the answer had none"
