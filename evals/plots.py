"""Report plots as PNG bytes (matplotlib, headless Agg backend)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from evals.report import SideSummary, metric_values

MAX_METRIC_PANELS = 8


def _figure(**size: Any) -> Any:
    """A figure of its own, outside pyplot: pyplot keeps every open figure in one global
    registry that is not safe across threads, and the service draws reports in worker
    threads, several at once."""
    # lazy: matplotlib takes about half a second to import, and only reports draw plots
    from matplotlib.figure import Figure

    return Figure(**size)


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")  # Agg: never a window
    return buf.getvalue()


def distributions(sides: Sequence[tuple[str, Sequence[Mapping[str, Any]]]]) -> bytes | None:
    """One box plot per metric, a box per side: how the values spread, not only their mean."""
    per_side = [(label, [metric_values(i) for i in items]) for label, items in sides]
    metrics: list[str] = []
    for _, rows in per_side:
        for row in rows:
            for m in row:
                if m not in metrics and m != "error_rate":
                    metrics.append(m)
    metrics = metrics[:MAX_METRIC_PANELS]
    if not metrics:
        return None
    cols = min(3, len(metrics))
    rows_n = (len(metrics) + cols - 1) // cols
    fig = _figure(figsize=(4.2 * cols, 3.0 * rows_n))
    axes = fig.subplots(rows_n, cols, squeeze=False)
    for ax, metric in zip(axes.flat, metrics, strict=False):
        data = [[r[metric] for r in rows if r.get(metric) is not None] for _, rows in per_side]
        labels = [label for label, _ in per_side]
        kept = [(d, lab) for d, lab in zip(data, labels, strict=True) if d]
        if kept:
            ax.boxplot([d for d, _ in kept], tick_labels=[lab for _, lab in kept], vert=True)
        ax.set_title(metric)
        ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    for ax in list(axes.flat)[len(metrics) :]:
        ax.axis("off")
    fig.suptitle("Distribution per metric")
    return _png(fig)


def latency_vs_quality(summaries: Sequence[SideSummary], metric: str) -> bytes | None:
    """Mean latency against mean quality per side, with the quality's 95% CI."""
    points = [
        (s.label, s.metrics["latency_s"], s.metrics[metric])
        for s in summaries
        if "latency_s" in s.metrics
        and metric in s.metrics
        and s.metrics["latency_s"].mean is not None
        and s.metrics[metric].mean is not None
    ]
    if not points:
        return None
    fig = _figure(figsize=(5.5, 4.0))
    ax = fig.subplots()
    for label, lat, q in points:
        assert lat.mean is not None and q.mean is not None
        low = q.mean - (q.low if q.low is not None else q.mean)
        high = (q.high if q.high is not None else q.mean) - q.mean
        ax.errorbar([lat.mean], [q.mean], yerr=[[low], [high]], fmt="o", capsize=4, label=label)
        ax.annotate(
            label, (lat.mean, q.mean), textcoords="offset points", xytext=(6, 6), fontsize=8
        )
    ax.set_xlabel("mean latency (s)")
    ax.set_ylabel(f"{metric} (mean, 95% CI)")
    ax.set_title(f"Latency vs {metric}")
    ax.grid(alpha=0.3)
    return _png(fig)


def win_matrix(models: Sequence[str], rates: Any) -> bytes | None:
    """Heat map of win rates: row model's win rate against the column model. No title or
    axis words: the page labels it in the reader's language (matplotlib's bundled font has
    no CJK glyphs)."""
    if not models:
        return None
    data = np.asarray(rates, dtype=float)
    size = max(3.5, 0.6 * len(models) + 2)
    fig = _figure(figsize=(size + 1, size))
    ax = fig.subplots()
    image = ax.imshow(np.ma.masked_invalid(data), cmap="RdYlGn", vmin=0, vmax=1)
    ax.set_xticks(range(len(models)), labels=models, rotation=35, ha="right", fontsize=8)
    ax.set_yticks(range(len(models)), labels=models, fontsize=8)
    for (y, x), value in np.ndenumerate(data):
        if not np.isnan(value):
            ax.text(x, y, f"{value:.2f}", ha="center", va="center", fontsize=7)
    fig.colorbar(image, ax=ax, fraction=0.046)
    return _png(fig)


def tradeoff(
    points: Sequence[tuple[str, float, float]],
    front: set[str],
    *,
    x_label: str,
    y_label: str,
    x_limit: float | None = None,
    y_limit: float | None = None,
    meets_all: set[str] | None = None,
) -> bytes | None:
    """Quality (y, higher is better) against cost or latency (x, lower is better), one point
    per variant; the Pareto front joined and in green; variants meeting every target as
    stars; target thresholds dashed."""
    if not points:
        return None
    meets_all = meets_all or set()
    fig = _figure(figsize=(5.8, 4.2))
    ax = fig.subplots()
    for label, x, y in points:
        on_front = label in front
        ax.scatter(
            [x],
            [y],
            s=140 if label in meets_all else 70 if on_front else 40,
            marker="*" if label in meets_all else "o" if on_front else "x",
            color="tab:green" if on_front else "tab:gray",
            zorder=3,
        )
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(6, 6), fontsize=8)
    edge = sorted((x, y) for label, x, y in points if label in front)
    if len(edge) > 1:
        ax.step(
            [x for x, _ in edge],
            [y for _, y in edge],
            where="post",
            color="tab:green",
            alpha=0.6,
            label="Pareto front",
        )
    if x_limit is not None:
        ax.axvline(x_limit, color="tab:red", linestyle="--", alpha=0.6, label=f"target: {x_label}")
    if y_limit is not None:
        ax.axhline(y_limit, color="tab:red", linestyle=":", alpha=0.6, label=f"target: {y_label}")
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.set_title(
        f"{y_label} vs {x_label}\n(green: Pareto front; star: meets every target)", fontsize=10
    )
    ax.grid(alpha=0.3)
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=8, loc="best")
    return _png(fig)
