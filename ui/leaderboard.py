"""The Leaderboard page: preference ranking (Bradley-Terry, 95% CIs; online Elo when its box
is ticked), the win-rate heat map, and absolute quality (rubric means with CIs), with
filters. Below FEW_BATTLES battles for a variant, the page says its rating is rough."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from typing import Any

import gradio as gr
import pandas as pd
from PIL import Image

from evals import plots
from service.app import Runtime
from service.labels import (
    FEW_BATTLES,
    LEADERBOARD_RULES,
    compute_leaderboard,
    rough_variants,
    rubric_quality,
)
from service.store import Filters
from ui.format import escape
from ui.i18n import DEFAULT_LANGUAGE, request_language, say, t

PREFERENCE_COLUMNS = ["rank", "variant", "rating", "95% CI", "battles", "win rate", "Elo"]
QUALITY_COLUMNS = ["variant", "ratings", "helpfulness", "honesty", "harmlessness"]
# The same columns' headers, by key, in the reader's language.
PREFERENCE_KEYS = [
    "lb.col_rank",
    "lb.col_variant",
    "lb.col_rating",
    "lb.col_ci",
    "lb.col_battles",
    "lb.col_win_rate",
    "lb.col_elo",
]
QUALITY_KEYS = [
    "lb.col_variant",
    "lb.col_ratings",
    "rubric.helpfulness",
    "rubric.honesty",
    "rubric.harmlessness",
]
ANY = "all"


def _filters(mode: str, rag: str, since: str, tag: str = "") -> Filters:
    start = None
    if since.strip():
        start = datetime.fromisoformat(since.strip())
        start = start if start.tzinfo else start.replace(tzinfo=UTC)
    return Filters(
        since=start,
        mode=None if mode == ANY else mode,  # type: ignore[arg-type]
        rag={"with RAG": True, "without RAG": False}.get(rag),
        tag=tag.strip() or None,
    )


def tables(
    runtime: Runtime,
    mode: str,
    rag: str,
    since: str,
    tag: str = "",
    elo: bool = False,
    lang: str = DEFAULT_LANGUAGE,
) -> tuple[Any, Any, Any, str]:
    filters = _filters(mode, rag, since, tag)
    board = compute_leaderboard(runtime.store, filters, elo=runtime.elo if elo else None)
    quality = rubric_quality(runtime.store, filters)
    preference = [
        [
            r.rank,
            r.model,
            round(r.rating),
            say(lang, "lb.ci", low=f"{r.low:.0f}", high=f"{r.high:.0f}"),
            r.battles,
            "" if r.win_rate is None else f"{r.win_rate:.0%}",
            "" if r.elo is None else round(r.elo),
        ]
        for r in board.rows
    ]
    absolute = [
        [q.variant, q.ratings, *(q.criteria[c].fmt(2) for c in QUALITY_COLUMNS[2:])]
        for q in quality
    ]
    png = plots.win_matrix(board.models, board.win_matrix)
    heat = Image.open(io.BytesIO(png)) if png else None
    rules = LEADERBOARD_RULES if lang == DEFAULT_LANGUAGE else say(lang, "lb.rules")
    note = (
        say(lang, "lb.battles", battles=board.battles, rules=rules)
        if board.rows
        else say(lang, "lb.no_votes")
    )
    rough = rough_variants(board)
    if rough:
        names = say(lang, "status.list_separator").join(escape(v) for v in rough)
        note = say(lang, "lb.few_votes", few=FEW_BATTLES, variants=names) + "\n\n" + note
    return (
        pd.DataFrame(preference, columns=[say(lang, k) for k in PREFERENCE_KEYS]),
        heat,
        pd.DataFrame(absolute, columns=[say(lang, k) for k in QUALITY_KEYS]),
        note,
    )


def build_leaderboard(runtime: Runtime) -> tuple[Any, list[Any], list[Any]]:
    """Returns the loader for when the page opens, with its inputs and outputs."""
    with gr.Row(equal_height=True):
        # Each choice shows its label in the reader's language; its value stays the same.
        mode = gr.Radio(
            [(t("lb.all"), ANY), (t("lb.arena"), "arena"), (t("lb.named"), "named")],
            value=ANY,
            label=t("lb.votes_from"),
            elem_id="lb-mode",
        )
        rag = gr.Radio(
            [
                (t("lb.all"), ANY),
                (t("lb.with_rag"), "with RAG"),
                (t("lb.without_rag"), "without RAG"),
            ],
            value=ANY,
            label=t("lb.turns"),
            elem_id="lb-rag",
        )
        since = gr.Textbox(label=t("lb.since"), elem_id="lb-since", max_length=32)
        tag = gr.Textbox(label=t("lb.tag"), elem_id="lb-tag", max_length=64)
        elo = gr.Checkbox(value=False, label=t("lb.elo"), info=t("lb.elo_info"), elem_id="lb-elo")
        refresh = gr.Button(t("lb.refresh"), elem_id="lb-refresh")
    note = gr.Markdown(elem_id="lb-note")
    gr.Markdown(t("lb.preference"))
    gr.Markdown(t("lb.rating_vs_elo"), elem_id="lb-rating-vs-elo")
    preference = gr.Dataframe(
        headers=PREFERENCE_COLUMNS, interactive=False, elem_id="lb-preference"
    )
    # A heading, not the image's label: a label floats over the image, and on a phone its two
    # lines hid the map's first row.
    gr.Markdown(t("lb.win_rates"), elem_id="lb-heat-title")
    heat = gr.Image(show_label=False, type="pil", interactive=False, elem_id="lb-heat")
    gr.Markdown(t("lb.quality"))
    quality = gr.Dataframe(headers=QUALITY_COLUMNS, interactive=False, elem_id="lb-quality")

    async def load(
        m: str, r: str, s: str, tg: str, e: bool, request: gr.Request
    ) -> tuple[Any, ...]:
        try:
            lang = request_language(request)
            return await asyncio.to_thread(tables, runtime, m, r, s, tg, e, lang)
        except ValueError:
            gr.Warning(say(request_language(request), "lb.bad_date"))
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()

    inputs = [mode, rag, since, tag, elo]
    outputs = [preference, heat, quality, note]
    refresh.click(load, inputs, outputs, api_name="leaderboard")
    for control in (mode, rag, elo):
        control.change(load, inputs, outputs, api_visibility="private")
    return load, inputs, outputs
