"""The Evaluations page: start a batch run (bundled example or an uploaded dataset), watch
its progress, read its report (the same self-contained HTML as `arbiter eval report`)."""

from __future__ import annotations

import asyncio
import html
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import gradio as gr
import pandas as pd

from evals.datasets import EXAMPLE_DATASET, load_dataset
from evals.errors import DatasetError
from evals.registry import METRIC_NAMES
from service.app import Runtime
from service.errors import ArbiterError
from service.evaluation import BACKENDS, ONLINE
from service.schemas import RagRequest
from service.store import eval_runs
from ui.access import Link, links_for, metered, require
from ui.board import collection_names
from ui.i18n import DEFAULT_LANGUAGE, request_language, say, t

# The columns of the runs table (keys of ui/i18n.py): what a reader scans for first; the
# run's id, long, last.
RUN_COLUMNS = [
    "eval.col_status",
    "eval.col_answers",
    "eval.col_dataset",
    "eval.col_variants",
    "eval.col_metrics",
    "eval.col_started",
    "eval.col_run",
]
STATUS_WORDS = {"running": "eval.status_running", "done": "eval.status_done"}
NO_CONTEXT = "(no retrieval)"


def _status(lang: str, status: str) -> str:
    key = STATUS_WORDS.get(status, "eval.status_failed" if status == "failed" else "")
    return say(lang, key) if key else status


def _dataset(run: dict[str, Any]) -> str:
    """The run's name; for a run named by its dataset file, the file's name alone (the
    server path of an upload says nothing to the reader and is long)."""
    name = str(run["name"])
    return Path(name).name if name == run["dataset_path"] else name


def _runs(runtime: Runtime, lang: str = DEFAULT_LANGUAGE) -> pd.DataFrame:
    rows = [
        [
            _status(lang, r["status"]),
            f"{r['stored']}/{r['total']}",
            _dataset(r),
            ", ".join(r["variants"]),
            ", ".join(r["metrics"]),
            r["created_at"].strftime("%Y-%m-%d %H:%M"),
            r["id"],
        ]
        for r in eval_runs.list_runs(runtime.store, 50)
    ]
    return pd.DataFrame(rows, columns=[say(lang, c) for c in RUN_COLUMNS])


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def progress_html(run: dict[str, Any], lang: str, failure: str | None = None) -> str:
    """One run's progress: its state and answer counts first (short, so they stay on the
    screen at any width), a progress bar, the time taken, then what the run is."""
    status, done, total, errors = run["status"], run["stored"], run["total"], run["errors"]
    started = run["created_at"]
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    ended = run["finished_at"] or datetime.now(UTC)
    if ended.tzinfo is None:
        ended = ended.replace(tzinfo=UTC)
    elapsed = (ended - started).total_seconds()
    counts = say(lang, "eval.progress_counts", done=done, total=total)
    if errors:
        counts += " · " + say(lang, "eval.progress_errors", errors=errors)
    timing = say(lang, "eval.progress_elapsed", time=_clock(elapsed))
    if status == "running" and 0 < done < total:
        timing += " · " + say(
            lang, "eval.progress_left", time=_clock(elapsed / done * (total - done))
        )
    next_step = {
        "running": say(lang, "eval.progress_running_next"),
        "done": say(lang, "eval.progress_done_next"),
        "failed": say(lang, "eval.progress_failed_next"),
    }.get(status, "")
    reason = f"<div>{html.escape(failure)}</div>" if failure else ""
    value = "" if status == "running" and done == 0 else f' value="{done}"'  # none: indeterminate
    small = 'style="font-size:.9em;opacity:.8"'
    return (
        f'<div class="eval-progress" data-status="{html.escape(status)}" '
        'style="border:1px solid #c7d2fe;border-radius:8px;padding:.6em .8em;margin:.5em 0">'
        f'<div class="eval-progress-head"><strong>{html.escape(_status(lang, status))}</strong>'
        f" · {html.escape(counts)}</div>"
        f'<progress max="{max(total, 1)}"{value} style="width:100%;height:1em"></progress>'
        f"<div {small}>{html.escape(timing)}</div>{reason}"
        f"<div>{_code(html.escape(next_step))}</div>"
        f"<div {small}>{html.escape(_dataset(run))} · {html.escape(', '.join(run['variants']))}"
        f'<br><span class="eval-progress-id" style="word-break:break-all">'
        f"{html.escape(run['id'])}</span></div></div>"
    )


