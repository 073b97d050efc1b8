"""The Use cases page: define a use case (YAML, validated target by target), run its
datasets (progress, then where it stands), see every variant against its targets, and read
the model-selection report."""

from __future__ import annotations

import asyncio
import html
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlencode

import gradio as gr
import pandas as pd

from evals.selection import Candidate, TunedComparison
from service.access import audit
from service.app import Runtime
from service.errors import ArbiterError
from service.evaluation import Progress, usecases
from ui.access import Link, links_for, metered, require
from ui.i18n import DEFAULT_LANGUAGE, request_language, say, t

PLACEHOLDER = """name: my-use-case
description: What the model is for.
variants: [candidate-a, candidate-b, production]
baseline: production
targets:
  - rouge_l >= 0.35
  - p90_latency_s <= 2.5
  - error_rate <= 0.01
  - satisfaction >= 0.75
  - cost_per_1k_requests_usd <= 3
"""
OWN_BASELINE = "(its own)"


def names(runtime: Runtime) -> list[str]:
    return [spec.name for spec in usecases.list_all(runtime.store)]


def goal_table(ranked: list[Candidate], lang: str = DEFAULT_LANGUAGE) -> pd.DataFrame:
    """One row per variant (best first), one column per target (written as defined)."""
    targets = [str(g.target) for g in ranked[0].goals] if ranked else []
    mark = {"met": "✓", "missed": "✗", "insufficient": "…"}
    rows = [
        [
            c.variant,
            say(lang, "uc.no_data_yet" if not c.has_data else "uc.yes" if c.all_met else "uc.no"),
            *(f"{mark[g.status]} {g.describe()}" for g in c.goals),
        ]
        for c in ranked
    ]
    headers = [say(lang, "lb.col_variant"), say(lang, "uc.all_met"), *targets]
    return pd.DataFrame(rows, columns=headers)


VERDICT_KEYS = {
    "promote": "uc.tuned_promote",
    "keep_base": "uc.tuned_keep_base",
    "not_enough_data": "uc.tuned_not_enough",
}


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(escape_md(c) for c in cells) + " |"


def tuned_markdown(comparisons: list[TunedComparison], lang: str = DEFAULT_LANGUAGE) -> str:
    """Base vs tuned, in the viewer's language: one row per tuned variant, its
    recommendation, and the eval-run means of both with 95% intervals."""
    if not comparisons:
        return ""
    out = [f"### {say(lang, 'uc.tuned_title')}", "", escape_md(say(lang, "uc.tuned_rule")), ""]
    out.append(
        _md_row(
            [
                say(lang, "uc.tuned_col_tuned"),
                say(lang, "uc.tuned_col_base"),
                say(lang, "uc.tuned_col_votes"),
                say(lang, "uc.tuned_col_win"),
            ]
        )
    )
    out.append("|---|---|---|---|")
    for c in comparisons:
        w = c.win
        out.append(_md_row([c.tuned, c.base, f"{w.wins}-{w.losses}-{w.ties}", w.fmt()]))
    for c in comparisons:
        line = say(
            lang, VERDICT_KEYS[c.verdict], tuned=c.tuned, base=c.base, campaign=c.campaign or "—"
        )
        out += ["", f"**{escape_md(line)}**", ""]
        if not c.metrics:
            out.append(escape_md(say(lang, "uc.tuned_no_metrics", tuned=c.tuned, base=c.base)))
            continue
        out.append(
            _md_row(
                [say(lang, "uc.tuned_col_metric"), c.base, c.tuned, say(lang, "uc.tuned_col_diff")]
            )
        )
        out.append("|---|---|---|---|")
        out += [_md_row([d.metric, d.a.fmt(), d.b.fmt(), d.diff.fmt()]) for d in c.metrics]
    return "\n".join(out)


