"""Reports and regression gates over stored eval runs: gathers the items, pairs the sides,
asks the pairwise judge when one is named, and hands the numbers to `evals.report`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals import plots
from evals.errors import MixedVersions
from evals.judges import PairwiseJudge
from evals.render import to_html, to_markdown
from evals.report import (
    Comparison,
    GateCheck,
    Report,
    SideSummary,
    check_same_versions,
    compare,
    gate,
    summarize,
)
from service.errors import ArbiterError, ErrorCode, InvalidRequest, as_arbiter_error
from service.ids import utcnow
from service.store import Store, eval_runs

Items = list[dict[str, Any]]
Side = tuple[str, Items]


@dataclass(frozen=True)
class _Run:
    id: str
    name: str
    dataset_path: str
    variants: list[str]
    by_variant: dict[str, Items]


def _load(store: Store, run_id: str) -> _Run:
    run = eval_runs.get_run(store, run_id)
    by_variant: dict[str, Items] = {v: [] for v in run["variants"]}
    for item in eval_runs.items(store, run_id):
        by_variant.setdefault(item["variant"], []).append(item)
    return _Run(run["id"], run["name"], run["dataset_path"], list(by_variant), by_variant)


def _refused(exc: MixedVersions) -> ArbiterError:
    """Two versions of one metric met: the service's error for it (CLI and API alike)."""
    err = as_arbiter_error(exc)
    assert err is not None
    return err


def run_summaries(store: Store, run_id: str) -> dict[str, SideSummary]:
    """Per variant of a run: every metric's mean with its 95% CI, plus operational ones."""
    run = _load(store, run_id)
    try:
        return {v: summarize(v, items) for v, items in run.by_variant.items()}
    except MixedVersions as exc:
        raise _refused(exc) from None


def resolve_side(store: Store, run_id: str, variant: str | None) -> Side:
    """One variant of one run; the variant may be left out when the run has only one."""
    run = _load(store, run_id)
    if variant is None:
        if len(run.variants) != 1:
            raise InvalidRequest(
                f"run {run_id} has variants {', '.join(run.variants)}",
                code=ErrorCode.AMBIGUOUS_SIDE,
                hint="Name one with RUN_ID:VARIANT.",
            )
        variant = run.variants[0]
    if variant not in run.by_variant:
        raise InvalidRequest(
            f"run {run_id} has no variant {variant!r}",
            code=ErrorCode.UNKNOWN_VARIANT,
            hint=f"It has: {', '.join(run.variants)}.",
        )
    return f"{variant} ({run_id[-6:]})", run.by_variant[variant]


def _pairs(runs: Sequence[_Run]) -> tuple[list[Side], list[tuple[Side, Side]]]:
    if len(runs) == 1:
        sides = [(v, items) for v, items in runs[0].by_variant.items()]
        return sides, [(sides[0], s) for s in sides[1:]]
    base, cand = runs
    label = {base.id: f"{base.name} ({base.id[-6:]})", cand.id: f"{cand.name} ({cand.id[-6:]})"}
    sides_a = {v: (f"{v} @ {label[base.id]}", i) for v, i in base.by_variant.items()}
    sides_b = {v: (f"{v} @ {label[cand.id]}", i) for v, i in cand.by_variant.items()}
    pairs = [(sides_a[v], sides_b[v]) for v in sides_a if v in sides_b]
    if not pairs and len(sides_a) == 1 and len(sides_b) == 1:
        pairs = [(next(iter(sides_a.values())), next(iter(sides_b.values())))]
    return [*sides_a.values(), *sides_b.values()], pairs


