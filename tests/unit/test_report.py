"""Reports: bootstrap CIs, paired comparisons, judge win rates, the regression gate and the
rendered HTML / Markdown with their plots."""

from __future__ import annotations

import io
import re
from typing import Any

import numpy as np
import pytest
from PIL import Image

from evals import plots
from evals.render import to_html, to_markdown
from evals.report import (
    Report,
    bootstrap_mean,
    compare,
    gate,
    parse_thresholds,
    summarize,
)


def item(
    example: str,
    rouge: float | None,
    *,
    status: str = "ok",
    latency_ms: float = 1000.0,
    answer: str = "an answer",
    error: str | None = None,
) -> dict[str, Any]:
    scores = [] if status != "ok" else [{"metric": "rouge_l", "value": rouge, "error": error}]
    return {
        "example_id": example,
        "prompt": f"question {example}",
        "answer": answer,
        "status": status,
        "latency_ms": latency_ms,
        "ttft_ms": latency_ms / 4,
        "tokens_out": 10,
        "cost_usd": 0.001,
        "scores": scores,
    }


def test_bootstrap_interval_matches_the_normal_approximation() -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(0.5, 0.1, size=400)
    est = bootstrap_mean(list(values))
    assert est.mean == pytest.approx(values.mean())
    assert est.low is not None and est.high is not None
    assert est.low < est.mean < est.high
    expected_half_width = 1.96 * values.std(ddof=1) / np.sqrt(len(values))
    assert (est.high - est.low) / 2 == pytest.approx(expected_half_width, rel=0.15)
    assert bootstrap_mean(list(values)) == est  # seeded: the same numbers every time


def test_bootstrap_edge_cases_give_no_nan() -> None:
    empty = bootstrap_mean([], errors=3)
    assert (empty.mean, empty.low, empty.high, empty.n, empty.errors) == (None, None, None, 0, 3)
    assert empty.fmt() == "—"
    one = bootstrap_mean([0.25])
    assert (one.mean, one.low, one.high) == (0.25, 0.25, 0.25)
    assert bootstrap_mean([1.0] * 50).fmt() == "1.000 [1.000, 1.000]"


def test_summary_counts_failed_answers_as_errors_not_zero_scores() -> None:
    items = [
        item("1", 0.5, latency_ms=100),
        item("2", 0.7, latency_ms=200),
        item("3", None, error="the reference answer is empty", latency_ms=300),
        item("4", None, status="error"),
    ]
    s = summarize("v", items)
    assert s.answers == 4
    assert s.metrics["rouge_l"].mean == pytest.approx(0.6)
    assert s.metrics["rouge_l"].n == 2 and s.metrics["rouge_l"].errors == 1
    assert s.metrics["error_rate"].mean == pytest.approx(0.25)
    assert s.metrics["latency_s"].mean == pytest.approx(0.2)  # failed answers have no latency
    assert s.p50_latency_s == pytest.approx(0.2)
    assert s.p90_latency_s == pytest.approx(np.quantile([0.1, 0.2, 0.3], 0.9))
    assert s.scored() == ["rouge_l"]


def test_paired_comparison_and_judge_win_rate() -> None:
    a = [item(str(i), 0.3 + 0.01 * (i % 5), latency_ms=500) for i in range(40)]
    b = [item(str(i), 0.5 + 0.01 * (i % 5), latency_ms=900) for i in range(40)]
    verdicts = {str(i): ("b" if i < 30 else "tie" if i < 36 else "a") for i in range(40)}
    c = compare(("A", a), ("B", b), verdicts=verdicts, judge="pairwise-v1@judge")
    rouge = next(d for d in c.diffs if d.metric == "rouge_l")
    assert rouge.diff.mean == pytest.approx(0.2)
    assert rouge.diff.n == 40 and rouge.significant and rouge.better == "b"
    latency = next(d for d in c.diffs if d.metric == "latency_s")
    assert latency.diff.mean == pytest.approx(0.4) and latency.better == "a"  # lower is better
    win = c.win_rate_b
    assert win is not None and win.mean == pytest.approx((30 + 0.5 * 6) / 40)
    assert c.verdicts == {"b": 30, "tie": 6, "a": 4}
    same = compare(("A", a), ("A again", a))
    assert all(not d.significant for d in same.diffs)
    assert same.win_rate_b is None  # no judge, no win rate


