"""History: the rater's past turns and votes, searchable; open one to see it whole. Signed in,
a person lists their own turns only, and opens only those (reviewers and admins: any)."""

from __future__ import annotations

import asyncio
from typing import Any

import gradio as gr
import pandas as pd

from service.app import Runtime
from service.errors import ArbiterError
from service.schemas import TurnOut
from service.serving import blind
from service.store import labels, turns
from ui.access import links_for, rater_name, readable_by
from ui.context import Link, context_markdown
from ui.format import PANE_LETTERS, escape, metrics_line, scores_line
from ui.i18n import DEFAULT_LANGUAGE, request_language, say, t

PAGE_SIZE = 100
COLUMN_KEYS = [
    "history.col_when",
    "history.col_prompt",
    "history.col_variants",
    "history.col_vote",
    "history.col_turn",
]
COLUMNS = [say(DEFAULT_LANGUAGE, key) for key in COLUMN_KEYS]
# when, prompt, variants, vote, turn id (36 characters of monospace)
COLUMN_WIDTHS: list[str | int] = ["160px", "340px", "250px", "100px", "330px"]
OUTCOME_KEYS = {
    "a": "history.outcome_a",
    "b": "history.outcome_b",
    "tie": "history.outcome_tie",
    "both_bad": "history.outcome_both_bad",
    "ranking": "history.outcome_ranking",
}


def _outcome(outcome: str, lang: str) -> str:
    return say(lang, OUTCOME_KEYS[outcome]) if outcome in OUTCOME_KEYS else outcome


def _variants(turn: TurnOut, lang: str) -> str:
    if turn.mode == "arena" and turn.vote is None:
        return say(lang, "history.hidden")
    return say(lang, "history.vs").join(a.variant for a in turn.answers)


def _shown_rows(shown: Any) -> list[list[str]]:
    """The table's rows as the browser sent them (a DataFrame, or a dict with `data`)."""
    if shown is None:
        return []
    if hasattr(shown, "to_numpy"):  # a pandas DataFrame
        return [[str(c) for c in r] for r in shown.to_numpy().tolist()]
    data = shown.get("data", []) if isinstance(shown, dict) else shown
    return [[str(c) for c in r] for r in data]


def rows(turns: list[TurnOut], lang: str = DEFAULT_LANGUAGE) -> list[list[str]]:
    return [
        [
            turn.created_at.strftime("%Y-%m-%d %H:%M"),
            turn.prompt if len(turn.prompt) <= 80 else turn.prompt[:79] + "…",
            _variants(turn, lang),
            _outcome(turn.vote.outcome, lang) if turn.vote else "—",
            turn.id,
        ]
        for turn in turns
    ]


def render_turn(
    turn: TurnOut,
    notes: list[tuple[str, str, str]] | None = None,
    *,
    link: Link,
    lang: str = DEFAULT_LANGUAGE,
    ratings: list[labels.TurnRating] | None = None,
) -> str:
    """The turn as Markdown; `notes` are its comments and ideal answers (kind, rater,
    text), `ratings` its rubric ratings (shown under the answer they rate); `link` writes
    the URLs of its sources for the viewer. Everything from people or models is escaped."""
    hidden = turn.mode == "arena" and turn.vote is None
    parts = [
        f"### {say(lang, 'history.prompt')}\n\n{escape(turn.prompt)}",
        say(
            lang,
            "history.turn_line",
            mode=turn.mode,
            position=turn.position + 1,
            when=f"{turn.created_at:%Y-%m-%d %H:%M}",
        ),
    ]
    for a in turn.answers:
        name = (
            f"{say(lang, 'board.model')} {PANE_LETTERS[a.pane]}"
            if hidden
            else f"{PANE_LETTERS[a.pane]} · {escape(a.variant)}"
        )
        body = escape(a.text) if a.text else say(lang, "history.no_text")
        error = (
            "\n\n"
            + say(
                lang,
                "metrics.error",
                code=escape(a.error_code or ""),
                message=escape(a.error_message or ""),
            )
            if a.status != "ok"
            else ""
        )
        scores = scores_line(a, lang)
        footer = metrics_line(a, lang) + (f"  \n{scores}" if scores else "")
        rubric = "".join("  \n" + _rubric_line(r, lang) for r in ratings or [] if r.pane == a.pane)
        parts.append(f"#### {name}\n\n{body}{error}\n\n<small>{footer}{rubric}</small>")
    if turn.retrieval is not None:
        collection = escape(str(turn.retrieval.get("collection", "")))
        parts.append(
            f"#### {say(lang, 'history.sources', collection=collection)}\n\n"
            + context_markdown(turn.retrieval.get("chunks") or [], link, lang)
        )
    if turn.vote:
        vote = _outcome(turn.vote.outcome, lang)
        if turn.vote.ranking:
            vote += ": " + " > ".join(PANE_LETTERS[p] for p in turn.vote.ranking)
        parts.append(say(lang, "history.vote", vote=vote, rater=escape(turn.vote.rater)))
    for kind, rater, text in notes or []:
        key = {"comment": "history.comment", "ideal answer": "history.ideal"}.get(kind)
        head = (
            say(lang, key, rater=escape(rater))
            if key
            else f"**{escape(kind.capitalize())}** by {escape(rater)}:"
        )
        parts.append(f"{head}\n\n{escape(text)}")
    return "\n\n".join(parts)


