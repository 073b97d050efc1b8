"""Wires `evals` judges to a configured variant: the judge's `Complete` is that variant's
chat model (Bedrock in production, the local model offline), errors classified as usual;
ragas' metrics reach the same variant through the in-process judge gateway."""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel

from evals.base import Metric
from evals.errors import EvalError
from evals.judge_calls import Complete
from evals.judges import PairwiseJudge, RubricJudge
from evals.ragas_metrics import RagasLlm
from evals.registry import build_metrics, needs_embedding
from rag import EmbedderSpec, Library
from service.documents import embed_texts
from service.errors import ErrorCode, InvalidRequest
from service.evaluation.judge_gateway import JUDGE_SLOT, judge_app, ragas_llm
from service.models import Catalog, Variant, build_chat_model, classify_error


def complete_with(variant: Variant, model: BaseChatModel | None = None) -> Complete:
    model = model or build_chat_model(variant)
    kwargs = variant.params.call_kwargs()

    def complete(messages: list[dict[str, str]]) -> str:
        try:
            reply = model.invoke([(m["role"], m["content"]) for m in messages], **kwargs)
            return str(reply.text)
        except Exception as exc:
            raise classify_error(exc) from exc

    return complete


def scorers(
    names: list[str], library: Library, catalog: Catalog, judge: str | None
) -> tuple[list[Metric], RubricJudge | None]:
    """The metrics by name, and the rubric judge. ragas' metrics and the `*_judge` ones
    need a judge variant, which grades them (ragas reaches it through the in-process judge
    gateway). Raises `InvalidRequest` (code `unknown_metric`) for a name it does not know
    or one that needs a judge when none is given."""
    complete = judge_completion(catalog, judge) if judge else None
    try:
        metrics = build_metrics(
            names,
            embed=embed_texts(library) if needs_embedding(names) else None,
            embed_model=EmbedderSpec().model_id,
            judge=complete,
            judge_name=judge or "",
            ragas_llm=ragas_judge(catalog, judge) if judge else None,
        )
    except ValueError as exc:
        hint = exc.hint if isinstance(exc, EvalError) else ""
        raise InvalidRequest(str(exc), code=ErrorCode.UNKNOWN_METRIC, hint=hint) from None
    rubric = RubricJudge(complete, judge) if complete is not None and judge else None
    return metrics, rubric


def ragas_judge(catalog: Catalog, name: str) -> RagasLlm:
    """ragas' judge LLM for the named variant, through the in-process judge gateway."""
    catalog.get(name)  # an unknown variant fails here, not at the first score
    app = judge_app(catalog)
    return lambda: ragas_llm(app, name)


def judge_completion(catalog: Catalog, name: str) -> Complete:
    """The named variant as a judge, on its own model instance."""
    variant = catalog.get(name)
    return complete_with(variant, catalog.model(variant, JUDGE_SLOT))


def pairwise_judge(catalog: Catalog, name: str) -> PairwiseJudge:
    return PairwiseJudge(judge_completion(catalog, name), name)
