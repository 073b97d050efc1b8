"""Reference metrics: BLEU + ROUGE-L over 10k answer/reference pairs through `evals.metrics`
÷ sacrebleu + rouge-score called directly in a plain loop (goal ≥ 1.0, and ≥ 1,000 pairs/s).
Both are run alternately, twice, in one process."""

from __future__ import annotations

import os
import random
import time

import sacrebleu
from rouge_score import rouge_scorer

from bench._report import header, line, verdict
from evals.base import Sample
from evals.registry import build_metrics

PAIRS = int(os.environ.get("BENCH_METRICS_PAIRS", "10000"))
WORDS = [
    *("the", "a", "model", "answer", "returns", "refund", "days", "bike", "frame"),
    *("warranty", "battery", "range", "shipping", "order", "customer", "support"),
    *("europe", "within", "after", "before", "free", "cost", "euros", "charge"),
]


def pairs(n: int) -> list[tuple[str, str]]:
    rng = random.Random(3)
    out = []
    for _ in range(n):
        reference = " ".join(rng.choices(WORDS, k=rng.randint(12, 30))) + "."
        words = reference.split()
        for _ in range(rng.randint(0, 6)):
            words[rng.randrange(len(words))] = rng.choice(WORDS)
        out.append((" ".join(words), reference))
    return out


def direct(data: list[tuple[str, str]]) -> float:
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    started = time.perf_counter()
    for answer, reference in data:
        sacrebleu.sentence_bleu(answer, [reference])
        scorer.score(reference, answer)
    return len(data) / (time.perf_counter() - started)


def through_evals(data: list[tuple[str, str]]) -> float:
    metrics = build_metrics(["bleu", "rouge_l"])
    started = time.perf_counter()
    for answer, reference in data:
        sample = Sample(answer=answer, reference=reference)
        for metric in metrics:
            metric.score(sample)
    return len(data) / (time.perf_counter() - started)


def main() -> None:
    header("Metrics: BLEU + ROUGE-L through evals.metrics vs sacrebleu + rouge-score directly")
    data = pairs(PAIRS)
    direct(data[:200]), through_evals(data[:200])  # warm up
    runs_direct, runs_evals = [], []
    for _ in range(2):
        runs_direct.append(direct(data))
        runs_evals.append(through_evals(data))
    best_direct, best_evals = max(runs_direct), max(runs_evals)
    line("pairs", f"{len(data):,}")
    line("direct loop (sacrebleu.sentence_bleu + RougeScorer)", f"{best_direct:,.0f} pairs/s")
    line("evals.metrics (bleu + rouge_l)", f"{best_evals:,.0f} pairs/s")
    ratio = best_evals / best_direct
    line("evals ÷ direct", f"{ratio:.3f}")
    verdict(ratio >= 1.0 and best_evals >= 1000, "ratio >= 1.0 and >= 1,000 pairs/s")


if __name__ == "__main__":
    main()
