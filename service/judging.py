"""Wires `evals` judges to a configured variant: the judge's `Complete` is that variant's
chat model (Bedrock in production, the local model offline), errors classified as usual."""

from __future__ import annotations

from evals.judges import Complete, PairwiseJudge, RubricJudge
from service.catalog import Catalog
from service.providers import build_chat_model, classify_error
from service.variants import Variant


def complete_with(variant: Variant) -> Complete:
    model = build_chat_model(variant)
    kwargs = variant.params.call_kwargs()

    def complete(messages: list[dict[str, str]]) -> str:
        try:
            reply = model.invoke([(m["role"], m["content"]) for m in messages], **kwargs)
            return str(reply.text)
        except Exception as exc:
            raise classify_error(exc) from exc

    return complete


def rubric_judge(catalog: Catalog, name: str) -> RubricJudge:
    return RubricJudge(complete_with(catalog.get(name)), name)


def pairwise_judge(catalog: Catalog, name: str) -> PairwiseJudge:
    return PairwiseJudge(complete_with(catalog.get(name)), name)
