"""Reference metrics: BLEU + ROUGE-L over 10k answer/reference pairs through `evals.metrics`
÷ sacrebleu + rouge-score called directly in a plain loop (goal ≥ 1.0, and ≥ 1,000 pairs/s),
in English, then in Chinese (sacrebleu's `zh` tokenizer, and rouge-score given the same
tokenizer of every script that `evals.metrics` gives it). Both are run alternately, twice,
in one process."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable

import sacrebleu
from rouge_score import rouge_scorer

from bench._report import header, line, verdict
from evals.base import Sample
from evals.metrics import WordTokenizer
from evals.registry import build_metrics

PAIRS = int(os.environ.get("BENCH_METRICS_PAIRS", "10000"))
WORDS = [
    *("the", "a", "model", "answer", "returns", "refund", "days", "bike", "frame"),
    *("warranty", "battery", "range", "shipping", "order", "customer", "support"),
    *("europe", "within", "after", "before", "free", "cost", "euros", "charge"),
]


# The same vocabulary in Chinese: words of one to three characters.
CHINESE_WORDS = [
    *("的", "一个", "模型", "回答", "返回", "退款", "天", "自行车", "车架"),
    *("保修", "电池", "续航", "运费", "订单", "客户", "支持"),
    *("欧洲", "以内", "之后", "之前", "免费", "费用", "欧元", "充电"),
]


def pairs(
    n: int, words: list[str] = WORDS, space: str = " ", end: str = "."
) -> list[tuple[str, str]]:
    rng = random.Random(3)
    out = []
    for _ in range(n):
        chosen = rng.choices(words, k=rng.randint(12, 30))
        reference = space.join(chosen) + end
        for _ in range(rng.randint(0, 6)):
            chosen[rng.randrange(len(chosen))] = rng.choice(words)
        out.append((space.join(chosen) + end, reference))
    return out


Pairs = list[tuple[str, str]]


def direct(data: Pairs) -> None:
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    for answer, reference in data:
        sacrebleu.sentence_bleu(answer, [reference])
        scorer.score(reference, answer)


def direct_chinese(data: Pairs) -> None:
    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=WordTokenizer(stem=False))
    for answer, reference in data:
        sacrebleu.sentence_bleu(answer, [reference], tokenize="zh")
        scorer.score(reference, answer)


def through_evals(data: Pairs) -> None:
    metrics = build_metrics(["bleu", "rouge_l"])
    for answer, reference in data:
        sample = Sample(answer=answer, reference=reference)
        for metric in metrics:
            metric.score(sample)


def rates(loop: Callable[[Pairs], None], data: Pairs) -> tuple[float, float]:
    """Pairs per second of wall-clock time, and per second of this process's CPU time (the
    second holds up when other processes share the cores)."""
    wall, cpu = time.perf_counter(), time.process_time()
    loop(data)
    return len(data) / (time.perf_counter() - wall), len(data) / (time.process_time() - cpu)


def compare(title: str, data: Pairs, baseline: Callable[[Pairs], None]) -> None:
    header(title)
    baseline(data[:200]), through_evals(data[:200])  # warm up
    runs_direct, runs_evals = [], []
    for _ in range(2):
        runs_direct.append(rates(baseline, data))
        runs_evals.append(rates(through_evals, data))
    best_direct, best_evals = max(runs_direct), max(runs_evals)
    line("pairs", f"{len(data):,}")
    line("mean reference length", f"{sum(len(r) for _, r in data) / len(data):.0f} characters")
    line("load average (1 min) on the machine", f"{os.getloadavg()[0]:.1f}")
    line(
        "direct loop (sacrebleu.sentence_bleu + RougeScorer)",
        f"{best_direct[0]:,.0f} pairs/s ({best_direct[1]:,.0f} per CPU second)",
    )
    line(
        "evals.metrics (bleu + rouge_l)",
        f"{best_evals[0]:,.0f} pairs/s ({best_evals[1]:,.0f} per CPU second)",
    )
    ratio = best_evals[0] / best_direct[0]
    line("evals ÷ direct", f"{ratio:.3f}")
    verdict(ratio >= 1.0 and best_evals[0] >= 1000, "ratio >= 1.0 and >= 1,000 pairs/s")


def main() -> None:
    compare(
        "Metrics: BLEU + ROUGE-L through evals.metrics vs sacrebleu + rouge-score directly",
        pairs(PAIRS),
        direct,
    )
    compare(
        "Metrics in Chinese: evals.metrics vs sacrebleu (tokenize='zh') + rouge-score "
        "(same tokenizer)",
        pairs(PAIRS, CHINESE_WORDS, space="", end="。"),
        direct_chinese,
    )


if __name__ == "__main__":
    main()
