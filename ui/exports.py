"""The Export page: labels as a training dataset, with a dry run first."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import gradio as gr

from evals.exports import FORMATS
from service.access import audit
from service.app import Runtime
from service.errors import ArbiterError
from service.labels import ExportOptions, ExportSummary, detailed_dry_run, dry_run, export
from service.store import Filters
from ui.access import require
from ui.format import escape
from ui.i18n import DEFAULT_LANGUAGE, request_language, say, t

ANY = "all"
# A dry run first counts from aggregates (instant at any size); up to this many records it
# then reads them all to count duplicates and redactions too, with a progress bar.
DETAIL_LIMIT = 20_000


def _summary_markdown(summary: ExportSummary, *, dry: bool, lang: str = DEFAULT_LANGUAGE) -> str:
    """What an export holds. (Split, class and skip names are the dataset's own words.)"""

    def items(key: str, d: dict[str, int]) -> str:
        if key in summary.not_counted:
            return say(lang, "export.when_written")
        return ", ".join(f"{escape(k)}: {v}" for k, v in d.items()) or say(lang, "export.none")

    duplicates = (
        say(lang, "export.when_written")
        if "duplicates" in summary.not_counted
        else str(summary.duplicates)
    )
    return say(
        lang,
        "export.summary",
        records=summary.records,
        format=summary.format,
        head=say(lang, "export.dry" if dry else "export.written"),
        splits=items("splits", summary.splits),
        balance=items("balance", summary.balance),
        skipped=items("skipped", summary.skipped),
        duplicates=duplicates,
        redacted=items("redactions", summary.redactions),
    )


def _reporter(progress: gr.Progress, lang: str) -> Any:
    desc, unit = say(lang, "export.labels_read"), say(lang, "export.labels")

    def report(done: int, total: int) -> None:
        progress((done, total), desc=desc, unit=unit)

    return report


def build_exports(runtime: Runtime) -> None:
    gr.Markdown(t("export.intro"))
    with gr.Row():
        fmt = gr.Dropdown(
            [(f"{name}: {f.description}", name) for name, f in FORMATS.items()],
            value="trl-preference",
            label=t("export.format"),
            elem_id="export-format",
            min_width=320,  # the format's description stays readable; on a phone, a row alone
        )
        suffix = gr.Radio(
            [".jsonl", ".parquet"], value=".jsonl", label=t("export.file"), elem_id="export-file"
        )
        mode = gr.Radio(
            [(t("lb.all"), ANY), (t("lb.arena"), "arena"), (t("lb.named"), "named")],
            value=ANY,
            label=t("export.votes_from"),
            elem_id="export-mode",
            min_width=220,
        )
    with gr.Row():
        test_fraction = gr.Slider(
            0, 0.5, value=0, step=0.05, label=t("export.test_split"), min_width=240
        )
        with gr.Column(min_width=240):  # a checkbox alone ignores min_width: its label wrapped
            exclude_ties = gr.Checkbox(label=t("export.exclude_ties"))
            redact = gr.Checkbox(value=True, label=t("export.redact"))
    with gr.Row():
        dry = gr.Button(t("export.dry_run"), elem_id="export-dry")
        go = gr.Button(t("export.export"), variant="primary", elem_id="export-go")
    summary = gr.Markdown(elem_id="export-summary")
    files = gr.File(
        label=t("export.files"), file_count="multiple", interactive=False, elem_id="export-files"
    )

    def options(f: str, m: str, t: float, ties: bool, red: bool) -> ExportOptions:
        return ExportOptions(
            format=f,
            filters=Filters(mode=None if m == ANY else m),  # type: ignore[arg-type]
            exclude_ties=ties,
            redact=red,
            test_fraction=float(t),
        )

    async def do_dry(
        f: str,
        m: str,
        t: float,
        ties: bool,
        red: bool,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),
    ) -> AsyncIterator[Any]:
        try:
            require(runtime, request, "export", "export training data")
            lang = request_language(request)
            chosen = options(f, m, t, ties, red)
            result = await asyncio.to_thread(dry_run, runtime.store, chosen)
            if result.records > DETAIL_LIMIT:
                yield _summary_markdown(result, dry=True, lang=lang)
                return
            yield _summary_markdown(result, dry=True, lang=lang) + say(lang, "export.counting")
            result = await asyncio.to_thread(
                detailed_dry_run, runtime.store, chosen, _reporter(progress, lang)
            )
        except ArbiterError as exc:
            gr.Warning(f"{exc.message} {exc.hint}".strip())
            yield gr.skip()
            return
        yield _summary_markdown(result, dry=True, lang=lang)

    async def do_export(
        f: str,
        sfx: str,
        m: str,
        t: float,
        ties: bool,
        red: bool,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),
    ) -> tuple[Any, Any]:
        folder = Path(tempfile.mkdtemp(prefix="arbiter-export-"))
        try:
            who = require(runtime, request, "export", "export training data")
            result = await asyncio.to_thread(
                export,
                runtime.store,
                options(f, m, t, ties, red),
                str(folder / f"{f}{sfx}"),
                progress=_reporter(progress, request_language(request)),
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
        return _summary_markdown(result, dry=False, lang=request_language(request)), result.files

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
