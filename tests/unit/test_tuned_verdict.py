"""Base vs tuned: the win rate of decisive blind votes, its Wilson interval, and the stated
rule (promote / keep the base / not enough data yet)."""

from __future__ import annotations

import pytest

from evals.exports import Demonstration, trl_sft, validate
from evals.selection import TUNED_RULE, TunedComparison, WinRate, tuned_verdict


def test_the_rule_reads_the_interval_not_the_point_estimate() -> None:
    assert tuned_verdict(WinRate(0, 0, 7)) == "not_enough_data"  # ties only: no rate
    assert WinRate(0, 0, 7).rate is None and WinRate(0, 0, 7).fmt() == "—"
    assert tuned_verdict(WinRate(3, 0, 0)) == "not_enough_data"  # 100%, from 3 votes
    assert WinRate(3, 0, 0).interval[0] < 0.5  # type: ignore[index]
    assert tuned_verdict(WinRate(4, 0, 0)) == "promote"  # Wilson's lower bound: 51%
    assert tuned_verdict(WinRate(14, 2, 3)) == "promote"
    assert WinRate(14, 2, 3).interval[0] > 0.5  # type: ignore[index]
    assert tuned_verdict(WinRate(2, 14, 0)) == "keep_base"
    assert tuned_verdict(WinRate(30, 30, 0)) == "not_enough_data"
    assert WinRate(14, 2, 3).rate == pytest.approx(14 / 16)  # ties left out of the rate
    assert "95% Wilson interval" in TUNED_RULE and "50%" in TUNED_RULE


def test_the_recommendation_says_what_to_do_with_the_votes() -> None:
    def line(win: WinRate) -> str:
        return TunedComparison("t", "b", "job", "t-vs-base", win, [], []).recommendation

    assert line(WinRate(14, 2, 3)).startswith("Promote t: it beats b in blind votes (14 wins")
    assert line(WinRate(2, 14, 0)).startswith("Keep b: it beats its tuned t")
    assert "collect more votes in campaign t-vs-base" in line(WinRate(1, 1, 0))


def test_trl_sft_records_end_with_the_ideal_answer() -> None:
    prompt = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}]
    record = trl_sft(Demonstration(prompt, "Hello.", {"ideal_answer_id": "x"}))
    assert record["messages"][-1] == {"role": "assistant", "content": "Hello."}
    assert validate("trl-sft", record) == []
    assert validate("trl-sft", {"messages": prompt}) == [
        "messages must end with the assistant's answer"
    ]
