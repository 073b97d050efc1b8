"""LLM judges: through the real Bedrock client against the fake server (valid, unparsable,
throttled, failing), and the position-swap rule with a judge whose replies depend on order."""

from __future__ import annotations

import json

from evals.judges import PairwiseJudge


def test_a_consistent_judge_picks_the_same_answer_in_both_orders() -> None:
    def judge_prefers_paris(messages: list[dict[str, str]]) -> str:
        prompt = messages[0]["content"]
        a_part = prompt.split("Answer A:")[1].split("Answer B:")[0]
        return json.dumps({"winner": "A" if "Paris" in a_part else "B"})

    verdict = PairwiseJudge(judge_prefers_paris, "toy").compare("Capital?", "Lyon.", "Paris.")
    assert (verdict.first, verdict.second, verdict.winner) == ("b", "b", "b")
    assert verdict.consistent is True
    tie = PairwiseJudge(lambda _: '{"winner": "tie"}', "toy").compare("q", "x", "y")
    assert tie.winner == "tie" and tie.consistent is True
