"""A report as Markdown (plots as PNG files beside it) or as one self-contained HTML file
(plots inlined as data URIs, no external stylesheet, script or font)."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence

from evals.goals import GoalStatus
from evals.report import Comparison, ExampleDiff, Report, SideSummary
from evals.selection import (
    TUNED_RULE,
    Candidate,
    SelectionReport,
    TunedComparison,
    baseline_verdict,
)

DIFF_ROWS = 20  # examples shown per comparison, largest differences first
ANSWER_CHARS = 600


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _side_rows(sides: Sequence[SideSummary]) -> tuple[list[str], list[list[str]]]:
    metrics: list[str] = []
    for s in sides:
        metrics += [m for m in s.metrics if m not in metrics]
    header = ["side", "answers", *metrics, "p50 latency (s)", "p90 latency (s)"]
    rows = []
    for s in sides:
        cells = [s.label, str(s.answers)]
        for m in metrics:
            est = s.metrics.get(m)
            text = est.fmt() if est else "—"
            if est and est.errors:
                text += f" ({est.errors} errors)"
            cells.append(text)
        cells += [_num(s.p50_latency_s), _num(s.p90_latency_s)]
        rows.append(cells)
    return header, rows


def _diff_rows(c: Comparison) -> tuple[list[str], list[list[str]]]:
    header = ["metric", c.a.label, c.b.label, "B - A (paired, 95% CI)", "pairs", "better"]
    rows = []
    for d in c.diffs:
        better = {"a": c.a.label, "b": c.b.label}.get(d.better or "", "no significant difference")
        rows.append([d.metric, d.a.fmt(), d.b.fmt(), d.diff.fmt(4), str(d.diff.n), better])
    return header, rows


def _top_examples(c: Comparison, metric: str | None) -> list[ExampleDiff]:
    if metric is None:
        return c.examples[:DIFF_ROWS]
    return sorted(c.examples, key=lambda e: -abs(e.delta(metric) or 0.0))[:DIFF_ROWS]


def _example_rows(c: Comparison, metric: str | None) -> list[list[str]]:
    return [
        [
            e.example_id,
            _clip(e.prompt),
            _clip(e.answer_a),
            _clip(e.answer_b),
            _num(e.delta(metric)) if metric else "",
            e.verdict or "",
        ]
        for e in _top_examples(c, metric)
    ]


def _clip(text: str) -> str:
    return text if len(text) <= ANSWER_CHARS else text[:ANSWER_CHARS] + " …"


def _win_rate_text(c: Comparison) -> str | None:
    win = c.win_rate_b
    if win is None:
        return None
    counts = ", ".join(f"{k}: {v}" for k, v in sorted(c.verdicts.items()))
    return (
        f"Judge {c.judge}: {c.b.label} wins over {c.a.label} {win.fmt()} "
        f"(ties count half; n={win.n}; {counts})"
    )


# ---- Markdown -------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |"]
    lines.append("|" + "---|" * len(header))
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def to_markdown(report: Report) -> str:
    """Markdown; the plots are referenced by file name (write `report.plots` beside it)."""
    out = [f"# {report.title}", ""]
    out += [f"- **{k}**: {v}" for k, v in report.meta.items()]
    out += ["", "Means with bootstrap 95% confidence intervals in brackets.", ""]
    out += ["## Per side", "", _md_table(*_side_rows(report.sides)), ""]
    for c in report.comparisons:
        out += [f"## {c.b.label} vs {c.a.label}", "", _md_table(*_diff_rows(c)), ""]
        if text := _win_rate_text(c):
            out += [text, ""]
        metric = report.primary_metric
        out += [f"### Largest differences ({metric or 'in order'})", ""]
        rows = _example_rows(c, metric)
        out += [_md_table(["example", "prompt", c.a.label, c.b.label, "Δ", "judge"], rows), ""]
    for name in report.plots:
        out += [f"![{name}]({name})", ""]
    return "\n".join(out)


# ---- HTML -----------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:13px}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3} td.t{white-space:pre-wrap;max-width:320px}
img{max-width:100%;border:1px solid #eee;margin:.5rem 0}
.meta{color:#555}
"""