def _rubric_line(rating: labels.TurnRating, lang: str) -> str:
    """One rater's rubric scores of one answer, in a line."""
    scores = " · ".join(
        f"{say(lang, key)} {'—' if value is None else value}"
        for key, value in (
            ("rubric.helpfulness", rating.helpfulness),
            ("rubric.honesty", rating.honesty),
            ("rubric.harmlessness", rating.harmlessness),
        )
    )
    return say(lang, "history.rubric", rater=escape(rating.rater), scores=scores)


def build_history(runtime: Runtime, rater: gr.Textbox) -> tuple[Any, list[Any], list[Any]]:
    with gr.Row():
        query = gr.Textbox(
            placeholder=t("history.search_placeholder"),
            show_label=False,
            scale=5,
            elem_id="history-query",
        )
        search = gr.Button(t("history.search"), scale=1, elem_id="history-search")
    table = gr.Dataframe(
        headers=COLUMNS,
        datatype=["str"] * len(COLUMNS),
        interactive=False,
        wrap=True,
        # Fixed widths that add up to the page's width (1216 px inside it): a long prompt
        # wraps in its own column instead of pushing the vote and the turn id out of sight.
        # Narrower screens scroll the table inside its frame.
        column_widths=COLUMN_WIDTHS,
        elem_id="history-table",
    )
    more = gr.Button(t("history.more"), size="sm", elem_id="history-more")
    cursor = gr.State(None)  # the `next` of the last page shown (None: nothing more)
    detail = gr.Markdown(t("history.select_row"), elem_id="history-detail")

    def table_of(found_rows: list[list[str]], lang: str) -> pd.DataFrame:
        return pd.DataFrame(found_rows, columns=[say(lang, key) for key in COLUMN_KEYS])

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
        return rows([blind(turn, viewer) for turn in found.turns], request_language(request)), (
            found.next
        )

    async def load(
        typed_name: str, text: str, request: gr.Request
    ) -> tuple[pd.DataFrame, str | None, str]:
        """The first page of turns (that match the search), and the detail cleared: the turn
        it showed may not be among them."""
        lang = request_language(request)
        found_rows, next_cursor = await page(typed_name, text, None, request)
        searched = bool((text or "").strip())
        hint = (
            "history.select_row"
            if found_rows
            else "history.no_match"
            if searched
            else "history.empty"
        )
        return table_of(found_rows, lang), next_cursor, say(lang, hint)

    async def load_more(
        typed_name: str, text: str, after: str | None, shown: Any, request: gr.Request
    ) -> tuple[pd.DataFrame, str | None]:
        lang = request_language(request)
        before = _shown_rows(shown)
        if after is None:  # the last page is already shown
            return table_of(before, lang), None
        added, next_cursor = await page(typed_name, text, after, request)
        return table_of(before + added, lang), next_cursor

    async def open_turn(evt: gr.SelectData, data: Any, request: gr.Request) -> str:
        # The table comes from the browser (or any caller of the Gradio API): the turn it
        # names is checked again here.
        lang = request_language(request)
        try:
            row = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
            # The last column (its header is in the reader's language).
            turn_id = data.iloc[row, -1] if hasattr(data, "iloc") else data[row][-1]
            turn = await asyncio.to_thread(
                turns.get_turn, runtime.store, str(turn_id), with_request=False
            )
        except (ArbiterError, IndexError, KeyError, TypeError, ValueError):
            return say(lang, "history.not_yours")
        readable = readable_by(runtime, request)
        if not readable(turn.rater):
            return say(lang, "history.not_yours")
        # A blind turn stays anonymous (names, costs, provider errors) until this viewer voted.
        viewer = rater_name(runtime, request, turn.rater)
        turn = await asyncio.to_thread(
            turns.get_turn, runtime.store, turn.id, with_request=False, voter=viewer
        )
        notes, ratings = await asyncio.gather(
            asyncio.to_thread(labels.turn_notes, runtime.store, turn.id),
            asyncio.to_thread(labels.turn_ratings, runtime.store, turn.id),
        )
        return render_turn(
            blind(turn, viewer),
            [n for n in notes if readable(n[1])],
            link=links_for(runtime, request),
            lang=lang,
            ratings=[r for r in ratings if readable(r.rater)],
        )

    found = [table, cursor, detail]
    search.click(load, [rater, query], found, api_name="history_search")
    query.submit(load, [rater, query], found, api_visibility="private")
    more.click(load_more, [rater, query, cursor, table], [table, cursor], api_visibility="private")
    table.select(open_turn, [table], [detail], api_visibility="private")
    return load, [rater, query], found
