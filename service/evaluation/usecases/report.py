"""The model-selection report of a use case: candidates ranked, the evidence, the baseline
comparison, trade-off plots and the recommendation; written as HTML or Markdown."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evals.errors import MixedVersions
from evals.plots import tradeoff
from evals.render import selection_html, selection_markdown
from evals.report import compare
from evals.selection import (
    SelectionReport,
    TunedComparison,
    WinRate,
    pareto_front,
    quality_metric,
    recommendation,
    tradeoff_points,
)
from service.evaluation.reports import write_document
from service.evaluation.usecases.goals import Window, status
from service.evaluation.usecases.spec import UseCaseSpec
from service.store import Filters, Store, eval_runs, leaderboard, tunings


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
        recommendation=recommendation(ranked, quality, window.describe(), spec.name),
        plots=images,
        tuned=tuned_comparisons(store, spec),
    )


def _win_rate(store: Store, campaign: str | None, base: str, tuned: str) -> WinRate:
    """Live votes on the campaign's turns, base against tuned (both-bad counts as a tie)."""
    if campaign is None:
        return WinRate(0, 0, 0)
    counts = leaderboard.pair_counts(store, Filters(campaign=campaign))
    for i, j, w, lo, t in zip(
        counts.i, counts.j, counts.wins, counts.losses, counts.ties, strict=True
    ):
        x, y = counts.models[i], counts.models[j]
        if {x, y} == {base, tuned}:
            tuned_wins, base_wins = (w, lo) if x == tuned else (lo, w)
            return WinRate(round(float(tuned_wins)), round(float(base_wins)), round(float(t)))
    return WinRate(0, 0, 0)


def _run_items(
    store: Store, run_ids: list[str], base: str, tuned: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The base's and the tuned variant's items over the runs (one run per dataset, each
    read once), example ids made distinct."""
    out: dict[str, list[dict[str, Any]]] = {base: [], tuned: []}
    for run_id in run_ids:
        for item in eval_runs.items(store, run_id):
            if item["variant"] in out:
                out[item["variant"]].append(item | {"example_id": f"{run_id}:{item['example_id']}"})
    return out[base], out[tuned]


def tuned_comparison(store: Store, row: dict[str, Any]) -> TunedComparison:
    """One tuning's variant against its base (`row` as `tunings.get_tuning` gives it): the
    votes of the blind campaign the tuning created (all of them, whatever a report's
    window), and the eval runs it created."""
    tuned, base = row["variant_name"], row["base_variant"]
    runs = list(row["eval_run_ids"] or [])
    base_items, tuned_items = _run_items(store, runs, base, tuned)
    note, metrics = "", []
    if not base_items or not tuned_items:
        note = "No eval-run answers yet for both variants."
    else:
        try:
            metrics = compare((base, base_items), (tuned, tuned_items)).diffs
        except MixedVersions as exc:
            note = f"Eval-run metrics not compared: {exc}"
    return TunedComparison(
        tuned=tuned,
        base=base,
        job=row["name"],
        campaign=row["campaign_name"],
        win=_win_rate(store, row["campaign_name"], base, tuned),
        metrics=metrics,
        eval_runs=runs,
        note=note,
    )


def tuned_comparisons(store: Store, spec: UseCaseSpec) -> list[TunedComparison]:
    """Each tuned variant of the use case (its base is a candidate, or it was tuned from the
    use case's labels) against its base."""
    return [
        tuned_comparison(store, row)
        for row in reversed(tunings.list_tunings(store))  # oldest first
        if row["variant_name"]
        and (row["base_variant"] in spec.variants or row["use_case"] == spec.name)
    ]


def write_report(r: SelectionReport, out: Path) -> list[Path]:
    """HTML (self-contained) or Markdown (PNG files beside it), by the file's suffix."""
    return write_document(
        out, html=lambda: selection_html(r), markdown=lambda: selection_markdown(r), plots=r.plots
    )
