"""The Export page: labels as a training dataset, with a dry run first."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

from evals.exports import FORMATS
from service.access import audit
from service.app import Runtime
from service.errors import ArbiterError
from service.labels import ExportOptions, ExportSummary, export, prepare
from service.store import Filters
from ui.access import require
from ui.format import escape

ANY = "all"


def _summary_markdown(summary: ExportSummary, *, dry: bool) -> str:
    def items(d: dict[str, int]) -> str:
        return ", ".join(f"{escape(k)}: {v}" for k, v in d.items()) or "none"

    head = "Dry run, nothing written." if dry else "Written."
    return (
        f"**{summary.records} records** of `{summary.format}`. {head}  \n"
        f"Splits: {items(summary.splits)} · balance: {items(summary.balance)}  \n"
        f"Skipped: {items(summary.skipped)} · duplicates dropped: {summary.duplicates} · "
        f"redacted: {items(summary.redactions)}"
    )


def build_exports(runtime: Runtime) -> None:
    gr.Markdown(
        "Votes, ratings and ideal answers as a training dataset. Each record keeps its "
        "provenance (turn, variants, parameters, RAG chunks, panes, rater, time); personal "
        "data (emails, phone numbers, keys) is redacted unless you turn it off."
    )
    with gr.Row():
        fmt = gr.Dropdown(
            [(f"{name}: {f.description}", name) for name, f in FORMATS.items()],
            value="trl-preference",
            label="Format",
            elem_id="export-format",
        )
        suffix = gr.Radio(
            [".jsonl", ".parquet"], value=".jsonl", label="File", elem_id="export-file"
        )
        mode = gr.Radio(
            [ANY, "arena", "named"], value=ANY, label="Votes from", elem_id="export-mode"
        )
    with gr.Row():
        test_fraction = gr.Slider(0, 0.5, value=0, step=0.05, label="Test split (share of prompts)")
        exclude_ties = gr.Checkbox(label="KTO: leave out ties and both-bad")
        redact = gr.Checkbox(value=True, label="Redact personal data")
    with gr.Row():
        dry = gr.Button("Dry run", elem_id="export-dry")
        go = gr.Button("Export", variant="primary", elem_id="export-go")
    summary = gr.Markdown(elem_id="export-summary")
    files = gr.File(label="Files", file_count="multiple", interactive=False, elem_id="export-files")

    def options(f: str, m: str, t: float, ties: bool, red: bool) -> ExportOptions:
        return ExportOptions(
            format=f,
            filters=Filters(mode=None if m == ANY else m),  # type: ignore[arg-type]
            exclude_ties=ties,
            redact=red,
            test_fraction=float(t),
        )

    async def do_dry(f: str, m: str, t: float, ties: bool, red: bool, request: gr.Request) -> Any:
        try:
            require(runtime, request, "export", "export training data")
            _, result = await asyncio.to_thread(prepare, runtime.store, options(f, m, t, ties, red))
        except ArbiterError as exc:
            gr.Warning(f"{exc.message} {exc.hint}".strip())
            return gr.skip()
        return _summary_markdown(result, dry=True)

    async def do_export(
        f: str, sfx: str, m: str, t: float, ties: bool, red: bool, request: gr.Request
    ) -> tuple[Any, Any]:
        folder = Path(tempfile.mkdtemp(prefix="arbiter-export-"))
        try:
            who = require(runtime, request, "export", "export training data")
            result = await asyncio.to_thread(
                export, runtime.store, options(f, m, t, ties, red), str(folder / f"{f}{sfx}")
            )
            await asyncio.to_thread(
                audit.record,
                runtime.store,
                None,
                "export",
                f,
                {"records": result.records, "via": "page", "redact": red},
                actor=who.name,
            )
        except ArbiterError as exc:
            gr.Warning(f"{exc.message} {exc.hint}".strip())
            return gr.skip(), gr.skip()
        return _summary_markdown(result, dry=False), result.files

    dry.click(
        do_dry,
        [fmt, mode, test_fraction, exclude_ties, redact],
        [summary],
        api_name="export_dry_run",
    )
    go.click(
        do_export,
        [fmt, suffix, mode, test_fraction, exclude_ties, redact],
        [summary, files],
        api_name="export",
    )
