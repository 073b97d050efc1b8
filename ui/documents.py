"""The Documents page: collections for RAG — upload, list, delete, re-index, try a search."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from rag import IngestOutcome, Library, NotIngestible
from rag.loaders import SUPPORTED
from rag.sources import read_limited
from service.app import Runtime
from service.documents import call
from service.errors import ArbiterError
from ui.access import links_for, metered, require
from ui.context import context_markdown
from ui.format import escape
from ui.i18n import DEFAULT_LANGUAGE, request_language, say, t

DOC_COLUMN_KEYS = [
    "docs.col_id",
    "docs.col_document",
    "docs.col_type",
    "docs.col_chunks",
    "docs.col_kib",
    "docs.col_updated",
]
DOC_COLUMNS = [say(DEFAULT_LANGUAGE, key) for key in DOC_COLUMN_KEYS]
STATUS_ICON = {
    "added": "✅",
    "replaced": "🔁",
    "unchanged": "·",
    "duplicate": "⚠️",
    "rejected": "❌",
}


def _rows(library: Library, collection: str | None) -> list[list[Any]]:
    if not collection:
        return []
    return [
        [
            d.id,
            d.source,
            d.doc_type.lstrip("."),
            d.chunks,
            round(d.size_bytes / 1024, 1),
            d.updated_at.strftime("%Y-%m-%d %H:%M"),
        ]
        for d in call(library.documents, collection)
    ]


def _summary(library: Library, collection: str | None, lang: str = DEFAULT_LANGUAGE) -> str:
    if not collection:
        return say(lang, "docs.no_collection")
    info = call(library.collection, collection)
    if info.kind == "knowledge_base" and info.knowledge_base:
        return say(
            lang,
            "docs.summary_kb",
            name=escape(info.name),
            kb=escape(info.knowledge_base.knowledge_base_id),
        )
    return say(
        lang,
        "docs.summary",
        name=escape(info.name),
        documents=info.documents,
        chunks=info.chunks,
        model=escape(info.embedder.name),
        dimensions=info.embedder.dimensions,
        size=info.chunking.size_tokens,
        overlap=info.chunking.overlap_tokens,
    )


def _outcomes(outcomes: list[IngestOutcome], lang: str = DEFAULT_LANGUAGE) -> str:
    """One line per file: what became of it, and for a rejected one why and what to do.
    (The reasons are the service's, in English.)"""
    rejected = sum(o.status == "rejected" for o in outcomes)
    head = (
        say(
            lang,
            "docs.rejected_head",
            read=len(outcomes) - rejected,
            files=len(outcomes),
            rejected=rejected,
        )
        if rejected
        else ""
    )
    lines = [
        f"{STATUS_ICON[o.status]} **{escape(Path(o.source).name)}** — {o.status}"
        + (f", {o.chunks} chunks" if o.chunks else "")
        + (f" (`{escape(o.code)}`)" if o.code else "")
        + (f": {escape(o.message)}" if o.message else "")
        + (f" {escape(o.hint)}" if o.hint else "")
        for o in outcomes
    ]
    return "  \n".join([head, *lines] if head else lines)


def build_documents(runtime: Runtime) -> tuple[Any, list[Any], list[Any]]:
    """Returns (refresh, its outputs' inputs, outputs), for when the page opens."""
    library = runtime.library
    gr.Markdown(t("docs.intro"))
    with gr.Row(equal_height=True):
        collection = gr.Dropdown(
            choices=[],
            label=t("docs.collection"),
            allow_custom_value=False,
            scale=2,
            elem_id="docs-collection",
        )
        new_name = gr.Textbox(
            label=t("docs.new_collection"),
            placeholder=t("docs.new_collection_placeholder"),
            max_length=64,
            scale=2,
            elem_id="docs-new-name",
        )
    summary = gr.Markdown(elem_id="docs-summary")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            files = gr.File(
                file_count="multiple",
                file_types=SUPPORTED,
                label=t("docs.upload") + ": " + ", ".join(SUPPORTED),
                elem_id="docs-files",
            )
            text_column = gr.Textbox(
                label=t("docs.text_column"),
                placeholder="text",
                max_length=128,
            )
            ingest = gr.Button(t("docs.add"), variant="primary", elem_id="docs-ingest")
        outcome = gr.Markdown(elem_id="docs-outcome")
    table = gr.Dataframe(
        headers=DOC_COLUMNS,
        value=[],
        interactive=False,
        wrap=True,
        label=t("docs.documents"),
        elem_id="docs-table",
    )
    with gr.Row(equal_height=True):
        doc_id = gr.Number(
            label=t("docs.document_id"), precision=0, minimum=1, elem_id="docs-doc-id"
        )
        delete = gr.Button(t("docs.delete"), variant="stop", elem_id="docs-delete")
        reindex = gr.Button(t("docs.reindex"), elem_id="docs-reindex")
    with gr.Accordion(t("docs.try_search"), open=False, elem_id="docs-search-panel"):
        with gr.Row(equal_height=True):
            query = gr.Textbox(
                label=t("docs.query"),
                scale=4,
                elem_id="docs-query",
                placeholder=t("docs.query_placeholder"),
            )
            mode = gr.Radio(["hybrid", "vector", "lexical"], value="hybrid", label=t("docs.mode"))
            search = gr.Button(t("docs.search"), elem_id="docs-search")
        results = gr.Markdown(elem_id="docs-results")

    def refresh(selected: str | None, lang: str) -> tuple[Any, Any, Any]:
        names = [c.name for c in call(library.collections)]
        chosen = selected if selected in names else (names[0] if names else None)
        return (
            gr.Dropdown(choices=names, value=chosen),
            _summary(library, chosen, lang),
            pd.DataFrame(
                _rows(library, chosen), columns=[say(lang, key) for key in DOC_COLUMN_KEYS]
            ),
        )

    async def do_refresh(selected: str | None, request: gr.Request) -> tuple[Any, Any, Any]:
        try:
            return await asyncio.to_thread(refresh, selected, request_language(request))
        except ArbiterError as exc:
            gr.Warning(f"{exc.message} {exc.hint}".strip())
            return gr.skip(), gr.skip(), gr.skip()

    @metered(runtime, "add documents")
    async def do_ingest(
        selected: str | None,
        new: str,
        uploads: list[str] | None,
        column: str,
        request: gr.Request,
    ) -> tuple[Any, ...]:
        try:
            require(runtime, request, "admin", "add documents")
        except ArbiterError as exc:
            gr.Warning(f"{exc.message} {exc.hint}".strip())
            return (gr.skip(),) * 6
        lang = request_language(request)
        name = (new or "").strip() or selected
        if not name:
            gr.Warning(say(lang, "docs.warn_no_collection"))
            return (gr.skip(),) * 6
        if not uploads:
            gr.Warning(say(lang, "docs.warn_no_files"))
            return (gr.skip(),) * 6

        def work() -> list[IngestOutcome]:
            """Every file is read first (in a worker, within the parsing limits), then the
            good ones are added: a rejected file leaves the collection as it was."""
            call(library.create_collection, name, exist_ok=True)
            read: list[IngestOutcome | tuple[str, bytes]] = []
            for path in uploads:
                source = Path(path).name
                try:
                    read.append((source, read_limited(Path(path), library.max_file_bytes)))
                except NotIngestible as exc:
                    read.append(IngestOutcome.rejected(source, exc))
                except OSError as exc:
                    read.append(IngestOutcome(source, "rejected", message=str(exc)))
            readable = [f for f in read if isinstance(f, tuple)]
            added = iter(call(library.ingest_many, name, readable, text_column=(column or None)))
            library.flush(name)  # one index write for the whole upload
            return [f if isinstance(f, IngestOutcome) else next(added) for f in read]

        try:
            outcomes = await asyncio.to_thread(work)
        except ArbiterError as exc:
            gr.Warning(f"{exc.message} {exc.hint}".strip())
            return (gr.skip(),) * 6
        dropdown, info, rows = await asyncio.to_thread(refresh, name, lang)
        return dropdown, info, rows, _outcomes(outcomes, lang), None, ""

    async def do_delete(
        selected: str | None, document: float | None, request: gr.Request
    ) -> tuple[Any, ...]:
        try:
            require(runtime, request, "admin", "delete documents")
        except ArbiterError as exc:
            gr.Warning(f"{exc.message} {exc.hint}".strip())
            return (gr.skip(),) * 4
        lang = request_language(request)
        if not selected or not document:
            gr.Warning(say(lang, "docs.warn_delete"))
            return (gr.skip(),) * 4
        try:
            removed = await asyncio.to_thread(
                call, library.delete_document, selected, int(document)
            )
        except ArbiterError as exc:
            gr.Warning(f"{exc.message} {exc.hint}".strip())
            return (gr.skip(),) * 4
        _, info, rows = await asyncio.to_thread(refresh, selected, lang)
        deleted = say(lang, "docs.deleted", document=int(document), chunks=removed)
        return info, rows, deleted, None

    @metered(runtime, "re-index a collection")
    async def do_reindex(selected: str | None, request: gr.Request) -> str:
        lang = request_language(request)
        if not selected:
            return say(lang, "docs.choose_collection")
        try:
            require(runtime, request, "admin", "re-index a collection")
            chunks = await asyncio.to_thread(call, library.reindex, selected)
        except ArbiterError as exc:
            return say(lang, "status.error", message=escape(exc.message), hint="").strip()
        return say(lang, "docs.reindexed", name=escape(selected), chunks=chunks)

    @metered(runtime, "search documents")
    async def do_search(selected: str | None, text: str, how: str, request: gr.Request) -> str:
        lang = request_language(request)
        if not selected or not (text or "").strip():
            return say(lang, "docs.choose_query")
        try:
            found = await asyncio.to_thread(
                call, library.retrieve, selected, text, top_k=5, mode=how
            )
        except ArbiterError as exc:
            return say(lang, "status.error", message=escape(exc.message), hint=escape(exc.hint))
        chunks = [c.to_dict() for c in found.chunks]
        shown = context_markdown(chunks, links_for(runtime, request), lang)
        head = say(lang, "docs.results", count=len(chunks), ms=f"{found.latency_ms:.0f}")
        return f"{head}\n\n{shown}"

    private: dict[str, Any] = {"api_visibility": "private"}
    collection.change(do_refresh, [collection], [collection, summary, table], **private)
    ingest.click(
        do_ingest,
        [collection, new_name, files, text_column],
        [collection, summary, table, outcome, files, new_name],
        **private,
    )
    delete.click(do_delete, [collection, doc_id], [summary, table, outcome, doc_id], **private)
    reindex.click(do_reindex, [collection], [outcome], **private)
    search.click(do_search, [collection, query, mode], [results], **private)
    query.submit(do_search, [collection, query, mode], [results], **private)
    return do_refresh, [collection], [collection, summary, table]