def _html_table(header: list[str], rows: list[list[str]], text_cols: set[int] | None = None) -> str:
    text_cols = text_cols or set()
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=t' if i in text_cols else ''}>{html.escape(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def to_html(report: Report) -> str:
    """One self-contained HTML page; every string from the data is escaped."""
    parts = [
        "<!doctype html><html><head><meta charset=utf-8>",
        f"<title>{html.escape(report.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(report.title)}</h1><ul class=meta>",
        *(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in report.meta.items()),
        "</ul><p>Means with bootstrap 95% confidence intervals in brackets.</p>",
        "<h2>Per side</h2>",
        _html_table(*_side_rows(report.sides)),
    ]
    for c in report.comparisons:
        parts += [f"<h2>{html.escape(c.b.label)} vs {html.escape(c.a.label)}</h2>"]
        parts += [_html_table(*_diff_rows(c))]
        if text := _win_rate_text(c):
            parts += [f"<p>{html.escape(text)}</p>"]
        metric = report.primary_metric
        parts += [f"<h3>Largest differences ({html.escape(metric or 'in order')})</h3>"]
        rows = _example_rows(c, metric)
        parts += [
            _html_table(["example", "prompt", c.a.label, c.b.label, "Δ", "judge"], rows, {1, 2, 3})
        ]
    for name, png in report.plots.items():
        data = base64.b64encode(png).decode("ascii")
        parts += [f'<img alt="{html.escape(name)}" src="data:image/png;base64,{data}">']
    parts += ["</body></html>"]
    return "\n".join(parts)


# ---- model-selection reports ----------------------------------------------------------------


def _goal_cell(g: GoalStatus) -> str:
    if g.status == "insufficient":
        return g.describe()
    sure = "" if g.clear else ", within CI"
    return f"{g.status}: {g.value.fmt()}{sure}"


def _ranking_rows(r: SelectionReport) -> tuple[list[str], list[list[str]]]:
    header = ["rank", "variant", "all targets met", "met", "cost per 1k requests (USD)"]
    header += [str(t) for t in r.targets]
    rows = []
    for i, c in enumerate(r.ranked, 1):
        name = c.variant + (" (baseline)" if c.variant == r.baseline else "")
        cost = c.evidence.get("cost_per_1k_requests_usd")
        if not c.has_data:  # not ranked: nothing to rank it on
            row = ["no data yet", name, "—", "—"]
        else:
            row = [str(i), name, "yes" if c.all_met else "no", f"{c.met_count}/{len(c.goals)}"]
        row += [cost.fmt(4) if cost else "—", *(_goal_cell(g) for g in c.goals)]
        rows.append(row)
    return header, rows


def _evidence_rows(r: SelectionReport) -> tuple[list[str], list[list[str]]]:
    metrics: list[str] = []
    for c in r.ranked:
        metrics += [m for m in c.evidence if m not in metrics]
    header = ["variant", "answers", "votes", "feedback", *metrics]
    if r.baseline:
        header.append(f"judge win rate vs {r.baseline}")
    rows = []
    for c in r.ranked:
        row = [c.variant, *(str(c.counts[k]) for k in ("answers", "votes", "feedback"))]
        row += [c.evidence[m].fmt() if m in c.evidence else "—" for m in metrics]
        if r.baseline:
            row.append(c.judge_win_rate.fmt() if c.judge_win_rate else "—")
        rows.append(row)
    return header, rows


def _baseline_rows(r: SelectionReport, c: Candidate) -> tuple[list[str], list[list[str]]]:
    base = next((b for b in r.ranked if b.variant == r.baseline), None)
    header = ["metric", c.variant, str(r.baseline), "difference (95% CI)", "verdict"]
    rows = []
    for metric, diff in c.vs_baseline.items():
        mine = c.evidence.get(metric)
        theirs = base.evidence.get(metric) if base else None
        rows.append(
            [
                metric,
                mine.fmt() if mine else "—",
                theirs.fmt() if theirs else "—",
                diff.fmt(4),
                baseline_verdict(metric, diff),
            ]
        )
    return header, rows


