"""History: the rater's past turns and votes, searchable; open one to see it whole. Signed in,
a person lists their own turns only, and opens only those (reviewers and admins: any)."""

from __future__ import annotations

import asyncio
from typing import Any

import gradio as gr

from service.app import Runtime
from service.errors import ArbiterError
from service.schemas import TurnOut
from service.serving import blind
from service.store import labels, turns
from ui.access import links_for, rater_name, readable_by
from ui.context import Link, context_markdown
from ui.format import PANE_LETTERS, escape, metrics_line, scores_line

PAGE_SIZE = 100
NOT_YOURS = "That turn is not one of yours (or no longer exists)."
COLUMNS = ["when (UTC)", "prompt", "variants", "vote", "turn id"]
OUTCOME_TEXT = {
    "a": "A better",
    "b": "B better",
    "tie": "tie",
    "both_bad": "both bad",
    "ranking": "ranked",
}


def _variants(turn: TurnOut) -> str:
    if turn.mode == "arena" and turn.vote is None:
        return "(hidden until voted)"
    return " vs ".join(a.variant for a in turn.answers)


def _shown_rows(shown: Any) -> list[list[str]]:
    """The table's rows as the browser sent them (a DataFrame, or a dict with `data`)."""
    if shown is None:
        return []
    if hasattr(shown, "to_numpy"):  # a pandas DataFrame
        return [[str(c) for c in r] for r in shown.to_numpy().tolist()]
    data = shown.get("data", []) if isinstance(shown, dict) else shown
    return [[str(c) for c in r] for r in data]


def rows(turns: list[TurnOut]) -> list[list[str]]:
    return [
        [
            t.created_at.strftime("%Y-%m-%d %H:%M"),
            t.prompt if len(t.prompt) <= 80 else t.prompt[:79] + "…",
            _variants(t),
            OUTCOME_TEXT.get(t.vote.outcome, t.vote.outcome) if t.vote else "—",
            t.id,
        ]
        for t in turns
    ]


def render_turn(
    turn: TurnOut, notes: list[tuple[str, str, str]] | None = None, *, link: Link
) -> str:
    """The turn as Markdown; `notes` are its comments and ideal answers (kind, rater,
    text); `link` writes the URLs of its sources for the viewer. Everything from people or
    models is escaped."""
    hidden = turn.mode == "arena" and turn.vote is None
    parts = [
        f"### Prompt\n\n{escape(turn.prompt)}",
        f"*{turn.mode} · turn {turn.position + 1} · {turn.created_at:%Y-%m-%d %H:%M} UTC*",
    ]
    for a in turn.answers:
        name = (
            f"Model {PANE_LETTERS[a.pane]}"
            if hidden
            else f"{PANE_LETTERS[a.pane]} · {escape(a.variant)}"
        )
        body = escape(a.text) if a.text else "*(no text)*"
        error = (
            f"\n\n**Error ({escape(a.error_code or '')})**: {escape(a.error_message or '')}"
            if a.status != "ok"
            else ""
        )
        scores = scores_line(a)
        footer = metrics_line(a) + (f"  \n{scores}" if scores else "")
        parts.append(f"#### {name}\n\n{body}{error}\n\n<small>{footer}</small>")
    if turn.retrieval is not None:
        collection = escape(str(turn.retrieval.get("collection", "")))
        parts.append(
            f"#### Sources (RAG, collection {collection})\n\n"
            + context_markdown(turn.retrieval.get("chunks") or [], link)
        )
    if turn.vote:
        vote = OUTCOME_TEXT.get(turn.vote.outcome, turn.vote.outcome)
        if turn.vote.ranking:
            vote += ": " + " > ".join(PANE_LETTERS[p] for p in turn.vote.ranking)
        parts.append(f"**Vote:** {vote} (by {escape(turn.vote.rater)})")
    for kind, rater, text in notes or []:
        parts.append(f"**{kind.capitalize()}** by {escape(rater)}:\n\n{escape(text)}")
    return "\n\n".join(parts)


def build_history(runtime: Runtime, rater: gr.Textbox) -> tuple[Any, list[Any], list[Any]]:
    with gr.Row():
        query = gr.Textbox(
            placeholder="Search prompts and answers",
            show_label=False,
            scale=5,
            elem_id="history-query",
        )
        search = gr.Button("Search", scale=1, elem_id="history-search")
    table = gr.Dataframe(
        headers=COLUMNS,
        datatype=["str"] * len(COLUMNS),
        interactive=False,
        wrap=True,
        elem_id="history-table",
    )
    more = gr.Button("More", size="sm", elem_id="history-more")
    cursor = gr.State(None)  # the `next` of the last page shown (None: nothing more)
    detail = gr.Markdown("Select a row to see the whole turn.", elem_id="history-detail")

    async def page(
        typed_name: str, text: str, after: str | None, request: gr.Request
    ) -> tuple[list[list[str]], str | None]:
        # Signed in: one's own turns, whatever the name box says.
        viewer = rater_name(runtime, request, typed_name)
        found = await asyncio.to_thread(
            turns.turn_page,
            runtime.store,
            limit=PAGE_SIZE,
            after=after,
            rater=viewer,
            query=(text or "").strip() or None,
            voter=viewer,
        )
        return rows([blind(t, viewer) for t in found.turns]), found.next

    async def load(
        typed_name: str, text: str, request: gr.Request
    ) -> tuple[list[list[str]], str | None]:
        return await page(typed_name, text, None, request)

    async def load_more(
        typed_name: str, text: str, after: str | None, shown: Any, request: gr.Request
    ) -> tuple[list[list[str]], str | None]:
        before = _shown_rows(shown)
        if after is None:  # the last page is already shown
            return before, None
        added, next_cursor = await page(typed_name, text, after, request)
        return before + added, next_cursor

    async def open_turn(evt: gr.SelectData, data: Any, request: gr.Request) -> str:
        # The table comes from the browser (or any caller of the Gradio API): the turn it
        # names is checked again here.
        try:
            row = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
            turn_id = data.iloc[row][COLUMNS[-1]] if hasattr(data, "iloc") else data[row][-1]
            turn = await asyncio.to_thread(
                turns.get_turn, runtime.store, str(turn_id), with_request=False
            )
        except (ArbiterError, IndexError, KeyError, TypeError, ValueError):
            return NOT_YOURS
        readable = readable_by(runtime, request)
        if not readable(turn.rater):
            return NOT_YOURS
        # A blind turn stays anonymous (names, costs, provider errors) until this viewer voted.
        viewer = rater_name(runtime, request, turn.rater)
        turn = await asyncio.to_thread(
            turns.get_turn, runtime.store, turn.id, with_request=False, voter=viewer
        )
        notes = await asyncio.to_thread(labels.turn_notes, runtime.store, turn.id)
        return render_turn(
            blind(turn, viewer),
            [n for n in notes if readable(n[1])],
            link=links_for(runtime, request),
        )

    search.click(load, [rater, query], [table, cursor], api_name="history_search")
    query.submit(load, [rater, query], [table, cursor], api_visibility="private")
    more.click(load_more, [rater, query, cursor, table], [table, cursor], api_visibility="private")
    table.select(open_turn, [table], [detail], api_visibility="private")
    return load, [rater, query], [table, cursor]
