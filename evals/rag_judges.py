"""RAG metrics graded by a judge model in one prompt each: `faithfulness_judge`,
`answer_relevancy_judge`, `context_precision_judge`, `context_recall_judge`. They follow
ragas' ideas but are not ragas' numbers (one question for relevancy where ragas writes
three, clipped, fewer calls), hence their own names; ragas itself computes the metrics
named as in ragas (`evals.ragas_metrics`). The definitions:

- faithfulness: the answer's statements, each checked against the retrieved context;
  the share supported;
- answer_relevancy: the judge writes the question the answer responds to (and whether the
  answer is noncommittal); cosine similarity of that question with the real one, 0 when
  noncommittal;
- context_precision: each retrieved chunk judged useful or not for reaching the reference
  answer; average precision over the ranking;
- context_recall: each sentence of the reference answer judged attributable to the
  retrieved context or not; the share attributable.

A reply that cannot be parsed is
an error carrying the raw text, as with the other judges."""

from __future__ import annotations

from typing import Any

import numpy as np

from evals.base import Embed, MetricResult, Sample
from evals.errors import UnparsableVerdict
from evals.judge_calls import Complete, ask, parse_json, verdict_flag
from evals.rag_metrics import average_precision

RAG_JUDGE_VERSION = "rag-llm-v1"

FAITHFULNESS_PROMPT = """Break the answer into its factual statements. For each one, decide \
whether the context supports it (it can be inferred from the context alone).

Context:
{context}

Answer:
{answer}

Reply with only a JSON object, no other text:
{{"statements": [{{"statement": "<text>", "supported": true | false}}]}}"""

RELEVANCY_PROMPT = """Here is an answer. Write the single question this answer responds \
to, and say whether the answer is noncommittal (evasive, vague, "I don't know").

Answer:
{answer}

Reply with only a JSON object, no other text:
{{"question": "<the question>", "noncommittal": true | false}}"""

PRECISION_PROMPT = """Was this context useful in arriving at the reference answer to the \
question?

Question:
{question}

Reference answer:
{reference}

Context:
{context}

Reply with only a JSON object, no other text:
{{"useful": true | false, "reason": "<one sentence>"}}"""

RECALL_PROMPT = """Split the reference answer into sentences. For each, decide whether it \
can be attributed to the context (the context states it).

Context:
{context}

Reference answer:
{reference}

Reply with only a JSON object, no other text:
{{"sentences": [{{"sentence": "<text>", "attributed": true | false}}]}}"""


def _flag(item: Any, key: str) -> bool:
    value = item.get(key) if isinstance(item, dict) else None
    flag = verdict_flag(value)
    if flag is None:
        raise UnparsableVerdict(f"`{key}` must be true or false, not {value!r}")
    return flag


def _flags(data: dict[str, Any], field: str, key: str) -> list[bool]:
    items = data.get(field)
    if not isinstance(items, list):
        raise UnparsableVerdict(f"`{field}` must be a list")
    return [_flag(i, key) for i in items]


class _RagJudge:
    name = ""
    needs_reference = False
    needs_context = True
    needs_judge = True

    def __init__(self, complete: Complete, judge: str) -> None:
        self._complete = complete
        self.judge = judge
        self.version = f"{RAG_JUDGE_VERSION}@{judge}"

    def score(self, sample: Sample) -> MetricResult:
        missing = self._missing(sample)
        if missing:
            return MetricResult(self.name, self.version, None, error=missing)
        detail: dict[str, Any] = {"prompt_version": RAG_JUDGE_VERSION, "judge": self.judge}
        raws: list[str] = []
        try:
            value = self._grade(sample, raws)
        except UnparsableVerdict as exc:
            detail["raw"] = raws
            return MetricResult(self.name, self.version, None, error=str(exc), detail=detail)
        except Exception as exc:
            detail["raw"] = raws
            return MetricResult(
                self.name, self.version, None, error=f"the judge failed: {exc}", detail=detail
            )
        detail["raw"] = raws
        return MetricResult(self.name, self.version, min(1.0, max(0.0, value)), detail=detail)

    def _ask_json(self, prompt: str, raws: list[str]) -> dict[str, Any]:
        raw = ask(self._complete, prompt)
        raws.append(raw)
        return parse_json(raw)

    def _missing(self, sample: Sample) -> str | None:
        if self.needs_context and not sample.contexts:
            return "needs retrieved contexts; the answer had none"
        if self.needs_reference and not (sample.reference or "").strip():
            return "needs a reference answer; the sample has none"
        return None

    def _grade(self, sample: Sample, raws: list[str]) -> float:
        raise NotImplementedError


def _context(sample: Sample) -> str:
    return "\n\n".join(f"[{i}] {c}" for i, c in enumerate(sample.contexts, start=1))


class LlmFaithfulness(_RagJudge):
    name = "faithfulness_judge"

    def _grade(self, sample: Sample, raws: list[str]) -> float:
        if not sample.answer.strip():
            raise UnparsableVerdict("the answer is empty")
        data = self._ask_json(
            FAITHFULNESS_PROMPT.format(context=_context(sample), answer=sample.answer), raws
        )
        supported = _flags(data, "statements", "supported")
        if not supported:
            raise UnparsableVerdict("the judge found no statements in the answer")
        return sum(supported) / len(supported)


class LlmContextRecall(_RagJudge):
    name = "context_recall_judge"
    needs_reference = True

    def _grade(self, sample: Sample, raws: list[str]) -> float:
        data = self._ask_json(
            RECALL_PROMPT.format(context=_context(sample), reference=sample.reference), raws
        )
        attributed = _flags(data, "sentences", "attributed")
        if not attributed:
            raise UnparsableVerdict("the judge found no sentences in the reference")
        return sum(attributed) / len(attributed)


class LlmContextPrecision(_RagJudge):
    name = "context_precision_judge"
    needs_reference = True

    def _grade(self, sample: Sample, raws: list[str]) -> float:
        useful = [
            _flag(
                self._ask_json(
                    PRECISION_PROMPT.format(
                        question=sample.question, reference=sample.reference, context=chunk
                    ),
                    raws,
                ),
                "useful",
            )
            for chunk in sample.contexts
        ]
        return average_precision(useful)


class LlmAnswerRelevancy(_RagJudge):
    name = "answer_relevancy_judge"
    needs_context = False

    def __init__(self, complete: Complete, judge: str, embed: Embed) -> None:
        super().__init__(complete, judge)
        self._embed = embed

    def _missing(self, sample: Sample) -> str | None:
        return None if sample.question.strip() else "needs the question; the sample has none"

    def _grade(self, sample: Sample, raws: list[str]) -> float:
        if not sample.answer.strip():
            return 0.0
        data = self._ask_json(RELEVANCY_PROMPT.format(answer=sample.answer), raws)
        if _flag(data, "noncommittal"):
            return 0.0
        generated = data.get("question")
        if not isinstance(generated, str) or not generated.strip():
            raise UnparsableVerdict("`question` must be a non-empty string")
        q, g = np.asarray(self._embed([sample.question, generated]), dtype=float)
        norm = float(np.linalg.norm(q) * np.linalg.norm(g))
        return float(q @ g) / norm if norm else 0.0
