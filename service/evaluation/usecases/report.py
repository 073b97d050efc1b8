"""The model-selection report of a use case: candidates ranked, the evidence, the baseline
comparison, trade-off plots and the recommendation; written as HTML or Markdown."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from evals.plots import tradeoff
from evals.render import selection_html, selection_markdown
from evals.selection import (
    SelectionReport,
    pareto_front,
    quality_metric,
    recommendation,
    tradeoff_points,
)
from service.evaluation.reports import write_document
from service.evaluation.usecases.goals import Window, status
from service.evaluation.usecases.spec import UseCaseSpec
from service.store import Store


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
    )


def write_report(r: SelectionReport, out: Path) -> list[Path]:
    """HTML (self-contained) or Markdown (PNG files beside it), by the file's suffix."""
    return write_document(
        out, html=lambda: selection_html(r), markdown=lambda: selection_markdown(r), plots=r.plots
    )
