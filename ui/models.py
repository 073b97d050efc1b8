"""The Models page (admins): the models the AWS account offers — Bedrock foundation models
and inference profiles, SageMaker endpoints and inference components with the payload
adapter their image speaks — and one click to make any of them a variant, in the comparison
pickers at once (stored, like a variant created through the API)."""

from __future__ import annotations

import asyncio
from typing import Any

import gradio as gr
import pandas as pd

from service.app import Runtime, create_variant
from service.errors import ArbiterError
from service.models import ADAPTERS, AwsTarget, Discovery, discover, discovered_variant
from ui.access import require
from ui.i18n import request_language, say, t

SERVICES = [("Amazon Bedrock", "bedrock"), ("Amazon SageMaker", "sagemaker")]
AUTO = "auto"
COLUMN_KEYS = (
    "models.col_id",
    "models.col_provider",
    "models.col_modalities",
    "models.col_streaming",
    "models.col_adapter",
    "models.col_notes",
)


def discovery_frame(found: Discovery, lang: str) -> pd.DataFrame:
    rows = [
        [
            m.id,
            m.provider,
            f"{', '.join(m.input_modalities)} → {', '.join(m.output_modalities)}",
            "?" if m.streaming is None else say(lang, "models.yes" if m.streaming else "models.no"),
            m.adapter or "—",
            (m.note + (f" · {m.image}" if m.image else "")).strip(" ·"),
        ]
        for m in found.models
    ]
    columns = [say(lang, key) for key in COLUMN_KEYS]
    return pd.DataFrame(rows, columns=columns)


def discovery_summary(found: Discovery, lang: str) -> str:
    where = found.region or say(lang, "models.default_region")
    lines = [say(lang, "models.found", count=len(found.models), region=where)]
    for p in found.problems:
        lines.append(
            say(lang, "models.problem", service=p.service, code=p.code, message=p.message)
            + (f" {p.hint}" if p.hint else "")
        )
    return "\n\n".join(lines)


def build_models(runtime: Runtime) -> None:
    gr.Markdown(t("models.intro"))
    with gr.Row(equal_height=True):
        services = gr.CheckboxGroup(
            SERVICES,
            value=["bedrock", "sagemaker"],
            label=t("models.services"),
            elem_id="discover-services",
        )
        region = gr.Textbox(
            label=t("models.region"),
            placeholder=t("models.region_placeholder"),
            max_length=32,
            elem_id="discover-region",
        )
        find = gr.Button(t("models.discover"), variant="primary", elem_id="discover-run")
    summary = gr.Markdown(elem_id="discover-summary")
    with gr.Column(visible=False) as listed:  # shown once there is a discovery to list
        table = gr.Dataframe(
            interactive=False, wrap=True, elem_id="discover-table", show_label=False
        )
    with gr.Row(equal_height=True):
        chosen = gr.Dropdown([], label=t("models.pick"), elem_id="discover-pick")
        name = gr.Textbox(
            label=t("models.name"),
            placeholder=t("models.name_placeholder"),
            max_length=64,
            elem_id="discover-name",
        )
        adapter = gr.Dropdown(
            [AUTO, *ADAPTERS], value=AUTO, label=t("models.adapter"), elem_id="discover-adapter"
        )
        add = gr.Button(t("models.add"), elem_id="discover-add")
    added = gr.Markdown(elem_id="discover-added")

    async def do_discover(
        wanted: list[str], where: str, request: gr.Request
    ) -> tuple[str, Any, Any]:
        lang = request_language(request)
        try:
            require(runtime, request, "admin", "discover models")
        except ArbiterError as exc:
            gr.Warning(f"{exc.message} {exc.hint}".strip())
            return gr.skip(), gr.skip(), gr.skip()
        if not wanted:
            gr.Warning(say(lang, "models.pick_service"))
            return gr.skip(), gr.skip(), gr.skip()
        found = await asyncio.to_thread(
            discover,
            AwsTarget.of(runtime.settings, region=(where or "").strip() or None),
            bedrock="bedrock" in wanted,
            sagemaker="sagemaker" in wanted,
        )
        ids = [m.id for m in found.models]
        return (
            discovery_summary(found, lang),
            discovery_frame(found, lang),
            gr.Dropdown(choices=ids, value=ids[0] if ids else None),
        )

    async def do_add(
        ident: str | None, wanted_name: str, how: str, where: str, request: gr.Request
    ) -> str:
        lang = request_language(request)
        if not ident:
            return say(lang, "models.pick_first")
        try:
            who = require(runtime, request, "admin", "add variants")
            variant = await asyncio.to_thread(
                discovered_variant,
                AwsTarget.of(runtime.settings, region=(where or "").strip() or None),
                ident,
                name=(wanted_name or "").strip() or None,
                adapter=None if how in (AUTO, None) else how,  # type: ignore[arg-type]
            )
            await asyncio.to_thread(
                create_variant,
                runtime,
                variant,
                actor=who.name,
                detail={"discovered": ident, "via": "page"},
            )
        except ArbiterError as exc:
            return say(lang, "models.not_added", message=exc.message) + (
                f" {exc.hint}" if exc.hint else ""
            )
        return say(lang, "models.added", name=variant.name, model=variant.model_label)

    def show_listing(frame: pd.DataFrame | None) -> Any:
        return gr.Column(visible=frame is not None and not frame.empty and frame.shape[1] > 3)

    find.click(do_discover, [services, region], [summary, table, chosen], api_name="discover").then(
        show_listing, [table], [listed], api_visibility="private"
    )
    add.click(do_add, [chosen, name, adapter, region], [added], api_name="discover_add")