def test_compare_pairs_only_examples_present_on_both_sides() -> None:
    a = [item("1", 0.2), item("2", 0.4)]
    b = [item("2", 0.9), item("3", 0.1)]
    c = compare(("A", a), ("B", b))
    assert [e.example_id for e in c.examples] == ["2"]
    rouge = next(d for d in c.diffs if d.metric == "rouge_l")
    assert rouge.diff.mean == pytest.approx(0.5) and rouge.diff.n == 1


def test_gate_passes_within_allowance_and_fails_beyond_it() -> None:
    base = summarize("base", [item(str(i), 0.50, latency_ms=1000) for i in range(10)])
    small_drop = summarize("cand", [item(str(i), 0.49, latency_ms=1100) for i in range(10)])
    big_drop = summarize("cand", [item(str(i), 0.40, latency_ms=3000) for i in range(10)])
    ok = gate(base, small_drop, {"rouge_l": 0.02, "latency_s": 0.5})
    assert all(c.passed for c in ok), ok
    bad = {c.metric: c for c in gate(base, big_drop, {"rouge_l": 0.02, "latency_s": 0.5})}
    assert not bad["rouge_l"].passed and "dropped by 0.1" in bad["rouge_l"].reason
    assert not bad["latency_s"].passed and "rose by 2" in bad["latency_s"].reason
    missing = gate(base, small_drop, {"bleu": 0.1})
    assert not missing[0].passed and "no bleu values in the baseline" in missing[0].reason


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("rouge_l", "is not METRIC=AMOUNT"),
        ("=0.1", "is not METRIC=AMOUNT"),
        ("rouge_l=abc", "is not a number"),
        ("rouge_l=-1", "must be a number >= 0"),
        ("rouge_l=nan", "must be a number >= 0"),
    ],
)
def test_bad_thresholds_are_explained(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_thresholds([spec])


def _report() -> tuple[Report, list[tuple[str, list[dict[str, Any]]]]]:
    a = [item(str(i), 0.3 + 0.02 * i, answer="<script>alert(1)</script> | pipe") for i in range(8)]
    b = [item(str(i), 0.4 + 0.02 * i, latency_ms=1500) for i in range(8)]
    sides = [("v<1>", a), ("v2", b)]
    summaries = [summarize(label, items) for label, items in sides]
    report = Report(
        title="Run <x>",
        meta={"runs": "r1"},
        sides=summaries,
        comparisons=[compare(sides[0], sides[1])],
    )
    dist = plots.distributions(sides)
    scatter = plots.latency_vs_quality(summaries, "rouge_l")
    assert dist is not None and scatter is not None
    report.plots.update({"distributions.png": dist, "latency_vs_quality.png": scatter})
    return report, sides


def test_html_report_is_self_contained_and_escapes_what_it_shows() -> None:
    report, _ = _report()
    page = to_html(report)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Run &lt;x&gt;" in page and "v&lt;1&gt;" in page
    # Nothing is fetched from elsewhere: no external src, href or stylesheet.
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 2
    import base64

    for data in images:
        Image.open(io.BytesIO(base64.b64decode(data))).verify()
    assert "0.100" in page  # the paired rouge_l difference, B - A


def test_markdown_report_has_tables_and_plot_references() -> None:
    report, _ = _report()
    md = to_markdown(report)
    assert md.startswith("# Run <x>")
    assert "| side | answers | rouge_l |" in md
    assert "\\| pipe" in md  # a pipe in an answer does not break the table
    assert "![distributions.png](distributions.png)" in md
    for png in report.plots.values():
        with Image.open(io.BytesIO(png)) as img:
            assert img.format == "PNG" and img.size[0] > 100
