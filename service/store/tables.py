"""Tables. One per entity; ids are UUIDv7 strings; every row has `created_at` (UTC).
Votes are append-only: a changed vote is a new row whose `supersedes_id` names the old one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from service.ids import new_id, utcnow


class SafeText(TypeDecorator[str]):
    """Text that any database can hold: PostgreSQL refuses NUL characters, which a model's
    answer may carry; they are stored as U+FFFD."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return value.replace("\x00", "\ufffd") if value else value


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: DateTime(timezone=True)}


class VariantRow(Base):
    __tablename__ = "variants"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    spec: Mapped[dict[str, Any]]
    source: Mapped[str] = mapped_column(String(16))  # "file" or "api"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConversationRow(Base):
    __tablename__ = "conversations"
    # One rater's conversations by id, from the index alone (History's keyset for one rater).
    __table_args__ = (Index("ix_conversations_rater_id", "rater", "id"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    variant_names: Mapped[list[Any]]
    mode: Mapped[str] = mapped_column(String(16), default="named")  # named | arena
    rater: Mapped[str | None] = mapped_column(String(128))  # who asked
    use_case: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    turns: Mapped[list[TurnRow]] = relationship(
        back_populates="conversation", order_by="TurnRow.position"
    )


class TurnRow(Base):
    __tablename__ = "turns"
    __table_args__ = (
        UniqueConstraint("conversation_id", "position"),
        # History's keyset order, (created_at, id) newest first: everyone's from the first
        # index alone; one rater's from the second, per conversation of theirs.
        Index("ix_turns_created_at_id", "created_at", "id"),
        Index("ix_turns_conversation_id_created_at", "conversation_id", "created_at", "id"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"))
    position: Mapped[int] = mapped_column(Integer)
    prompt: Mapped[str] = mapped_column(SafeText)
    # running | done | interrupted (crash) | replaced (regenerated; kept, left out of history)
    status: Mapped[str] = mapped_column(String(16), default="running")
    # The context retrieved once for all panes (collection, query, chunks), or None.
    retrieval: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    conversation: Mapped[ConversationRow] = relationship(back_populates="turns")
    answers: Mapped[list[AnswerRow]] = relationship(order_by="AnswerRow.pane")


class AnswerRow(Base):
    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("turn_id", "pane"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    turn_id: Mapped[str] = mapped_column(ForeignKey("turns.id"), index=True)
    pane: Mapped[int] = mapped_column(Integer)
    variant_name: Mapped[str] = mapped_column(String(64), index=True)
    variant_spec: Mapped[dict[str, Any]]
    request: Mapped[dict[str, Any]]  # exact messages and params sent: enough to reproduce
    text: Mapped[str] = mapped_column(SafeText, default="")
    status: Mapped[str] = mapped_column(String(16))  # ok | error | timeout | cancelled
    finish_reason: Mapped[str | None] = mapped_column(String(32))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(SafeText)
    ttft_ms: Mapped[float | None] = mapped_column(Float)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    provider_latency_ms: Mapped[float | None] = mapped_column(Float)
    tokens_in: Mapped[int | None] = mapped_column(Integer)
    tokens_out: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    # Refs of the retrieved chunks this pane was given (empty: answered without context),
    # and the ones its text cites as [n].
    context_refs: Mapped[list[Any] | None] = mapped_column(JSON)
    citations: Mapped[list[Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VoteRow(Base):
    __tablename__ = "votes"
    __table_args__ = (Index("ix_votes_turn_id_rater", "turn_id", "rater"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    turn_id: Mapped[str] = mapped_column(ForeignKey("turns.id"))
    outcome: Mapped[str] = mapped_column(String(16))  # a | b | tie | both_bad | ranking
    ranking: Mapped[list[Any] | None] = mapped_column(JSON)  # panes, best first
    rater: Mapped[str] = mapped_column(String(128), default="anonymous", index=True)
    supersedes_id: Mapped[str | None] = mapped_column(ForeignKey("votes.id"), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class LeaderboardCellRow(Base):
    """The leaderboard's sufficient statistics, kept as votes arrive: how many live votes
    (and pairwise battles implied by live rankings) of one UTC day (and of all days: "all"),
    mode, RAG setting and use case ("" for none) had `variant_x` against `variant_y` (the
    pair in name order) end in `outcome` ("a": x won, "b": y won, "tie"; both-bad is a tie).
    Updated in the transaction of the vote, supersede or review that changes it;
    `arbiter db rebuild-counts` recounts it."""

    __tablename__ = "leaderboard_cells"
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, UTC
    mode: Mapped[str] = mapped_column(String(16), primary_key=True)
    rag: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    use_case: Mapped[str] = mapped_column(String(64), primary_key=True)
    variant_x: Mapped[str] = mapped_column(String(64), primary_key=True)
    variant_y: Mapped[str] = mapped_column(String(64), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(4), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)


class ExportShapeRow(Base):
    """The export dry run's counts, kept as votes arrive: how many live votes of one UTC day
    (and of all days: "all"), mode, RAG setting and use case ("" for none) have one "shape"
    for the export rules: the outcome, the ranking (JSON text, "" unless a ranking) and each
    pane's variant and status ("ok" or "failed"), as JSON text [[pane, variant, status],
    ...]. Updated in the transaction of the vote, supersede or review that changes it, with
    the leaderboard's cells; `arbiter db rebuild-counts` recounts both."""

    __tablename__ = "export_shapes"
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, UTC, or "all"
    mode: Mapped[str] = mapped_column(String(16), primary_key=True)
    rag: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    use_case: Mapped[str] = mapped_column(String(64), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16), primary_key=True)
    ranking: Mapped[str] = mapped_column(String(256), primary_key=True)
    panes: Mapped[str] = mapped_column(String(1024), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)


class RatingRow(Base):
    """Rubric scores (1-5, each optional) for one answer, by one rater."""

    __tablename__ = "ratings"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    answer_id: Mapped[str] = mapped_column(ForeignKey("answers.id"), index=True)
    turn_id: Mapped[str] = mapped_column(ForeignKey("turns.id"), index=True)
    rater: Mapped[str] = mapped_column(String(128))
    helpfulness: Mapped[int | None] = mapped_column(Integer)
    honesty: Mapped[int | None] = mapped_column(Integer)
    harmlessness: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CommentRow(Base):
    __tablename__ = "comments"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    turn_id: Mapped[str] = mapped_column(ForeignKey("turns.id"), index=True)
    rater: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(SafeText)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdealAnswerRow(Base):
    """The answer a rater would have wanted, often edited from the preferred one."""

    __tablename__ = "ideal_answers"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    turn_id: Mapped[str] = mapped_column(ForeignKey("turns.id"), index=True)
    rater: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(SafeText)
    based_on_answer_id: Mapped[str | None] = mapped_column(ForeignKey("answers.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EvalRunRow(Base):
    """A batch evaluation: a dataset answered by variants and scored by metrics."""

    __tablename__ = "eval_runs"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(128))
    dataset_path: Mapped[str] = mapped_column(String(1024))
    dataset_sha256: Mapped[str] = mapped_column(String(64))
    variants: Mapped[list[Any]]
    metrics: Mapped[list[Any]]
    judge: Mapped[str | None] = mapped_column(String(64))
    # running | done | failed (stopped by an error; `arbiter eval run --resume` goes on)
    status: Mapped[str] = mapped_column(String(16), default="running")
    total: Mapped[int] = mapped_column(Integer)
    use_case: Mapped[str | None] = mapped_column(String(64), index=True)
    # online | bedrock-batch | sagemaker-transform
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EvalRunBackendRow(Base):
    """The backend of an eval run not answered online (bedrock-batch, sagemaker-transform),
    and why it failed if it did. Apart from `eval_runs`, whose rows older revisions read."""

    __tablename__ = "eval_run_backends"
    run_id: Mapped[str] = mapped_column(ForeignKey("eval_runs.id"), primary_key=True)
    backend: Mapped[str] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    # The run's retrieval (a RagRequest), or None: `--resume` retrieves the same way.
    retrieval: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EvalBatchJobRow(Base):
    """One provider job of a batch-backend eval run: a Bedrock model invocation job or a
    SageMaker transform job over some of one variant's examples. Stored before the job is
    submitted (by its name) and given its ARN once it is, so a restarted run re-attaches
    to it instead of submitting it again."""

    __tablename__ = "eval_batch_jobs"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    run_id: Mapped[str] = mapped_column(ForeignKey("eval_runs.id"), index=True)
    variant: Mapped[str] = mapped_column(String(64))
    backend: Mapped[str] = mapped_column(String(32))
    job_name: Mapped[str] = mapped_column(String(63), unique=True)
    job_arn: Mapped[str | None] = mapped_column(String(2048))
    input_uri: Mapped[str] = mapped_column(String(2048))
    output_uri: Mapped[str] = mapped_column(String(2048))
    examples: Mapped[list[Any]]  # dataset row indexes, in record order
    # Per example, in record order: the chunks its record carries (None: no retrieval).
    contexts: Mapped[list[Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(32))  # the service's job status
    message: Mapped[str | None] = mapped_column(Text)  # the service's reason, when it gave one
    collected: Mapped[bool] = mapped_column(Boolean, default=False)  # outputs stored
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EvalItemRow(Base):
    """One example answered by one variant, with its scores. At most one per
    (run, example, variant): a resumed run skips what is here."""

    __tablename__ = "eval_items"
    __table_args__ = (UniqueConstraint("run_id", "example_id", "variant"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    run_id: Mapped[str] = mapped_column(ForeignKey("eval_runs.id"), index=True)
    example_id: Mapped[str] = mapped_column(String(256))
    variant: Mapped[str] = mapped_column(String(64))
    prompt: Mapped[str] = mapped_column(SafeText)
    reference: Mapped[str | None] = mapped_column(SafeText)
    answer: Mapped[str] = mapped_column(SafeText, default="")
    status: Mapped[str] = mapped_column(String(16))  # ok | error | timeout
    error: Mapped[str | None] = mapped_column(SafeText)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    ttft_ms: Mapped[float | None] = mapped_column(Float)
    tokens_in: Mapped[int | None] = mapped_column(Integer)
    tokens_out: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    scores: Mapped[list[Any]]  # [{metric, version, value, error}]
    # The retrieved chunks the answer was given ({ref, text, source, ...} each), or None:
    # answered without context.
    contexts: Mapped[list[Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScoreRow(Base):
    """An automatic metric on one answer of a turn: a value, or an error with its reason.
    One per (answer, metric, version): a re-run job does not add duplicates."""

    __tablename__ = "scores"
    __table_args__ = (UniqueConstraint("answer_id", "metric", "version"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    answer_id: Mapped[str] = mapped_column(ForeignKey("answers.id"), index=True)
    turn_id: Mapped[str] = mapped_column(ForeignKey("turns.id"), index=True)
    variant_name: Mapped[str] = mapped_column(String(64))
    metric: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(128))
    value: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(SafeText)
    detail: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobRow(Base):
    """Background work persisted in the store, so a restart loses none of it.
    queued -> running -> done | failed (after `max_attempts`); a `running` job whose lease
    ran out (its worker died) is claimed again by another worker."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state_run_after", "state", "run_after"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    error: Mapped[str | None] = mapped_column(SafeText)
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    # While `running`: the worker's claim holds until then, renewed by its heartbeat; past
    # it (the worker was killed or lost), any worker takes the job over.
    lease_until: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RaterRow(Base):
    """Someone who labels: a rater, a reviewer (may accept or reject labels) or an admin."""

    __tablename__ = "raters"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # rater | reviewer | admin
    # scrypt, for signing in to the page when ARBITER_AUTH=keys; None: cannot sign in
    password_hash: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CampaignRow(Base):
    """A labelling assignment: prompts x variants, each item judged by K raters."""

    __tablename__ = "campaigns"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(SafeText, default="")
    variants: Mapped[list[Any]]
    raters_per_item: Mapped[int] = mapped_column(Integer)
    raters: Mapped[list[Any] | None] = mapped_column(JSON)  # None: anyone may take part
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CampaignItemRow(Base):
    """One prompt put to one pair (or set) of variants; its answers are a turn, generated
    once and judged by every rater of the item."""

    __tablename__ = "campaign_items"
    __table_args__ = (UniqueConstraint("campaign_id", "position"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    prompt: Mapped[str] = mapped_column(SafeText)
    variants: Mapped[list[Any]]
    turn_id: Mapped[str | None] = mapped_column(ForeignKey("turns.id"), index=True)
    error: Mapped[str | None] = mapped_column(SafeText)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LabelReviewRow(Base):
    """A reviewer's decision on a label (a vote or a rating): accepted or rejected.
    Append-only; the latest decision counts. Rejected labels stay stored, and are left out
    of exports and rankings."""

    __tablename__ = "label_reviews"
    __table_args__ = (Index("ix_label_reviews_label", "label_kind", "label_id"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    label_kind: Mapped[str] = mapped_column(String(16))  # vote | rating
    label_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16))  # accepted | rejected
    reviewer: Mapped[str] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(SafeText)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TurnTagRow(Base):
    """A category a turn belongs to ("coding", "support", ...), given with the request."""

    __tablename__ = "turn_tags"
    turn_id: Mapped[str] = mapped_column(ForeignKey("turns.id"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class FeedbackRow(Base):
    """Thumbs up or down on one answer. Append-only: a rater's latest feedback counts."""

    __tablename__ = "feedback"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    answer_id: Mapped[str] = mapped_column(ForeignKey("answers.id"), index=True)
    turn_id: Mapped[str] = mapped_column(ForeignKey("turns.id"))
    variant_name: Mapped[str] = mapped_column(String(64))
    rater: Mapped[str] = mapped_column(String(128))
    positive: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class UseCaseRow(Base):
    """A workspace: the variants under consideration, their data and measurable targets
    (`spec` is a validated `service.evaluation.usecases.UseCaseSpec`)."""

    __tablename__ = "use_cases"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    spec: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeploymentRow(Base):
    """A live route of the gateway (`service.serving.deployments.Deployment` in `spec`): seeded
    from the deployments file (`source` file) or set through the admin API (api)."""

    __tablename__ = "deployments"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    spec: Mapped[dict[str, Any]]
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEventRow(Base):
    """Who did what, when: admin actions and exports. Append-only."""

    __tablename__ = "audit_events"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(256))
    detail: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class TokenSpendRow(Base):
    """Model tokens a key (or a person) used on one UTC day, toward its daily budget: kept
    here so the budget survives a restart and replicas on one database share it."""

    __tablename__ = "token_spend"
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, UTC
    tokens: Mapped[int] = mapped_column(BigInteger)


class ApiKeyRow(Base):
    """An API key: only its SHA-256 is stored (the secret is shown once, at creation).
    `scopes` from compare, vote, export, admin; limits are per key (None: unlimited)."""

    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(128))
    # A handle to tell keys apart, made from the id (store/keys.py key_handle), not the secret.
    prefix: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[Any]]
    rate_per_min: Mapped[int | None] = mapped_column(Integer)
    max_concurrency: Mapped[int | None] = mapped_column(Integer)
    daily_tokens: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AnswerMoments:
    """Count, sum and sum of squares of the ok answers' latency, output tokens and cost
    (those with a value): a mean and its normal-approximation CI for a use case's goals
    without reading the answers. Columns of both answer rollups."""

    latency_ms_n: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    latency_ms_sum: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    latency_ms_sq: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    tokens_out_n: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    tokens_out_sum: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    tokens_out_sq: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    cost_usd_n: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cost_usd_sum: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    cost_usd_sq: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")


class ScoreMoments:
    """The scores' sum of squares (with `n` and `total`, a mean's CI) and how many scorings
    failed (no value). Columns of both score rollups."""

    total_sq: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    failed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class AnswerMinuteRow(AnswerMoments, Base):
    """Derived, for the dashboard: the answers of one minute, variant and use case ('' for
    none), kept up to date in the transaction that stores each answer (rebuilt from the
    answers by `service.store.rollups.rebuild`). `latency` and `ttft` are sparse log-spaced
    histograms of the ok answers (`service.store.sketch`)."""

    __tablename__ = "answer_minutes"
    minute: Mapped[int] = mapped_column(Integer, primary_key=True)  # minutes since 1970 UTC
    variant_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    use_case: Mapped[str] = mapped_column(String(64), primary_key=True)
    answers: Mapped[int] = mapped_column(Integer, default=0)
    ok: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    latency: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    ttft: Mapped[bytes] = mapped_column(LargeBinary, default=b"")


class ScoreMinuteRow(ScoreMoments, Base):
    """Derived, for the dashboard and use-case goals: count and sum of the scores with a
    value of one minute, metric version, variant and use case (and `ScoreMoments`)."""

    __tablename__ = "score_minutes"
    minute: Mapped[int] = mapped_column(Integer, primary_key=True)  # minutes since 1970 UTC
    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(128), primary_key=True)
    variant_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    use_case: Mapped[str] = mapped_column(String(64), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[float] = mapped_column(Float, default=0.0)


class VoteMinuteRow(Base):
    """Derived, for the dashboard: what the live votes cast in one minute gave each variant
    of one use case (a vote counts while it is neither superseded nor rejected)."""

    __tablename__ = "vote_minutes"
    minute: Mapped[int] = mapped_column(Integer, primary_key=True)  # minutes since 1970 UTC
    variant_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    use_case: Mapped[str] = mapped_column(String(64), primary_key=True)
    wins: Mapped[int] = mapped_column(Integer, default=0)
    losses: Mapped[int] = mapped_column(Integer, default=0)
    ties: Mapped[int] = mapped_column(Integer, default=0)
    both_bad: Mapped[int] = mapped_column(Integer, default=0)


class TuningRow(Base):
    """A fine-tuning job started from an export of labels (`service.tuning`), and its
    lineage: the export's options, the dataset's hash and the ids of the labels it was built
    from, the cloud job, the tuned variant and the comparison (campaign, eval run) made when
    the variant appeared. One row answers `arbiter tune show VARIANT`.
    state: training -> deploying (-> awaiting_price) -> comparing -> done | failed | stopped."""

    __tablename__ = "tunings"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(63), unique=True)  # the cloud job's name
    target: Mapped[str] = mapped_column(String(16))  # bedrock | sagemaker
    method: Mapped[str] = mapped_column(String(16))  # sft | dpo
    base_variant: Mapped[str] = mapped_column(String(64))
    base_model: Mapped[str] = mapped_column(String(256))
    state: Mapped[str] = mapped_column(String(16), index=True)
    cloud_status: Mapped[str | None] = mapped_column(String(32))  # as the service says it
    failure: Mapped[str | None] = mapped_column(SafeText)  # the service's reason, verbatim
    job_arn: Mapped[str | None] = mapped_column(String(2048))
    role_arn: Mapped[str] = mapped_column(String(2048))
    output_uri: Mapped[str] = mapped_column(String(1024))
    data_uris: Mapped[dict[str, Any]]  # {"train": s3://..., "test": s3://..., ...}
    export_options: Mapped[dict[str, Any]]
    dataset_sha256: Mapped[str] = mapped_column(String(64))
    manifest: Mapped[dict[str, Any]]  # {"votes": [...], "ideal_answers": [...]}
    held_out_prompts: Mapped[list[Any]]
    hyperparameters: Mapped[dict[str, Any]]
    metrics: Mapped[dict[str, Any]]  # training / validation loss when the service gives them
    custom_model_arn: Mapped[str | None] = mapped_column(String(2048))
    serving_arn: Mapped[str | None] = mapped_column(String(2048))  # deployment / endpoint
    serving: Mapped[dict[str, Any]]  # how it is served: on-demand, provisioned (price), endpoint
    variant_name: Mapped[str | None] = mapped_column(String(64), unique=True)
    use_case: Mapped[str | None] = mapped_column(String(64))
    raters_per_item: Mapped[int] = mapped_column(Integer, default=3)
    campaign_name: Mapped[str | None] = mapped_column(String(128))
    eval_run_ids: Mapped[list[Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnswerHourRow(AnswerMoments, Base):
    """`AnswerMinuteRow` summed per hour, for long dashboard windows; `minute` is the hour's
    first minute (a multiple of 60), so both are bucketed alike."""

    __tablename__ = "answer_hours"
    minute: Mapped[int] = mapped_column(Integer, primary_key=True)  # the hour's first minute
    variant_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    use_case: Mapped[str] = mapped_column(String(64), primary_key=True)
    answers: Mapped[int] = mapped_column(Integer, default=0)
    ok: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    latency: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    ttft: Mapped[bytes] = mapped_column(LargeBinary, default=b"")


class ScoreHourRow(ScoreMoments, Base):
    """`ScoreMinuteRow` summed per hour (`minute`: the hour's first minute)."""

    __tablename__ = "score_hours"
    minute: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(128), primary_key=True)
    variant_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    use_case: Mapped[str] = mapped_column(String(64), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[float] = mapped_column(Float, default=0.0)


class VoteHourRow(Base):
    """`VoteMinuteRow` summed per hour (`minute`: the hour's first minute)."""

    __tablename__ = "vote_hours"
    minute: Mapped[int] = mapped_column(Integer, primary_key=True)
    variant_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    use_case: Mapped[str] = mapped_column(String(64), primary_key=True)
    wins: Mapped[int] = mapped_column(Integer, default=0)
    losses: Mapped[int] = mapped_column(Integer, default=0)
    ties: Mapped[int] = mapped_column(Integer, default=0)
    both_bad: Mapped[int] = mapped_column(Integer, default=0)
