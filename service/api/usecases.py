"""Use cases over HTTP: define them, read each variant's goal status, get the
model-selection report, and the CloudWatch alarms their targets imply."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import BaseModel

from evals.goals import TARGET_METRICS, GoalStatus
from evals.render import selection_html, selection_markdown
from evals.report import Estimate
from evals.selection import TUNED_RULE, Candidate, SelectionReport, TunedComparison
from monitoring.cloudwatch import goal_alarms
from service.access import audit
from service.api.deps import RuntimeDep, StoreDep, error_responses
from service.errors import ErrorCode, InvalidRequest
from service.evaluation import UseCaseSpec, Window, usecases
from service.store import Store

_ERRORS = error_responses(404, 422)


class TargetMetricOut(BaseModel):
    name: str
    kind: str
    description: str
    unit: str
    higher_is_better: bool
    low: float | None
    high: float | None


class GoalOut(BaseModel):
    target: str
    metric: str
    op: str
    threshold: float
    status: str  # met | missed | insufficient
    value: float | None
    low: float | None
    high: float | None
    samples: int
    needed: int
    clear: bool  # the whole 95% CI is on the side of the verdict
    message: str


class VariantGoalsOut(BaseModel):
    variant: str
    all_met: bool
    met: int
    cost_per_1k_requests_usd: float | None
    goals: list[GoalOut]


class EstimateOut(BaseModel):
    mean: float | None
    low: float | None  # 95% CI
    high: float | None
    n: int


class TunedMetricOut(BaseModel):
    metric: str
    base: EstimateOut
    tuned: EstimateOut
    difference: EstimateOut  # tuned - base, paired by example
    significant: bool


class TunedOut(BaseModel):
    """A tuned variant against its base: blind campaign votes and eval-run metrics."""

    tuned: str
    base: str
    job: str
    campaign: str | None
    wins: int
    losses: int
    ties: int
    win_rate: float | None  # of decisive votes
    win_rate_low: float | None  # 95% Wilson interval
    win_rate_high: float | None
    verdict: str  # promote | keep_base | not_enough_data
    recommendation: str
    rule: str
    eval_runs: list[str]
    metrics: list[TunedMetricOut]
    note: str


class UseCaseStatusOut(BaseModel):
    use_case: str
    since: datetime
    until: datetime
    baseline: str | None
    recommendation: str
    variants: list[VariantGoalsOut]  # ranked: best first
    tuned: list[TunedOut]  # base vs tuned, one per tuned variant of the use case


class AppliedOut(BaseModel):
    created: bool
    use_case: UseCaseSpec


def goal_out(g: GoalStatus) -> GoalOut:
    return GoalOut(
        target=str(g.target),
        metric=g.target.metric,
        op=g.target.op,
        threshold=g.target.threshold,
        status=g.status,
        value=g.value.mean,
        low=g.value.low,
        high=g.value.high,
        samples=g.value.n,
        needed=g.needed,
        clear=g.clear,
        message=g.describe(),
    )


def _variant_out(c: Candidate) -> VariantGoalsOut:
    return VariantGoalsOut(
        variant=c.variant,
        all_met=c.all_met,
        met=c.met_count,
        cost_per_1k_requests_usd=c.cost,
        goals=[goal_out(g) for g in c.goals],
    )


def _estimate(e: Estimate) -> EstimateOut:
    return EstimateOut(mean=e.mean, low=e.low, high=e.high, n=e.n)


def tuned_out(t: TunedComparison) -> TunedOut:
    interval = t.win.interval
    return TunedOut(
        tuned=t.tuned,
        base=t.base,
        job=t.job,
        campaign=t.campaign,
        wins=t.win.wins,
        losses=t.win.losses,
        ties=t.win.ties,
        win_rate=t.win.rate,
        win_rate_low=interval[0] if interval else None,
        win_rate_high=interval[1] if interval else None,
        verdict=t.verdict,
        recommendation=t.recommendation,
        rule=TUNED_RULE,
        eval_runs=t.eval_runs,
        metrics=[
            TunedMetricOut(
                metric=d.metric,
                base=_estimate(d.a),
                tuned=_estimate(d.b),
                difference=_estimate(d.diff),
                significant=d.significant,
            )
            for d in t.metrics
        ],
        note=t.note,
    )


router = APIRouter(prefix="/api/usecases", tags=["use cases"])


def window(spec: UseCaseSpec, days: float | None) -> Window:
    return Window.last(days or spec.window_days)


@router.get("")
async def list_use_cases(store: StoreDep) -> list[UseCaseSpec]:
    return await asyncio.to_thread(usecases.list_all, store)


@router.get("/target-metrics")
async def target_metrics() -> list[TargetMetricOut]:
    """Every metric a target can name, with what it measures."""
    return [
        TargetMetricOut(
            name=m.name,
            kind=m.kind,
            description=m.description,
            unit=m.unit,
            higher_is_better=m.higher_is_better,
            low=m.low,
            high=m.high,
        )
        for m in TARGET_METRICS.values()
    ]


@router.get("/{name}", responses=_ERRORS)
async def get_use_case(store: StoreDep, name: str) -> UseCaseSpec:
    return await asyncio.to_thread(usecases.get, store, name)


@router.put("/{name}", responses=_ERRORS)
async def put_use_case(
    runtime: RuntimeDep, store: StoreDep, name: str, body: dict[str, Any], request: Request
) -> AppliedOut:
    """Create or replace a use case. Every target is checked (metric, operator, range,
    contradictions) and every variant must exist."""
    body.setdefault("name", name)
    spec = usecases.spec_from_data(body)
    if spec.name != name:
        raise InvalidRequest(
            f"the body names use case {spec.name!r} but the URL names {name!r}",
            code=ErrorCode.NAME_MISMATCH,
        )
    created = await asyncio.to_thread(usecases.apply, store, runtime.catalog, spec)
    await asyncio.to_thread(
        audit.record,
        store,
        request,
        "usecase.create" if created else "usecase.update",
        name,
        spec.model_dump(),
    )
    return AppliedOut(created=created, use_case=spec)


@router.get("/{name}/status", responses=_ERRORS)
async def use_case_status(
    store: StoreDep,
    name: str,
    days: float | None = Query(None, gt=0, le=3650, description="Window; default its own."),
    baseline: str | None = Query(None, description="Compare with this variant instead."),
) -> UseCaseStatusOut:
    report, w = await asyncio.to_thread(_report, store, name, days, baseline, False)
    return UseCaseStatusOut(
        use_case=name,
        since=w.since,
        until=w.until,
        baseline=report.baseline,
        recommendation=report.recommendation,
        variants=[_variant_out(c) for c in report.ranked],
        tuned=[tuned_out(t) for t in report.tuned],
    )


def _report(
    store: Store, name: str, days: float | None, baseline: str | None, plots: bool
) -> tuple[SelectionReport, Window]:
    spec = usecases.get(store, name)
    w = window(spec, days)
    return usecases.report(store, spec, w, baseline=baseline, plots=plots), w


@router.get("/{name}/report.html", response_class=HTMLResponse, responses=_ERRORS)
async def report_html(
    store: StoreDep,
    name: str,
    days: float | None = Query(None, gt=0, le=3650),
    baseline: str | None = None,
) -> HTMLResponse:
    """The model-selection report as one self-contained page."""
    report, _ = await asyncio.to_thread(_report, store, name, days, baseline, True)
    return HTMLResponse(selection_html(report))


@router.get("/{name}/report.md", response_class=PlainTextResponse, responses=_ERRORS)
async def report_md(
    store: StoreDep,
    name: str,
    days: float | None = Query(None, gt=0, le=3650),
    baseline: str | None = None,
) -> PlainTextResponse:
    """Markdown, tables only (the HTML report has the plots)."""
    report, _ = await asyncio.to_thread(_report, store, name, days, baseline, False)
    return PlainTextResponse(selection_markdown(report), media_type="text/markdown")


@router.get("/{name}/alarms", responses=_ERRORS)
async def alarms(runtime: RuntimeDep, store: StoreDep, name: str) -> list[dict[str, Any]]:
    """`put_metric_alarm` arguments for every variant and target (GoalMet metric)."""
    spec = await asyncio.to_thread(usecases.get, store, name)
    return goal_alarms(
        runtime.settings.cloudwatch_namespace, spec.name, spec.variants, spec.targets
    )