def _judge_pairs(
    judge: PairwiseJudge,
    a: Items,
    b: Items,
    *,
    workers: int = 4,
    on_step: Callable[[], None] | None = None,
) -> dict[str, str]:
    b_by = {i["example_id"]: i for i in b}
    todo = [
        (x, b_by[x["example_id"]])
        for x in a
        if x["example_id"] in b_by
        and x["status"] == "ok"
        and b_by[x["example_id"]]["status"] == "ok"
    ]

    def one(pair: tuple[dict[str, Any], dict[str, Any]]) -> tuple[str, str]:
        x, y = pair
        verdict = judge.compare(x["prompt"], x["answer"], y["answer"])
        if on_step:
            on_step()
        return x["example_id"], verdict.winner or "error"

    with ThreadPoolExecutor(workers) as pool:
        return dict(pool.map(one, todo))


def build_report(
    store: Store,
    run_id: str,
    *,
    against: str | None = None,
    judge: PairwiseJudge | None = None,
    on_step: Callable[[], None] | None = None,
    draw_plots: bool = True,
) -> Report:
    """A report on one run (its variants compared with the first one), or on two runs
    (`against` is the baseline run; variants of the same name are compared). Drawing the
    plots is most of the work on a small run: a report read as Markdown text goes without."""
    runs = [_load(store, against), _load(store, run_id)] if against else [_load(store, run_id)]
    sides, pairs = _pairs(runs)
    comparisons: list[Comparison] = []
    try:
        summaries = [summarize(label, items) for label, items in sides]
        for a, b in pairs:  # refused before any judge call when versions differ
            check_same_versions(summarize(*a), summarize(*b))
        for a, b in pairs:
            verdicts = _judge_pairs(judge, a[1], b[1], on_step=on_step) if judge else None
            comparisons.append(
                compare(a, b, verdicts=verdicts, judge=judge.version if judge else None)
            )
    except MixedVersions as exc:
        raise _refused(exc) from None
    report = Report(
        title=f"Evaluation report: {runs[-1].name}" + (f" vs {runs[0].name}" if against else ""),
        meta={
            "runs": ", ".join(r.id for r in runs),
            "datasets": ", ".join(sorted({r.dataset_path for r in runs})),
            "generated": utcnow().strftime("%Y-%m-%d %H:%M UTC"),
        },
        sides=summaries,
        comparisons=comparisons,
    )
    if not draw_plots:
        return report
    if dist := plots.distributions(sides):
        report.plots["distributions.png"] = dist
    if report.primary_metric and (
        scatter := plots.latency_vs_quality(summaries, report.primary_metric)
    ):
        report.plots["latency_vs_quality.png"] = scatter
    return report


def write_report(report: Report, out: Path) -> list[Path]:
    return write_document(
        out,
        html=lambda: to_html(report),
        markdown=lambda: to_markdown(report),
        plots=report.plots,
    )


def write_document(
    out: Path,
    *,
    html: Callable[[], str],
    markdown: Callable[[], str],
    plots: dict[str, bytes],
) -> list[Path]:
    """`.html`: one self-contained file; `.md`: the Markdown plus its PNG plots beside it."""
    if out.suffix.lower() not in (".html", ".htm", ".md"):
        raise InvalidRequest(
            f"cannot write a report as {out.suffix or 'a file without an extension'}",
            code=ErrorCode.BAD_REPORT_FORMAT,
            hint="Use a path ending in .html or .md.",
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() in (".html", ".htm"):
        out.write_text(html(), encoding="utf-8")
        return [out]
    out.write_text(markdown(), encoding="utf-8")
    written = [out]
    for name, png in plots.items():
        (out.parent / name).write_bytes(png)
        written.append(out.parent / name)
    return written


def split_side(spec: str) -> tuple[str, str | None]:
    run_id, _, variant = spec.partition(":")
    return run_id, variant or None


def run_gate(
    store: Store, baseline: str, candidate: str, thresholds: dict[str, float]
) -> list[GateCheck]:
    """`baseline`/`candidate` are RUN_ID or RUN_ID:VARIANT."""
    base = resolve_side(store, *split_side(baseline))
    cand = resolve_side(store, *split_side(candidate))
    try:
        return gate(summarize(*base), summarize(*cand), thresholds)
    except MixedVersions as exc:
        raise _refused(exc) from None
