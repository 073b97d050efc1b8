"""The Campaign page: a rater works through a labelling campaign, one blind item at a time."""

from __future__ import annotations

import asyncio
from typing import Any

import gradio as gr

from service.app import Runtime
from service.errors import ArbiterError
from service.labels import campaigns, record_votes
from service.schemas import VoteIn
from service.serving import hide_variants
from service.store import votes
from ui.access import principal, rater_name
from ui.format import PANE_LETTERS, escape
from ui.i18n import DEFAULT_LANGUAGE, request_language, say, t

OUTCOMES = [  # (outcome, key of its button's label)
    ("a", "board.vote_a"),
    ("b", "board.vote_b"),
    ("tie", "board.vote_tie"),
    ("both_bad", "board.vote_both_bad"),
]


def _item_markdown(
    found: dict[str, Any] | None, progress: str, lang: str = DEFAULT_LANGUAGE
) -> str:
    if found is None:
        return f"{say(lang, 'campaign.done')}  \n{progress}"
    turn = hide_variants(found["turn"])
    parts = [
        f"**{say(lang, 'campaign.item', n=found['position'] + 1)}** · {progress}",
        f"### {say(lang, 'history.prompt')}\n\n{escape(turn.prompt)}",
    ]
    for a in turn.answers:
        body = escape(a.text) if a.text else say(lang, "history.no_text")
        parts.append(f"#### {say(lang, 'rubric.answer')} {PANE_LETTERS[a.pane]}\n\n{body}")
    return "\n\n".join(parts)


def build_campaign(runtime: Runtime, rater: gr.Textbox) -> tuple[Any, list[Any], list[Any]]:
    """Returns the loader for when the page opens, with its inputs and outputs."""
    gr.Markdown(t("campaign.intro"))
    with gr.Row(equal_height=True):
        name = gr.Dropdown(
            [], label=t("campaign.name"), elem_id="campaign-name", allow_custom_value=True
        )
        start = gr.Button(t("campaign.next"), variant="primary", elem_id="campaign-next")
    item = gr.Markdown(elem_id="campaign-item")
    with gr.Row():
        buttons = {o: gr.Button(t(label), elem_id=f"campaign-vote-{o}") for o, label in OUTCOMES}
    turn_id = gr.State(None)

    def progress(campaign: str, who: str, lang: str) -> str:
        st = campaigns.status(runtime.store, campaign)
        mine = st["votes_per_rater"].get(who, 0)
        return say(
            lang, "campaign.progress", completed=st["completed"], items=st["items"], mine=mine
        )

    async def load(request: gr.Request) -> Any:
        """The campaigns this person may take part in (signed in as a rater: theirs)."""
        me = principal(runtime, request)
        found = await asyncio.to_thread(
            campaigns.list_campaigns, runtime.store, who=me.name, role=me.role
        )
        names = [c["name"] for c in found]
        return gr.Dropdown(choices=names, value=names[0] if names else None)

    async def next_item(campaign: str | None, who: str, request: gr.Request) -> tuple[Any, Any]:
        who = rater_name(runtime, request, who, default="")  # signed in: oneself
        lang = request_language(request)
        if not campaign or not who:
            gr.Warning(say(lang, "campaign.warn_choose"))
            return gr.skip(), gr.skip()
        try:
            found = await asyncio.to_thread(campaigns.next_item, runtime.store, campaign, who)
            done = await asyncio.to_thread(progress, campaign, who, lang)
            text = _item_markdown(found, done, lang)
        except ArbiterError as exc:
            gr.Warning(f"{exc.message} {exc.hint}".strip())
            return gr.skip(), gr.skip()
        return text, (found["turn"].id if found else None)

    def voter(outcome: str) -> Any:
        async def vote(
            campaign: str | None, who: str, current: str | None, request: gr.Request
        ) -> tuple[Any, Any]:
            who = rater_name(runtime, request, who, default="")  # signed in: oneself
            if current is None or not who:
                gr.Warning(say(request_language(request), "campaign.warn_load"))
                return gr.skip(), gr.skip()
            try:
                stored = await asyncio.to_thread(
                    votes.cast_vote,
                    runtime.store,
                    current,
                    VoteIn(outcome=outcome, idempotency_key=f"campaign:{current}:{who}"),  # type: ignore[arg-type]
                    rater=who,
                )
            except ArbiterError as exc:
                gr.Warning(f"{exc.message} {exc.hint}".strip())
                return gr.skip(), gr.skip()
            if not stored.replayed:
                await asyncio.to_thread(record_votes, runtime.store, runtime.engine, [stored])
            return await next_item(campaign, who, request)

        return vote

    start.click(next_item, [name, rater], [item, turn_id], api_name="campaign_next")
    for outcome, button in buttons.items():
        button.click(
            voter(outcome),
            [name, rater, turn_id],
            [item, turn_id],
            api_name=f"campaign_vote_{outcome}",
            trigger_mode="once",
        )
    return load, [], [name]