def _code(text: str) -> str:
    """`command` in a message as code, not literal backticks."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)


def _progress(runtime: Runtime, run_id: str, lang: str) -> str:
    """The progress of the run followed (empty: none)."""
    if not run_id or "/" in run_id:
        return ""
    try:
        run = eval_runs.progress(runtime.store, run_id)
    except ArbiterError:
        return ""
    return progress_html(run, lang, runtime.evals.failures.get(run_id))


def _report_frame(run_id: str, link: Link) -> str:
    """The report in a frame, by links signed for the viewer (the frame's request carries
    the page's sign-in cookie, not an API key)."""
    base = f"/api/eval-runs/{quote(run_id, safe='')}/report"
    src, md = html.escape(link(f"{base}.html")), html.escape(link(f"{base}.md"))
    return (
        f'<p><a href="{src}" target="_blank" rel="noopener">Open the report in a new tab</a> · '
        f'<a href="{md}">Markdown</a></p>'
        f'<iframe src="{src}" title="report" style="width:100%;height:900px;border:1px solid #ddd">'
        "</iframe>"
    )


def build_evaluations(runtime: Runtime) -> tuple[Any, list[Any], list[Any]]:
    """Returns the loader for when the page opens, with its inputs and outputs."""
    gr.Markdown(t("eval.intro"))
    with gr.Row():
        upload = gr.File(
            label=t("eval.dataset"), file_types=[".jsonl", ".csv"], elem_id="eval-dataset"
        )
        with gr.Column():
            # Filled when the page opens: variant names must not be in the page the blind
            # arena is served in.
            variants = gr.Dropdown(
                [],
                multiselect=True,
                allow_custom_value=True,  # checked by the run (unknown names get a clear message)
                label=t("eval.variants"),
                elem_id="eval-variants",
            )
            metrics = gr.CheckboxGroup(
                list(METRIC_NAMES),
                value=["rouge_l", "token_f1", "faithfulness_overlap", "context_recall_match"],
                label=t("eval.metrics"),
                elem_id="eval-metrics",
            )
        with gr.Column():
            collection = gr.Dropdown(
                [NO_CONTEXT, *collection_names(runtime)],
                value="sample" if "sample" in collection_names(runtime) else NO_CONTEXT,
                label=t("eval.collection"),
                elem_id="eval-collection",
            )
            judge = gr.Dropdown(
                [""],
                value="",
                label=t("eval.judge"),
                elem_id="eval-judge",
            )
            backend = gr.Radio(
                list(BACKENDS),
                value=ONLINE,
                label=t("eval.backend"),
                info=t("eval.backend_info"),
                elem_id="eval-backend",
            )
            start = gr.Button(t("eval.start"), variant="primary", elem_id="eval-start")
            # What the run started here (or the run clicked) is doing, under the button that
            # started it: updated every 2 s while it runs, then finished or failed.
            status = gr.HTML(elem_id="eval-status")
    runs = gr.Dataframe(
        headers=[say(DEFAULT_LANGUAGE, c) for c in RUN_COLUMNS],
        interactive=False,
        wrap=True,
        elem_id="eval-runs",
        label=t("eval.runs"),
    )
    with gr.Row():
        run_id = gr.Textbox(label=t("eval.run_id"), elem_id="eval-run-id", scale=3)
        show = gr.Button(t("eval.show"), elem_id="eval-show", scale=1)
    report = gr.HTML(elem_id="eval-report")
    timer = gr.Timer(2.0, active=False)

    def table_and_progress(followed: str, lang: str) -> tuple[pd.DataFrame, str, bool]:
        rows = _runs(runtime, lang)
        running = _status(lang, "running")
        return rows, _progress(runtime, followed, lang), bool((rows.iloc[:, 0] == running).any())

    async def refresh(followed: str, request: gr.Request) -> tuple[Any, Any, Any]:
        lang = request_language(request)
        rows, note, active = await asyncio.to_thread(
            table_and_progress, (followed or "").strip(), lang
        )
        return rows, note, gr.Timer(active=active)

    async def load(chosen: list[str] | None, followed: str, request: gr.Request) -> tuple[Any, ...]:
        names = runtime.catalog.names()
        keep = [n for n in chosen or [] if n in names] or names[:2]
        lang = request_language(request)
        followed = (followed or "").strip()
        rows, note, active = await asyncio.to_thread(table_and_progress, followed, lang)
        if not followed and active:  # a run under way (started elsewhere): follow it
            followed = str(rows.iloc[(rows.iloc[:, 0] == _status(lang, "running")).argmax(), -1])
            note = await asyncio.to_thread(_progress, runtime, followed, lang)
        return (
            rows,
            gr.Timer(active=active),
            gr.Dropdown(choices=names, value=keep),
            gr.Dropdown(choices=["", *names]),
            note,
            followed or gr.skip(),
        )

    @metered(runtime, "start eval runs")
    async def do_start(
        path: str | None,
        chosen: list[str],
        names: list[str],
        coll: str,
        judge_name: str,
        backend_name: str,
        request: gr.Request,
    ) -> tuple[Any, Any, Any, Any]:
        lang = request_language(request)
        if not chosen:
            gr.Warning(say(lang, "eval.warn_variants"))
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        try:
            require(runtime, request, "admin", "start eval runs")
            dataset = await asyncio.to_thread(load_dataset, Path(path) if path else EXAMPLE_DATASET)
            new = await runtime.evals.start_in_background(
                dataset,
                chosen,
                names,
                judge=judge_name or None,
                rag=RagRequest(collection=coll) if coll and coll != NO_CONTEXT else None,
                backend=backend_name or ONLINE,
            )
        except (DatasetError, ArbiterError) as exc:
            message = exc.message if isinstance(exc, ArbiterError) else str(exc)
            hint = exc.hint if isinstance(exc, ArbiterError) else ""
            gr.Warning(f"{message} {hint}".strip())
            return f"<p>❌ {html.escape(message)}</p>", gr.skip(), gr.skip(), gr.skip()
        rows, note, _ = await asyncio.to_thread(table_and_progress, new, lang)
        return note, rows, gr.Timer(active=True), new

    def pick(evt: gr.SelectData, rows: Any) -> Any:
        row = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
        try:
            return str(rows.iloc[row, -1])  # the run's id: the last column
        except (IndexError, AttributeError, TypeError):
            return gr.skip()

    def do_show(chosen: str, request: gr.Request) -> str:
        chosen = (chosen or "").strip()
        if not chosen or "/" in chosen:
            gr.Warning(say(request_language(request), "eval.warn_run"))
            return ""
        return _report_frame(chosen, links_for(runtime, request))

    start.click(
        do_start,
        [upload, variants, metrics, collection, judge, backend],
        [status, runs, timer, run_id],
        api_name="eval_start",
    )
    timer.tick(refresh, [run_id], [runs, status, timer], api_visibility="private")
    # A run picked in the table: its progress too.
    runs.select(pick, [runs], [run_id], api_visibility="private").then(
        refresh, [run_id], [runs, status, timer], api_visibility="private"
    )
    show.click(do_show, [run_id], [report], api_name="eval_report")
    return load, [variants, run_id], [runs, timer, variants, judge, status, run_id]