def status(
    runtime: Runtime,
    name: str,
    days: float | None,
    baseline: str | None,
    link: Link,
    lang: str = DEFAULT_LANGUAGE,
) -> tuple[str, pd.DataFrame, str]:
    """The status text and goal table, and the report in a frame by links signed for the
    viewer (the frame's request carries the page's sign-in cookie, not an API key)."""
    spec = usecases.get(runtime.store, name)
    window = usecases.Window.last(days or spec.window_days)
    base = None if baseline in (None, "", OWN_BASELINE) else baseline
    report = usecases.report(runtime.store, spec, window, baseline=base, plots=False)
    query = urlencode({k: v for k, v in (("days", days), ("baseline", base)) if v})
    md = link(f"/api/usecases/{quote(name)}/report.md" + (f"?{query}" if query else ""))
    # A new address each time (the API ignores `at`): the same one would leave the frame
    # showing the report as it was, after a run.
    fresh = urlencode(
        {k: v for k, v in (("days", days), ("baseline", base)) if v} | {"at": time.time_ns()}
    )
    src = link(f"/api/usecases/{quote(name)}/report.html?{fresh}")
    frame = (
        f'<p><a href="{html.escape(src)}" target="_blank" rel="noopener">'
        f'{html.escape(say(lang, "uc.open_report"))}</a> · <a href="{html.escape(md)}">Markdown</a></p>'
        f'<iframe src="{html.escape(src)}" title="model-selection report" '
        'style="width:100%;height:900px;border:1px solid #ddd"></iframe>'
    )
    where = say(lang, "uc.window", window=window.describe())
    tuned = tuned_markdown(report.tuned, lang)
    if tuned:
        where += f"\n\n{tuned}"
    if not any(c.has_data for c in report.ranked):  # nothing to rank: say what to do
        listed = sorted(report.ranked, key=lambda c: spec.variants.index(c.variant))
        return f"{say(lang, 'uc.no_data', name=name)}\n\n{where}", goal_table(listed, lang), frame
    # The recommendation is the report's own words (English), plain text.
    return (
        f"**{escape_md(report.recommendation)}**\n\n{where}",
        goal_table(report.ranked, lang),
        frame,
    )


def escape_md(text: str) -> str:
    """Plain text shown in Markdown as written (no code spans, emphasis or links)."""
    return "".join("\\" + ch if ch in "\\`*_[]<>#|" else ch for ch in text)


def answered(seen: list[Progress]) -> int:
    """Answers scored over a use case's runs (one per dataset, each counting from 0)."""
    total, last = 0, None
    for p in seen:
        if last is not None and p.done < last.done:  # the next dataset's run
            total += last.done
        last = p
    return total + (last.done if last else 0)


def progress_text(p: Progress | None, lang: str) -> str:
    if p is None:
        return say(lang, "uc.run_starting")
    return say(lang, "uc.run_progress", done=p.done, total=p.total, errors=p.errors)