def _tuned_rows(r: SelectionReport) -> tuple[list[str], list[list[str]]]:
    header = ["tuned variant", "base", "campaign", "votes (W-L-T)", "win rate (95% CI)", "verdict"]
    verdicts = {
        "promote": "promote",
        "keep_base": "keep base",
        "not_enough_data": "not enough data yet",
    }
    rows = [
        [
            t.tuned,
            t.base,
            t.campaign or "—",
            f"{t.win.wins}-{t.win.losses}-{t.win.ties}",
            t.win.fmt(),
            verdicts[t.verdict],
        ]
        for t in r.tuned
    ]
    return header, rows


def _tuned_metric_rows(t: TunedComparison) -> tuple[list[str], list[list[str]]]:
    header = ["metric", f"{t.base} (base)", f"{t.tuned} (tuned)", "difference (95% CI)"]
    rows = [
        [d.metric, d.a.fmt(), d.b.fmt(), d.diff.fmt() + (" *" if d.significant else "")]
        for d in t.metrics
    ]
    return header, rows


def _tuned_metrics_note(t: TunedComparison) -> str:
    if t.metrics:
        return f"Eval runs {', '.join(t.eval_runs)}: means with 95% bootstrap intervals (* the paired difference excludes 0)."
    return t.note or "No eval-run metrics yet."


_SELECTION_NOTE = (
    "Values are means (or percentiles, or shares) with 95% confidence intervals in brackets: "
    "Wilson intervals for shares, percentile bootstrap otherwise. 'within CI' means the "
    "interval still crosses the target."
)


def selection_markdown(r: SelectionReport) -> str:
    out = [f"# {r.title}", ""]
    out += [f"- **{k}**: {v}" for k, v in r.meta.items()]
    out += ["", "## Recommendation", "", r.recommendation, "", _SELECTION_NOTE, ""]
    out += ["## Candidates against the targets", "", _md_table(*_ranking_rows(r)), ""]
    out += ["## Evidence", "", _md_table(*_evidence_rows(r)), ""]
    for c in r.ranked:
        if c.vs_baseline:
            out += [f"## {c.variant} vs baseline {r.baseline}", ""]
            out += [_md_table(*_baseline_rows(r, c)), ""]
    if r.tuned:
        out += ["## Base vs tuned", "", TUNED_RULE, "", _md_table(*_tuned_rows(r)), ""]
        for t in r.tuned:
            out += [f"### {t.tuned} vs {t.base}", "", t.recommendation, ""]
            out += [_tuned_metrics_note(t), ""]
            if t.metrics:
                out += [_md_table(*_tuned_metric_rows(t)), ""]
    for name in r.plots:
        out += [f"![{name}]({name})", ""]
    return "\n".join(out)


def selection_html(r: SelectionReport) -> str:
    """One self-contained page; every string from the data is escaped."""
    parts = [
        "<!doctype html><html><head><meta charset=utf-8>",
        f"<title>{html.escape(r.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(r.title)}</h1><ul class=meta>",
        *(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in r.meta.items()),
        "</ul><h2>Recommendation</h2>",
        f"<p class=rec><b>{html.escape(r.recommendation)}</b></p>",
        f"<p class=meta>{html.escape(_SELECTION_NOTE)}</p>",
        "<h2>Candidates against the targets</h2>",
        _html_table(*_ranking_rows(r)),
        "<h2>Evidence</h2>",
        _html_table(*_evidence_rows(r)),
    ]
    for c in r.ranked:
        if c.vs_baseline:
            title = f"{c.variant} vs baseline {r.baseline}"
            parts += [f"<h2>{html.escape(title)}</h2>"]
            parts += [_html_table(*_baseline_rows(r, c))]
    if r.tuned:
        parts += ["<h2>Base vs tuned</h2>", f"<p class=meta>{html.escape(TUNED_RULE)}</p>"]
        parts += [_html_table(*_tuned_rows(r))]
        for t in r.tuned:
            parts += [f"<h3>{html.escape(f'{t.tuned} vs {t.base}')}</h3>"]
            parts += [f"<p class=rec><b>{html.escape(t.recommendation)}</b></p>"]
            parts += [f"<p class=meta>{html.escape(_tuned_metrics_note(t))}</p>"]
            if t.metrics:
                parts += [_html_table(*_tuned_metric_rows(t))]
    for name, png in r.plots.items():
        data = base64.b64encode(png).decode("ascii")
        parts += [f'<img alt="{html.escape(name)}" src="data:image/png;base64,{data}">']
    parts += ["</body></html>"]
    return "\n".join(parts)
