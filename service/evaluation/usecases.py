"""Use cases: a workspace of candidate variants, their datasets and collections, and
measurable targets. Defined in a checked-in file (`arbiter usecase apply FILE`), the API
or the page; stored in the `use_cases` table.

Goal status reads a window of the store: answers of conversations tagged with the use
case (live traffic, the page, campaigns) and items of eval runs started for it, their
automatic scores, the human votes and thumbs up/down on them."""

from __future__ import annotations

import asyncio
import json
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import select

from evals.errors import TargetError
from evals.goals import GoalStatus, goal_status, parse_targets
from evals.goals import Observations as Observations
from evals.goals import Target as Target
from evals.selection import (
    Candidate,
    SelectionReport,
    assess,
    pareto_front,
    quality_metric,
    recommendation,
    tradeoff_points,
)
from service.app.telemetry import vote_records
from service.config import DEFAULTS
from service.errors import InvalidRequest, NotFound
from service.ids import utcnow
from service.labels.leaderboard import Filters, live_votes
from service.models.catalog import Catalog
from service.store import Store, turns
from service.store.tables import (
    AnswerRow,
    ConversationRow,
    EvalItemRow,
    EvalRunRow,
    FeedbackRow,
    ScoreRow,
    TurnRow,
    UseCaseRow,
    VoteRow,
)
from service.store.votes import vote_out

if TYPE_CHECKING:
    from service.app.runtime import Runtime
    from service.evaluation.batch import Progress

EXAMPLE_FILE = DEFAULTS / "usecase.yaml"
EXAMPLE_DATASET_NAME = "example"  # in `datasets`: the bundled evals/data/lumen_qa.jsonl
RESULT_VALUES = {"win": 1.0, "loss": 0.0, "tie": 0.5, "both_bad": 0.5}  # both bad: a tie