def build_usecases(runtime: Runtime) -> tuple[Any, list[Any], list[Any]]:
    """Returns the loader for when the page opens, with its inputs and outputs."""
    gr.Markdown(t("uc.intro"))
    with gr.Row(equal_height=True):
        # Filled when the page opens: variant names must not be in the page the blind arena
        # is served in, and use cases change.
        chosen = gr.Dropdown([], label=t("uc.name"), elem_id="uc-name", allow_custom_value=True)
        # Filled with the chosen use case's own window (0 or empty: its own).
        days = gr.Number(None, label=t("uc.days"), minimum=0, elem_id="uc-days")
        baseline = gr.Dropdown(
            [(t("uc.own_baseline"), OWN_BASELINE)],
            value=OWN_BASELINE,
            label=t("uc.baseline"),
            allow_custom_value=True,
            elem_id="uc-baseline",
        )
        show = gr.Button(t("uc.show"), variant="primary", elem_id="uc-show")
        run = gr.Button(t("uc.run"), variant="secondary", elem_id="uc-run")
    running = gr.Markdown(elem_id="uc-progress")
    summary = gr.Markdown(elem_id="uc-summary")
    table = gr.Dataframe(  # named columns before a use case is chosen, not Gradio's "1 2 3"
        goal_table([]), interactive=False, wrap=True, elem_id="uc-status", label=t("uc.goal_status")
    )
    with gr.Accordion(t("uc.define"), open=False):
        editor = gr.Code(
            language="yaml", label=t("uc.editor"), elem_id="uc-editor", interactive=True
        )
        gr.Markdown(t("uc.example") + f"\n```yaml\n{PLACEHOLDER}```")
        apply = gr.Button(t("uc.save"), elem_id="uc-apply")
        applied = gr.Markdown(elem_id="uc-applied")
    report = gr.HTML(elem_id="uc-report")

    async def open_tab(current: str | None, request: gr.Request) -> tuple[Any, Any]:
        choices = await asyncio.to_thread(names, runtime)
        value = current if current in choices else (choices[0] if choices else None)
        # The table's headers in the reader's language (the page is built in English).
        return gr.Dropdown(choices=choices, value=value), goal_table([], request_language(request))

    def baselines(request: gr.Request, variants: list[str]) -> Any:
        own = (say(request_language(request), "uc.own_baseline"), OWN_BASELINE)
        return gr.Dropdown(choices=[own, *((v, v) for v in variants)], value=OWN_BASELINE)

    async def pick(name: str | None, request: gr.Request) -> tuple[Any, Any, Any]:
        if not name:
            return baselines(request, []), "", None
        try:
            spec = await asyncio.to_thread(usecases.get, runtime.store, name)
        except ArbiterError:
            return baselines(request, []), "", None
        return (
            baselines(request, spec.variants),
            usecases.to_yaml(spec),
            spec.window_days,
        )

    async def show_status(
        name: str | None, window_days: float | None, base: str | None, request: gr.Request
    ) -> tuple[str, Any, str]:
        lang = request_language(request)
        if not name:
            return say(lang, "uc.choose"), goal_table([], lang), ""
        try:
            link = links_for(runtime, request)
            return await asyncio.to_thread(
                status, runtime, name, window_days or None, base, link, lang
            )
        except ArbiterError as exc:
            message = f"**{exc.message}**" + (f" {exc.hint}" if exc.hint else "")
            return message, goal_table([], lang), ""

    @metered(runtime, "run a use case's datasets", scope="admin")
    async def run_usecase(
        name: str | None,
        window_days: float | None,
        base: str | None,
        request: gr.Request,
    ) -> AsyncIterator[tuple[Any, Any, Any, Any]]:
        """Answer and score the use case's datasets with all its variants (the run goes on
        if the page is closed), showing progress, then where the use case stands."""
        lang = request_language(request)
        if not name:
            yield say(lang, "uc.choose"), gr.skip(), gr.skip(), gr.skip()
            return
        try:
            spec = await asyncio.to_thread(usecases.get, runtime.store, name)
        except ArbiterError as exc:
            yield f"**{exc.message}**" + (f" {exc.hint}" if exc.hint else ""), *(gr.skip(),) * 3
            return
        seen: list[Progress] = []

        async def fill() -> None:
            await usecases.run_datasets(runtime.evals, spec, on_progress=seen.append)

        task = asyncio.create_task(fill())
        runtime.background.add(task)  # held until done: the loop keeps weak references
        task.add_done_callback(runtime.background.discard)
        while not task.done():
            yield progress_text(seen[-1] if seen else None, lang), *(gr.skip(),) * 3
            await asyncio.wait({task}, timeout=1.0)
        error = task.exception()
        if error is not None:
            message = (
                f"{error.message} {error.hint}".strip()
                if isinstance(error, ArbiterError)
                else str(error)
            )
            yield f"{say(lang, 'uc.run_failed')} {escape_md(message)}", *(gr.skip(),) * 3
            return
        done = say(lang, "uc.run_done", answers=answered(seen))
        summary_text, goals, frame = await asyncio.to_thread(
            status, runtime, name, window_days or None, base, links_for(runtime, request), lang
        )
        yield done, summary_text, goals, frame

    async def save(text: str, request: gr.Request) -> tuple[str, Any]:
        try:
            who = require(runtime, request, "admin", "define use cases")
            spec = usecases.parse_text(text or "")
            created = await asyncio.to_thread(usecases.apply, runtime.store, runtime.catalog, spec)
            await asyncio.to_thread(
                audit.record,
                runtime.store,
                None,
                "usecase.create" if created else "usecase.update",
                spec.name,
                {**spec.model_dump(), "via": "page"},
                actor=who.name,
            )
        except ArbiterError as exc:
            hint = f" {exc.hint}" if exc.hint else ""
            return (
                f"{say(request_language(request), 'uc.not_saved')} {exc.message}.{hint}",
                gr.skip(),
            )
        choices = await asyncio.to_thread(names, runtime)
        return (
            say(
                request_language(request),
                "uc.created" if created else "uc.updated",
                name=spec.name,
                variants=len(spec.variants),
                targets=len(spec.targets),
            ),
            gr.Dropdown(choices=choices, value=spec.name),
        )

    chosen.change(pick, [chosen], [baseline, editor, days], api_visibility="private")
    show.click(
        show_status, [chosen, days, baseline], [summary, table, report], api_name="usecase_status"
    )
    run.click(
        run_usecase,
        [chosen, days, baseline],
        [running, summary, table, report],
        api_name="usecase_run",
        trigger_mode="once",
    )
    apply.click(save, [editor], [applied, chosen], api_name="usecase_apply")
    return open_tab, [chosen], [chosen, table]
