"""The Tuning page: fine-tuning jobs started from the labels, their state as the cloud
reports it (Refresh moves unfinished jobs on), and a tuned variant's lineage."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import gradio as gr
import pandas as pd

from service.app import Runtime
from service.errors import ArbiterError
from service.evaluation import usecases
from service.store import tunings
from service.tuning import answer_comparison, refresh
from ui.access import require
from ui.format import escape
from ui.i18n import DEFAULT_LANGUAGE, request_language, say, t
from ui.usecases import tuned_markdown

COLUMNS = ("job", "base", "state", "said", "loss", "variant")


def job_table(rows: list[dict[str, Any]], lang: str = DEFAULT_LANGUAGE) -> pd.DataFrame:
    data = []
    for r in rows:
        said = r["cloud_status"] or ""
        if r["failure"]:
            said += f": {r['failure']}"
        loss = r["metrics"].get("training_loss")
        data.append(
            [
                r["name"],
                r["base_variant"],
                r["state"],
                said,
                "" if loss is None else f"{loss:.4g}",
                r["variant_name"] or "",
            ]
        )
    return pd.DataFrame(data, columns=[say(lang, f"tune.col.{c}") for c in COLUMNS])


def lineage_markdown(
    row: dict[str, Any], lang: str = DEFAULT_LANGUAGE, runtime: Runtime | None = None
) -> str:
    """The lineage, and with `runtime` the comparison's results so far (as the use-case
    report shows them)."""
    manifest = row["manifest"]
    records = sum(manifest.get("records", {}).values())
    serving = row["serving"]
    text = say(
        lang,
        "tune.lineage",
        name=escape(row["variant_name"] or row["name"]),
        method=row["method"],
        target=row["target"],
        base=escape(row["base_variant"]),
        model=escape(row["base_model"]),
        job=escape(row["job_arn"] or "—"),
        sha=row["dataset_sha256"],
        records=records,
        votes=len(manifest.get("votes", [])),
        ideals=len(manifest.get("ideal_answers", [])),
        options=escape(json.dumps(row["export_options"], sort_keys=True)),
        hps=escape(json.dumps(row["hyperparameters"], sort_keys=True)),
        serving=escape(f"{serving.get('kind', '—')} {row['serving_arn'] or ''}".strip()),
        campaign=escape(row["campaign_name"] or "—"),
        runs=escape(", ".join(row["eval_run_ids"]) or "—"),
    )
    if serving.get("kind") == "provisioned" and not serving.get("price_accepted"):
        text += "\n\n" + say(
            lang, "tune.price", price=f"{serving['usd_per_hour']:.2f}", name=row["name"]
        )
    if runtime is not None and row["variant_name"]:
        text += "\n\n" + tuned_markdown([usecases.tuned_comparison(runtime.store, row)], lang)
    return text


def build_tuning(runtime: Runtime) -> tuple[Any, list[Any], list[Any]]:
    """Returns the loader for when the page opens, with its inputs and outputs."""
    gr.Markdown(t("tune.intro"))
    with gr.Row(equal_height=True):
        chosen = gr.Dropdown([], label=t("tune.pick"), elem_id="tune-pick")
        again = gr.Button(t("tune.refresh"), variant="primary", elem_id="tune-refresh")
    table = gr.Dataframe(  # headers until the page's language is known (then translated)
        job_table([]),
        interactive=False,
        wrap=True,
        elem_id="tune-jobs",
        label=t("tune.jobs"),
    )
    lineage = gr.Markdown(elem_id="tune-lineage")

    def _listing(lang: str, current: str | None) -> tuple[Any, Any, str]:
        rows = tunings.list_tunings(runtime.store)
        if not rows:
            return gr.Dropdown(choices=[], value=None), job_table([], lang), say(lang, "tune.none")
        names = [r["name"] for r in rows]
        pick = current if current in names else names[0]
        row = next(r for r in rows if r["name"] == pick)
        return (
            gr.Dropdown(choices=names, value=pick),
            job_table(rows, lang),
            lineage_markdown(row, lang, runtime),
        )

    async def show(current: str | None, request: gr.Request) -> tuple[Any, Any, str]:
        lang = request_language(request)
        try:
            require(runtime, request, "admin", "see tuning jobs")
            return await asyncio.to_thread(_listing, lang, current)
        except ArbiterError as exc:
            gr.Warning(exc.message)
            return gr.Dropdown(), job_table([], lang), ""

    async def _answer(tuning_id: str) -> None:
        await answer_comparison(runtime.store, runtime.engine, runtime.evals, tuning_id)

    async def move_on(current: str | None, request: gr.Request) -> tuple[Any, Any, str]:
        lang = request_language(request)
        try:
            require(runtime, request, "admin", "refresh tuning jobs")
            for row in await asyncio.to_thread(
                tunings.list_tunings, runtime.store, active_only=True
            ):
                after = await asyncio.to_thread(
                    refresh,
                    runtime.store,
                    runtime.catalog,
                    runtime.tuning_clients,
                    row["id"],
                    runner=runtime.evals,
                )
                if after["state"] == "done":
                    task = asyncio.create_task(_answer(row["id"]))
                    runtime.background.add(task)
                    task.add_done_callback(runtime.background.discard)
        except ArbiterError as exc:
            gr.Warning(exc.message)
        return await asyncio.to_thread(_listing, lang, current)

    async def pick(name: str | None, request: gr.Request) -> str:
        lang = request_language(request)
        if not name:
            return ""
        try:
            require(runtime, request, "admin", "see tuning jobs")
            row = await asyncio.to_thread(tunings.get_tuning, runtime.store, name)
            return await asyncio.to_thread(lineage_markdown, row, lang, runtime)
        except ArbiterError as exc:
            return escape(exc.message)

    again.click(move_on, [chosen], [chosen, table, lineage], api_name="tuning_refresh")
    chosen.input(pick, [chosen], [lineage], api_visibility="private")
    return show, [chosen], [chosen, table, lineage]