class UseCaseSpec(BaseModel):
    """A use case as written in its file (YAML, TOML or JSON) or sent to the API."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][\w.-]*$")
    description: str = Field(default="", max_length=2000)
    variants: list[str] = Field(min_length=1, max_length=20)
    baseline: str | None = Field(
        default=None,
        description="The variant candidates are compared with (production, a competitor).",
    )
    targets: list[str] = Field(min_length=1, max_length=30)
    datasets: list[str] = Field(
        default_factory=list, description="Eval datasets (paths, or 'example')."
    )
    metrics: list[str] = Field(
        default_factory=list,
        description="Automatic metrics for runs of its datasets; default: the score metrics "
        "its targets name.",
    )
    collections: list[str] = Field(default_factory=list, description="RAG collections.")
    min_samples: int = Field(
        default=20, ge=2, le=100_000, description="Observations needed for a verdict."
    )
    window_days: float = Field(default=7.0, gt=0, le=3650, description="Default window.")

    @field_validator("targets")
    @classmethod
    def _targets_parse(cls, targets: list[str]) -> list[str]:
        try:
            parse_targets(targets)
        except TargetError as exc:
            raise ValueError(str(exc)) from None
        return targets

    @model_validator(mode="after")
    def _baseline_is_a_variant(self) -> UseCaseSpec:
        if len(set(self.variants)) != len(self.variants):
            raise ValueError("a variant is listed twice in `variants`")
        if self.baseline is not None and self.baseline not in self.variants:
            raise ValueError(
                f"baseline {self.baseline!r} is not one of the use case's variants "
                f"({', '.join(self.variants)}); add it to `variants`"
            )
        return self

    def parsed_targets(self) -> list[Target]:
        return parse_targets(self.targets)

    def run_metrics(self) -> list[str]:
        """Metrics to compute when running its datasets."""
        if self.metrics:
            return list(self.metrics)
        from evals.goals import TARGET_METRICS

        return [
            t.metric
            for t in self.parsed_targets()
            if TARGET_METRICS[t.metric].source == t.metric and not t.metric.startswith("judge_")
        ]


def spec_from_data(data: Any, *, origin: str = "the use case") -> UseCaseSpec:
    """A validated spec; errors name the field and the problem."""
    try:
        return UseCaseSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'use case'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise InvalidRequest(
            f"{origin} is not valid: {problems}",
            code="invalid_use_case",
            hint="See service/defaults/usecase.yaml for a complete example.",
        ) from None


def parse_text(text: str, *, suffix: str = ".yaml", origin: str = "the use case") -> UseCaseSpec:
    try:
        if suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text)
        else:
            data = yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InvalidRequest(
            f"{origin} cannot be read: {exc}",
            code="invalid_use_case",
            hint="Write it as YAML, TOML or JSON.",
        ) from None
    return spec_from_data(data, origin=origin)


def load_file(path: Path) -> UseCaseSpec:
    if not path.is_file():
        raise NotFound(f"no file {path}", code="file_not_found")
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".toml", ".json"):
        raise InvalidRequest(
            f"{path.name}: use a .yaml, .toml or .json file", code="invalid_use_case"
        )
    return parse_text(path.read_text(encoding="utf-8"), suffix=suffix, origin=str(path))


def to_yaml(spec: UseCaseSpec) -> str:
    return yaml.safe_dump(spec.model_dump(exclude_defaults=False), sort_keys=False)


# ---- the store ----------------------------------------------------------------------------


def apply(store: Store, catalog: Catalog, spec: UseCaseSpec) -> bool:
    """Create or replace the use case; True when it is new. Its variants must exist."""
    unknown = [v for v in spec.variants if v not in catalog.names()]
    if unknown:
        raise InvalidRequest(
            f"use case {spec.name!r}: unknown variant(s) {', '.join(unknown)}",
            code="unknown_variant",
            hint="Known variants: " + ", ".join(catalog.names()),
        )
    now = utcnow()
    with store.session() as s:
        row = s.scalar(select(UseCaseRow).where(UseCaseRow.name == spec.name))
        if row is None:
            s.add(
                UseCaseRow(name=spec.name, spec=spec.model_dump(), created_at=now, updated_at=now)
            )
            return True
        row.spec = spec.model_dump()
        row.updated_at = now
        return False


def get(store: Store, name: str) -> UseCaseSpec:
    with store.session() as s:
        spec = s.scalar(select(UseCaseRow.spec).where(UseCaseRow.name == name))
    if spec is None:
        raise NotFound(
            f"use case {name!r} does not exist",
            code="unknown_use_case",
            hint="List them with `arbiter usecase list`; define one with "
            "`arbiter usecase apply FILE`.",
        )
    return UseCaseSpec.model_validate(spec)


def list_all(store: Store) -> list[UseCaseSpec]:
    with store.session() as s:
        specs = s.scalars(select(UseCaseRow.spec).order_by(UseCaseRow.name)).all()
    return [UseCaseSpec.model_validate(x) for x in specs]


def apply_example(store: Store, catalog: Catalog) -> str | None:
    """The bundled example, when its variants are configured and it is not stored yet."""
    spec = load_file(EXAMPLE_FILE)
    if any(v not in catalog.names() for v in spec.variants) or turns.has_use_case(store, spec.name):
        return None
    apply(store, catalog, spec)
    return spec.name


# ---- observations over a window -------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime

    @classmethod
    def last(cls, days: float, *, now: datetime | None = None) -> Window:
        now = now or datetime.now(UTC)
        return cls(now - timedelta(days=days), now)

    def describe(self) -> str:
        fmt = "%Y-%m-%d %H:%M UTC"
        return f"{self.since.strftime(fmt)} to {self.until.strftime(fmt)}"


def observations(store: Store, spec: UseCaseSpec, window: Window) -> dict[str, Observations]:
    """Per variant: answers (live and eval runs) with their scores, feedback and vote
    results, inside the window."""
    out = {v: Observations() for v in spec.variants}
    in_window = (AnswerRow.created_at >= window.since) & (AnswerRow.created_at < window.until)
    live = (
        select(AnswerRow.id)
        .join(TurnRow, TurnRow.id == AnswerRow.turn_id)
        .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
        .where(
            ConversationRow.use_case == spec.name,
            AnswerRow.variant_name.in_(spec.variants),
            in_window,
        )
    )
    with store.session() as s:
        scores: dict[str, list[dict[str, Any]]] = {}
        for answer_id, metric, value, error in s.execute(
            select(ScoreRow.answer_id, ScoreRow.metric, ScoreRow.value, ScoreRow.error).where(
                ScoreRow.answer_id.in_(live)
            )
        ):
            scores.setdefault(answer_id, []).append(
                {"metric": metric, "value": value, "error": error}
            )
        for a in s.execute(
            select(
                AnswerRow.id,
                AnswerRow.variant_name,
                AnswerRow.status,
                AnswerRow.latency_ms,
                AnswerRow.ttft_ms,
                AnswerRow.tokens_out,
                AnswerRow.cost_usd,
            ).where(AnswerRow.id.in_(live))
        ):
            out[a.variant_name].answers.append(
                {
                    "status": a.status,
                    "latency_ms": a.latency_ms,
                    "ttft_ms": a.ttft_ms,
                    "tokens_out": a.tokens_out,
                    "cost_usd": a.cost_usd,
                    "scores": scores.get(a.id, []),
                }
            )
        for item in s.execute(
            select(
                EvalItemRow.run_id,
                EvalItemRow.example_id,
                EvalItemRow.variant,
                EvalItemRow.status,
                EvalItemRow.latency_ms,
                EvalItemRow.ttft_ms,
                EvalItemRow.tokens_out,
                EvalItemRow.cost_usd,
                EvalItemRow.scores,
            )
            .join(EvalRunRow, EvalRunRow.id == EvalItemRow.run_id)
            .where(
                EvalRunRow.use_case == spec.name,
                EvalItemRow.variant.in_(spec.variants),
                EvalItemRow.created_at >= window.since,
                EvalItemRow.created_at < window.until,
            )
        ):
            out[item.variant].answers.append(
                {
                    "status": item.status,
                    "latency_ms": item.latency_ms,
                    "ttft_ms": item.ttft_ms,
                    "tokens_out": item.tokens_out,
                    "cost_usd": item.cost_usd,
                    "scores": item.scores or [],
                    "example_key": (item.run_id, item.example_id),
                }
            )
        latest: dict[tuple[str, str], tuple[str, bool]] = {}
        for answer_id, rater, variant, positive in s.execute(
            select(
                FeedbackRow.answer_id,
                FeedbackRow.rater,
                FeedbackRow.variant_name,
                FeedbackRow.positive,
            )
            .join(TurnRow, TurnRow.id == FeedbackRow.turn_id)
            .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
            .where(
                ConversationRow.use_case == spec.name,
                FeedbackRow.created_at >= window.since,
                FeedbackRow.created_at < window.until,
            )
            .order_by(FeedbackRow.created_at, FeedbackRow.id)
        ):
            latest[(answer_id, rater)] = (variant, positive)
        votes_query = (
            select(VoteRow)
            .join(TurnRow, TurnRow.id == VoteRow.turn_id)
            .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
            .where(live_votes())
        )
        filters = Filters(since=window.since, until=window.until, use_case=spec.name)
        votes = [vote_out(v) for v in s.scalars(filters.apply(votes_query))]
    for variant, positive in latest.values():
        if variant in out:
            out[variant].feedback.append(positive)
    for record in vote_records(store, votes):
        if record.variant in out:
            out[record.variant].results.append(RESULT_VALUES[record.outcome])
    return out


def goal_statuses(store: Store, spec: UseCaseSpec, window: Window) -> dict[str, list[GoalStatus]]:
    """Only the targets, per variant (what the goal monitor exports)."""
    targets = spec.parsed_targets()
    return {
        variant: [goal_status(t, obs, spec.min_samples) for t in targets]
        for variant, obs in observations(store, spec, window).items()
    }


def status(
    store: Store, spec: UseCaseSpec, window: Window, *, baseline: str | None = None
) -> list[Candidate]:
    """Every variant against every target (ranked, best first)."""
    baseline = baseline or spec.baseline
    if baseline is not None and baseline not in spec.variants:
        raise InvalidRequest(
            f"baseline {baseline!r} is not one of the use case's variants",
            code="invalid_baseline",
            hint="Choose one of: " + ", ".join(spec.variants),
        )
    return assess(
        spec.variants,
        observations(store, spec, window),
        spec.parsed_targets(),
        min_samples=spec.min_samples,
        baseline=baseline,
    )


def report(
    store: Store,
    spec: UseCaseSpec,
    window: Window,
    *,
    baseline: str | None = None,
    plots: bool = True,
) -> SelectionReport:
    """The model-selection report: ranking, evidence, baseline comparison, trade-off
    plots and the recommendation."""
    from evals.plots import tradeoff

    baseline = baseline or spec.baseline
    ranked = status(store, spec, window, baseline=baseline)
    targets = spec.parsed_targets()
    quality = quality_metric(targets, sorted({m for c in ranked for m in c.evidence}))
    thresholds = {t.metric: t.threshold for t in targets}
    images: dict[str, bytes] = {}
    if quality is not None and plots:
        for x_metric, name, label in (
            ("cost_per_1k_requests_usd", "tradeoff_cost.png", "cost per 1k requests (USD)"),
            ("p90_latency_s", "tradeoff_latency.png", "p90 latency (s)"),
        ):
            points = tradeoff_points(ranked, x_metric, quality)
            png = tradeoff(
                points,
                pareto_front(points),
                x_label=label,
                y_label=quality,
                x_limit=thresholds.get(x_metric),
                y_limit=thresholds.get(quality),
                meets_all={c.variant for c in ranked if c.all_met},
            )
            if png is not None:
                images[name] = png
    meta = {
        "use case": spec.name,
        "description": spec.description or "—",
        "window": window.describe(),
        "targets": "; ".join(spec.targets),
        "baseline": baseline or "none",
        "minimum sample size": f"{spec.min_samples} observations per target",
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    return SelectionReport(
        title=f"Model selection: {spec.name}",
        meta=meta,
        targets=targets,
        ranked=ranked,
        baseline=baseline,
        quality=quality,
        recommendation=recommendation(ranked, quality, window.describe()),
        plots=images,
    )


def write_report(r: SelectionReport, out: Path) -> list[Path]:
    """HTML (self-contained) or Markdown (PNG files beside it), by the file's suffix."""
    from evals.render import selection_html, selection_markdown
    from service.evaluation.reports import write_document

    return write_document(
        out, html=lambda: selection_html(r), markdown=lambda: selection_markdown(r), plots=r.plots
    )


