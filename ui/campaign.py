"""The Campaign page: an admin creates a labelling campaign (prompts pasted or from a file,
2-4 of the configured variants, raters per item); a rater works through it, one blind item
at a time, until nothing is left for them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import gradio as gr

from service.access import audit
from service.app import Runtime
from service.errors import ArbiterError, ErrorCode, InvalidRequest
from service.labels import campaigns, record_votes
from service.schemas import VoteIn
from service.serving import hide_variants
from service.store import votes
from ui.access import metered, principal, rater_name
from ui.format import PANE_LETTERS, escape
from ui.i18n import DEFAULT_LANGUAGE, request_language, say, t

OUTCOMES = [  # (outcome, key of its button's label)
    ("a", "board.vote_a"),
    ("b", "board.vote_b"),
    ("tie", "board.vote_tie"),
    ("both_bad", "board.vote_both_bad"),
]
FILE_TYPES = list(campaigns.FILE_KINDS)


def _item_markdown(found: dict[str, Any], progress: str, lang: str = DEFAULT_LANGUAGE) -> str:
    turn = hide_variants(found["turn"])
    parts = [
        f"**{say(lang, 'campaign.item', n=found['position'] + 1)}** · {progress}",
        f"### {say(lang, 'history.prompt')}\n\n{escape(turn.prompt)}",
    ]
    for a in turn.answers:
        body = escape(a.text) if a.text else say(lang, "history.no_text")
        parts.append(f"#### {say(lang, 'rubric.answer')} {PANE_LETTERS[a.pane]}\n\n{body}")
    return "\n\n".join(parts)


def _nothing_left(st: dict[str, Any], progress: str, lang: str) -> str:
    """Why there is no item: answers still being generated, or this rater is done."""
    pending = st["items"] - st["answered"] - len(st["failed"])
    if pending > 0:
        return say(lang, "campaign.generating", answered=st["answered"], items=st["items"])
    return f"**{say(lang, 'campaign.done')}**  \n{progress}"


def _buttons(enabled: bool) -> list[Any]:
    return [gr.Button(interactive=enabled) for _ in OUTCOMES]


def _error(exc: ArbiterError, lang: str) -> str:
    hint = f" {exc.hint}" if exc.hint else ""
    return f"{say(lang, 'campaign.not_created')} {escape(exc.message)}.{escape(hint)}"


def build_campaign(runtime: Runtime, rater: gr.Textbox) -> tuple[Any, list[Any], list[Any]]:
    """Returns the loader for when the page opens, with its inputs and outputs."""
    gr.Markdown(t("campaign.intro"))
    empty = gr.Markdown(elem_id="campaign-empty")
    with gr.Row(equal_height=True):
        name = gr.Dropdown(
            [], label=t("campaign.name"), elem_id="campaign-name", allow_custom_value=True
        )
        start = gr.Button(t("campaign.next"), variant="primary", elem_id="campaign-next")
    item = gr.Markdown(elem_id="campaign-item")
    with gr.Row():
        buttons = {
            o: gr.Button(t(label), elem_id=f"campaign-vote-{o}", interactive=False)
            for o, label in OUTCOMES
        }
    turn_id = gr.State(None)
    # Shown to those who may create campaigns (admins); filled when the page opens, so the
    # variants' names are never in a page served to raters.
    with gr.Accordion(t("campaign.create"), open=False, visible=False) as create_box:
        new_name = gr.Textbox(label=t("campaign.new_name"), max_length=128, elem_id="campaign-new")
        prompts = gr.Textbox(
            label=t("campaign.prompts"),
            placeholder=t("campaign.prompts_placeholder"),
            lines=5,
            elem_id="campaign-prompts",
        )
        upload = gr.File(
            label=t("campaign.file"),
            file_types=FILE_TYPES,
            type="filepath",
            height=200,  # at 140 px the label, three lines on a phone, hid "Drop File Here"
            elem_id="campaign-file",
        )
        variants = gr.CheckboxGroup([], label=t("campaign.variants"), elem_id="campaign-variants")
        per_item = gr.Number(
            3,
            label=t("campaign.per_item"),
            minimum=1,
            maximum=50,
            precision=0,
            elem_id="campaign-per-item",
        )
        create = gr.Button(
            t("campaign.create_button"), variant="primary", elem_id="campaign-create"
        )
        created = gr.Markdown(elem_id="campaign-created")

    def progress(campaign: str, who: str, lang: str) -> tuple[dict[str, Any], str]:
        st = campaigns.status(runtime.store, campaign)
        mine = st["votes_per_rater"].get(who, 0)
        text = say(
            lang, "campaign.progress", completed=st["completed"], items=st["items"], mine=mine
        )
        return st, text

    def empty_state(found: list[dict[str, Any]], may_create: bool, lang: str) -> str:
        if found:
            return ""
        return say(lang, "campaign.none_admin" if may_create else "campaign.none_rater")

    async def load(request: gr.Request) -> tuple[Any, ...]:
        """The campaigns this person may take part in (signed in as a rater: theirs), and
        the form to create one for those who may."""
        lang = request_language(request)
        me = principal(runtime, request)
        found = await asyncio.to_thread(
            campaigns.list_campaigns, runtime.store, who=me.name, role=me.role
        )
        names = [c["name"] for c in found]
        may_create = me.allows("admin")
        return (
            gr.Dropdown(choices=names, value=names[0] if names else None),
            empty_state(found, may_create, lang),
            gr.Accordion(visible=may_create, open=may_create and not names),
            gr.CheckboxGroup(choices=runtime.catalog.names() if may_create else []),
        )

    @metered(runtime, "create a campaign", scope="admin")
    async def make(
        title: str,
        pasted: str,
        path: str | None,
        chosen: list[str] | None,
        k: float | None,
        request: gr.Request,
    ) -> tuple[Any, ...]:
        """Nothing typed is cleared: a refused campaign keeps the form as it was."""
        lang = request_language(request)
        keep = (gr.skip(), gr.skip(), gr.skip())
        try:
            who = principal(runtime, request)
            title = (title or "").strip()
            if not title:
                raise InvalidRequest(
                    "a campaign needs a name",
                    code=ErrorCode.INVALID_CAMPAIGN,
                    hint="Type one in the name box.",
                )
            texts = campaigns.prompts_from_text(pasted or "")
            if path:
                texts += await asyncio.to_thread(campaigns.prompts_from_file, Path(path))
            spec = campaigns.CampaignSpec(
                name=title,
                variants=list(chosen or []),
                prompts=texts,
                raters_per_item=int(k or 0),
            )
            await campaigns.start(
                runtime.store, runtime.catalog, spec, runtime.generate_campaign_later
            )
            await asyncio.to_thread(
                audit.record,
                runtime.store,
                None,
                "campaign.create",
                title,
                {"variants": spec.variants, "items": len(texts), "raters_per_item": int(k or 0)},
                actor=who.name,
            )
        except ArbiterError as exc:
            return (_error(exc, lang), *keep)
        found = await asyncio.to_thread(
            campaigns.list_campaigns, runtime.store, who=who.name, role=who.role
        )
        return (
            say(lang, "campaign.created", name=escape(title), items=len(texts)),
            gr.Dropdown(choices=[c["name"] for c in found], value=title),
            "",
            gr.Accordion(open=False),
        )

    async def next_item(campaign: str | None, who: str, request: gr.Request) -> tuple[Any, ...]:
        who = rater_name(runtime, request, who)  # signed in: oneself, whatever the box says
        lang = request_language(request)
        if not campaign:
            gr.Warning(say(lang, "campaign.warn_choose"))
            return (say(lang, "campaign.warn_choose"), None, *_buttons(False))
        try:
            found = await asyncio.to_thread(campaigns.next_item, runtime.store, campaign, who)
            st, done = await asyncio.to_thread(progress, campaign, who, lang)
        except ArbiterError as exc:
            gr.Warning(f"{exc.message} {exc.hint}".strip())
            return (escape(f"{exc.message} {exc.hint}".strip()), None, *_buttons(False))
        if found is None:
            return (_nothing_left(st, done, lang), None, *_buttons(False))
        return (_item_markdown(found, done, lang), found["turn"].id, *_buttons(True))

    def voter(outcome: str) -> Any:
        async def vote(
            campaign: str | None, who: str, current: str | None, request: gr.Request
        ) -> tuple[Any, ...]:
            who = rater_name(runtime, request, who)  # signed in: oneself
            if current is None:
                gr.Warning(say(request_language(request), "campaign.warn_load"))
                return (gr.skip(), gr.skip(), *_buttons(False))
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
                return (gr.skip(), gr.skip(), *_buttons(True))
            if not stored.replayed:
                await asyncio.to_thread(record_votes, runtime.store, runtime.engine, [stored])
            return await next_item(campaign, who, request)

        return vote

    controls = [item, turn_id, *buttons.values()]
    # Another campaign: the item shown was the last one's.
    name.change(lambda: ("", None, *_buttons(False)), None, controls, api_visibility="private")
    start.click(next_item, [name, rater], controls, api_name="campaign_next")
    for outcome, button in buttons.items():
        button.click(
            voter(outcome),
            [name, rater, turn_id],
            controls,
            api_name=f"campaign_vote_{outcome}",
            trigger_mode="once",
        )
    create.click(
        make,
        [new_name, prompts, upload, variants, per_item],
        [created, name, empty, create_box],
        api_name="campaign_create",
        trigger_mode="once",
    )
    return load, [], [name, empty, create_box, variants]
