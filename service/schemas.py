"""API and domain schemas (pydantic). Request models forbid unknown fields."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class GenerationParams(BaseModel):
    """Sampling settings of a variant, or a per-pane override of them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1, le=32_768)
    stop: tuple[str, ...] = ()

    def call_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for a LangChain chat model call (unset values left out)."""
        kwargs: dict[str, Any] = {
            k: v for k, v in self.model_dump(exclude={"stop"}).items() if v is not None
        }
        if self.stop:
            kwargs["stop"] = list(self.stop)
        return kwargs

    def merged(self, override: GenerationParams | None) -> GenerationParams:
        if override is None:
            return self
        data = self.model_dump()
        data.update(override.model_dump(exclude_unset=True))
        return GenerationParams.model_validate(data)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Labelled(_Request):
    """A request that acts as someone: always the signed-in caller (API key or person);
    an admin importing labels may name another rater in `on_behalf_of` (audited)."""

    on_behalf_of: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Admins only (imports): store this as another rater's; audited.",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_rater_field(cls, data: Any) -> Any:
        for field in ("rater", "reviewer"):
            if isinstance(data, dict) and field in data:
                raise ValueError(
                    f"`{field}` is not accepted: it is whoever is signed in (the API key or "
                    "person). Admins importing labels for others send `on_behalf_of`."
                )
        return data


class Message(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class RagRequest(_Request):
    """Retrieve context once for the turn; every pane whose variant uses context gets the
    same chunks."""

    collection: str = Field(min_length=1, max_length=64, description="A collection name.")
    top_k: int = Field(default=4, ge=1, le=20, description="How many chunks to retrieve.")
    mode: Literal["hybrid", "vector", "lexical"] = Field(
        default="hybrid", description="BM25 + vectors fused (default), vectors only, or BM25 only."
    )
    filters: dict[str, str | int] = Field(
        default_factory=dict,
        description="Equality filters on chunk metadata: source, title, doc_type, page, row, "
        "document_id, or a CSV/JSONL column.",
    )


class CompareRequest(Labelled):
    prompt: str = Field(description="The user's message for this turn.")
    variants: list[str] = Field(description="2-4 variant names, one per pane, in pane order.")
    conversation_id: str | None = Field(
        default=None, description="Continue this conversation (multi-turn); omit to start one."
    )
    overrides: list[GenerationParams | None] | None = Field(
        default=None, description="Per-pane generation parameter overrides, in pane order."
    )
    timeout_s: float | None = Field(default=None, gt=0, le=3600, description="Per-pane timeout.")
    mode: Literal["named", "arena"] = Field(
        default="named", description="'arena' turns hide variant names until voted."
    )
    regenerate: bool = Field(
        default=False,
        description="Replace the last turn of `conversation_id` with a new answer to this "
        "prompt (the old turn is kept, marked replaced).",
    )
    rag: RagRequest | None = Field(default=None, description="Augment with retrieved context.")
    tags: list[Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\w .:/-]+$")]] = Field(
        default_factory=list,
        max_length=10,
        description="Categories of this turn (e.g. coding, support): leaderboard and "
        "export filters.",
    )
    use_case: str | None = Field(
        default=None,
        max_length=64,
        description="The use case this conversation belongs to (its goals, reports and "
        "filters cover it). Taken from the first turn of a conversation.",
    )


AnswerStatus = Literal["ok", "error", "timeout", "cancelled"]


class ScoreOut(BaseModel):
    """An automatic metric on an answer: a value, or the reason there is none."""

    metric: str
    version: str
    value: float | None = None
    error: str | None = None
    created_at: datetime


class AnswerOut(BaseModel):
    id: str
    pane: int
    variant: str
    status: AnswerStatus
    text: str
    finish_reason: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    ttft_ms: float | None = None
    latency_ms: float | None = None
    provider_latency_ms: float | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost_usd: float | None = None
    context_refs: list[str] | None = Field(
        default=None, description="Refs of the retrieved chunks this pane was given."
    )
    citations: list[dict[str, Any]] | None = Field(
        default=None, description="Sources the answer cites: {n, ref}, n as in [n]."
    )
    request: dict[str, Any] | None = None
    scores: list[ScoreOut] = Field(
        default_factory=list, description="Automatic metrics scored in the background so far."
    )


class VoteOut(BaseModel):
    id: str
    turn_id: str
    outcome: str
    ranking: list[int] | None = None
    rater: str
    supersedes_id: str | None = None
    created_at: datetime
    replayed: bool = Field(
        default=False,
        description="True when an earlier request with the same idempotency key stored it.",
    )


class TurnOut(BaseModel):
    id: str
    conversation_id: str
    mode: str = "named"
    rater: str | None = None
    position: int
    prompt: str
    status: str
    created_at: datetime
    answers: list[AnswerOut]
    vote: VoteOut | None = None
    retrieval: dict[str, Any] | None = None
    tags: list[str] = Field(default_factory=list)


class TurnPageOut(BaseModel):
    turns: list[TurnOut]
    next: str | None = Field(
        default=None, description="Pass as `after` for the next page; null on the last one."
    )


VoteOutcome = Literal["a", "b", "tie", "both_bad", "ranking"]


class VoteIn(Labelled):
    outcome: VoteOutcome = Field(
        description="'a' or 'b' (pane 0 or 1 is better), 'tie', 'both_bad', or 'ranking' "
        "with `ranking` listing panes best first (for more than two panes)."
    )
    ranking: list[int] | None = None
    idempotency_key: str | None = Field(
        default=None, max_length=128, description="Repeat-safe: the same key stores one vote."
    )


class FeedbackIn(Labelled):
    value: Literal["up", "down"]


class BatchVoteIn(VoteIn):
    turn_id: str = Field(min_length=1, max_length=64)


class VoteBatchIn(_Request):
    votes: list[BatchVoteIn] = Field(min_length=1, max_length=1000)


class VoteBatchOut(BaseModel):
    votes: list[VoteOut]


class VariantOut(BaseModel):
    name: str
    description: str
    provider: str
    model: str
    params: GenerationParams
    system_prompt: str
    uses_context: bool = True
    source: str


class ErrorBody(BaseModel):
    code: str
    message: str
    hint: str = ""


class ErrorResponse(BaseModel):
    error: ErrorBody


Score = Annotated[int, Field(ge=1, le=5)]


class RatingIn(_Request):
    pane: int = Field(ge=0, lt=4)
    helpfulness: Score | None = None
    honesty: Score | None = None
    harmlessness: Score | None = None


class LabelsIn(Labelled):
    """Rubric ratings per answer, a comment and an ideal answer — each optional."""

    ratings: list[RatingIn] = []
    comment: str | None = Field(default=None, max_length=20_000)
    ideal_answer: str | None = Field(default=None, max_length=50_000)
    ideal_based_on_pane: int | None = Field(default=None, ge=0, lt=4)


class LabelsOut(BaseModel):
    ratings: int
    comment_id: str | None = None
    ideal_answer_id: str | None = None
