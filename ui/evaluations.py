"""The Evaluations page: start a batch run (bundled example or an uploaded dataset), watch
its progress, read its report (the same self-contained HTML as `arbiter eval report`)."""

from __future__ import annotations

import asyncio
import html
from pathlib import Path
from typing import Any
from urllib.parse import quote

import gradio as gr

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
from ui.i18n import request_language, say, t

RUN_COLUMNS = ["run", "name", "variants", "metrics", "status", "answers", "started (UTC)"]
NO_CONTEXT = "(no retrieval)"


def _runs(runtime: Runtime) -> list[list[Any]]:
    return [
        [
            r["id"],
            r["name"],
            ", ".join(r["variants"]),
            ", ".join(r["metrics"]),
            r["status"],
            f"{r['stored']}/{r['total']}",
            r["created_at"].strftime("%Y-%m-%d %H:%M"),
        ]
        for r in eval_runs.list_runs(runtime.store, 50)
    ]


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
    status = gr.Markdown(elem_id="eval-status")
    runs = gr.Dataframe(
        headers=RUN_COLUMNS, interactive=False, wrap=True, elem_id="eval-runs", label=t("eval.runs")
    )
    with gr.Row():
        run_id = gr.Textbox(label=t("eval.run_id"), elem_id="eval-run-id", scale=3)
        show = gr.Button(t("eval.show"), elem_id="eval-show", scale=1)
    report = gr.HTML(elem_id="eval-report")
    timer = gr.Timer(2.0, active=False)

    async def refresh() -> tuple[Any, Any]:
        rows = await asyncio.to_thread(_runs, runtime)
        return rows, gr.Timer(active=any(r[4] == "running" for r in rows))

    async def load(chosen: list[str] | None) -> tuple[Any, ...]:
        names = runtime.catalog.names()
        keep = [n for n in chosen or [] if n in names] or names[:2]
        rows, active = await refresh()
        return (
            rows,
            active,
            gr.Dropdown(choices=names, value=keep),
            gr.Dropdown(choices=["", *names]),
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
            return f"❌ {html.escape(message)}", gr.skip(), gr.skip(), gr.skip()
        rows, active = await refresh()
        note = say(
            lang, "eval.started", run=new, examples=len(dataset.examples), variants=len(chosen)
        )
        return note, rows, active, new

    def pick(evt: gr.SelectData, rows: Any) -> Any:
        row = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
        try:
            return str(rows.iloc[row, 0])
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
    timer.tick(refresh, None, [runs, timer], api_visibility="private")
    runs.select(pick, [runs], [run_id], api_visibility="private")
    show.click(do_show, [run_id], [report], api_name="eval_report")
    return load, [variants], [runs, timer, variants, judge]