async def run_datasets(
    runtime: Runtime,
    spec: UseCaseSpec,
    *,
    concurrency: int = 4,
    on_progress: Callable[[Progress], None] | None = None,
) -> list[str]:
    """An eval run per dataset of the use case, over all its variants, counted toward it."""
    from evals.datasets import EXAMPLE_DATASET, load_dataset
    from evals.errors import DatasetError
    from service.documents.library import SAMPLE_COLLECTION, ingest_sample_corpus, rag_errors
    from service.evaluation.batch import run_eval
    from service.schemas import RagRequest

    if not spec.datasets:
        raise InvalidRequest(
            f"use case {spec.name!r} has no datasets",
            code="no_datasets",
            hint="Add `datasets: [example]` or paths to JSONL/CSV files.",
        )
    rag = RagRequest(collection=spec.collections[0]) if spec.collections else None
    if rag is not None and rag.collection == SAMPLE_COLLECTION:
        with rag_errors():
            await asyncio.to_thread(ingest_sample_corpus, runtime.library)
    run_ids = []
    for path in spec.datasets:
        try:
            data = await asyncio.to_thread(
                load_dataset, EXAMPLE_DATASET if path == EXAMPLE_DATASET_NAME else Path(path)
            )
        except DatasetError as exc:
            raise InvalidRequest(str(exc), code="invalid_dataset") from None
        run_ids.append(
            await run_eval(
                runtime,
                data,
                spec.variants,
                spec.run_metrics(),
                concurrency=concurrency,
                rag=rag,
                name=f"{spec.name}: {path}",
                on_progress=on_progress,
                use_case=spec.name,
            )
        )
    return run_ids
