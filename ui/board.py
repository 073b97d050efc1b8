"""A comparison board: panes that stream side by side, vote buttons and the rubric.

The blind arena and the named side-by-side view are two boards that differ in how the
variants are chosen and whether their names are shown before the vote. All session state
lives server-side in a `gr.State` (it is never sent to the browser), so a blind board's
variant names cannot leak through the page, the DOM or the Gradio API before the vote."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gradio as gr
from gradio.data_classes import GradioModel, GradioRootModel

from service.app.runtime import Runtime
from service.errors import ArbiterError, InvalidRequest
from service.labels.feedback import give_feedback
from service.labels.votes import record_votes
from service.models.variants import GenerationParams
from service.schemas import (
    AnswerOut,
    CompareRequest,
    LabelsIn,
    RagRequest,
    RatingIn,
    VoteIn,
    VoteOutcome,
)
from service.serving.compare import CompareEvent
from service.store import labels, turns, votes
from ui.access import principal
from ui.context import NO_CONTEXT, context_markdown, link_citations
from ui.format import PANE_LETTERS, escape, pane_footer

MAX_PANES = 4
STREAM_EVERY_S = 0.04  # at most ~25 page updates a second per board
FIRST_FRAME_WAIT_S = 0.1  # how long the first update may wait for the first token
SCORE_POLL_S = 1.0  # how often a board looks for the automatic scores of its last turn
MAX_SCORE_POLLS = 60  # then it gives up (no worker running the jobs, say)
OUTCOMES: list[tuple[VoteOutcome, str]] = [
    ("a", "A is better"),
    ("b", "B is better"),
    ("tie", "Tie"),
    ("both_bad", "Both are bad"),
]
CRITERIA = ["helpfulness", "honesty", "harmlessness"]
DEFAULT_COLLECTION = "sample"

Plan = Callable[..., tuple[list[str], list[GenerationParams | None] | None]]


@dataclass
class Session:
    """One browser session's board state (server-side only)."""

    variants: list[str] = field(default_factory=list)
    overrides: list[GenerationParams | None] | None = None
    conversation_id: str | None = None
    turn_id: str | None = None
    prompt: str = ""
    running: bool = False
    voted: bool = False
    answers: list[AnswerOut] = field(default_factory=list)
    transcripts: list[list[dict[str, str]]] = field(default_factory=list)
    last_pair: list[str] = field(default_factory=list)
    footer_texts: list[str] = field(default_factory=list)
    ideal_pane: int | None = None  # the answer the ideal-answer editor was prefilled with
    status_text: str = ""
    context: list[dict[str, Any]] | None = None  # this turn's retrieved chunks; None: RAG off
    context_text: str = NO_CONTEXT
    score_polls: int = 0
    # What the page shows now, per component: properties sent are only those that changed
    # (each property update costs Gradio ~1 ms to serialise, before the first token shows).
    shown: dict[int, dict[str, Any]] = field(default_factory=dict)

    def reset(self) -> None:
        last = sorted(self.variants) if len(self.variants) == 2 else self.last_pair
        shown = self.shown
        self.__init__()  # type: ignore[misc]
        self.last_pair, self.shown = last, shown


class Board:
    def __init__(self, runtime: Runtime, *, prefix: str, blind: bool, panes: int) -> None:
        self.runtime = runtime
        self._background: set[asyncio.Task[None]] = set()
        self.prefix = prefix
        self.blind = blind
        self.panes = panes
        self.state = gr.State(Session())
        # Polls for the automatic scores of the last turn, from when it ends until they are in.
        self.score_timer = gr.Timer(SCORE_POLL_S, active=False)
        with gr.Row(equal_height=False, elem_classes=["panes"]):
            self.columns, self.chats, self.footers = [], [], []
            for i in range(panes):
                with gr.Column(min_width=280, visible=i < 2, elem_classes=["pane"]) as column:
                    self.chats.append(
                        gr.Chatbot(
                            label=f"Model {PANE_LETTERS[i]}",
                            elem_id=f"{prefix}-chat-{i}",
                            height=420,
                            buttons=["copy"],
                            feedback_options=("Like", "Dislike"),
                            placeholder="The answer appears here.",
                        )
                    )
                    self.footers.append(gr.Markdown("", elem_id=f"{prefix}-footer-{i}"))
                self.columns.append(column)
        with gr.Accordion(
            "Sources given to the models (RAG)", open=False, elem_id=f"{prefix}-context-panel"
        ):
            self.context = gr.Markdown(NO_CONTEXT, elem_id=f"{prefix}-context")
        with gr.Row(equal_height=True):
            self.rag_on = gr.Checkbox(
                label="Use documents (RAG)",
                value=False,
                scale=0,
                min_width=200,
                elem_id=f"{prefix}-rag",
            )
            self.collection = gr.Dropdown(
                choices=collection_names(runtime),
                value=DEFAULT_COLLECTION
                if DEFAULT_COLLECTION in collection_names(runtime)
                else None,
                label="Collection",
                allow_custom_value=True,  # checked by the engine (unknown names get a clear error)
                scale=2,
                min_width=200,
                elem_id=f"{prefix}-collection",
            )
            self.top_k = gr.Slider(
                1,
                10,
                value=3,
                step=1,
                label="Sources per prompt",
                scale=1,
                min_width=160,
                elem_id=f"{prefix}-top-k",
            )
        with gr.Row(equal_height=True):
            self.prompt = gr.Textbox(
                placeholder="Ask something — every model gets the same prompt. Enter to send.",
                show_label=False,
                lines=2,
                max_lines=12,
                scale=6,
                elem_id=f"{prefix}-prompt",
            )
            with gr.Column(scale=1, min_width=110):
                self.send = gr.Button("Send", variant="primary", elem_id=f"{prefix}-send")
                self.stop = gr.Button(
                    "Stop", variant="stop", visible=False, elem_id=f"{prefix}-stop"
                )
        with gr.Row():
            self.votes = {
                outcome: gr.Button(label, interactive=False, elem_id=f"{prefix}-vote-{outcome}")
                for outcome, label in OUTCOMES
            }
        self.ranking = gr.Dropdown(
            choices=[],
            multiselect=True,
            label="Rank the answers, best first",
            allow_custom_value=True,  # checked in _rank
            visible=False,
            interactive=True,
            elem_id=f"{prefix}-ranking",
        )
        self.rank_submit = gr.Button(
            "Submit ranking", visible=False, interactive=False, elem_id=f"{prefix}-rank"
        )
        with gr.Row():
            self.regenerate = gr.Button(
                "Regenerate", interactive=False, elem_id=f"{prefix}-regenerate"
            )
            self.new_round = gr.Button("New round", elem_id=f"{prefix}-new")
        self.status = gr.Markdown("", elem_id=f"{prefix}-status")
        self._build_rubric()

    def _build_rubric(self) -> None:
        with gr.Accordion("Rate the answers (optional)", open=True, visible=False) as self.rubric:
            gr.Markdown("Score each answer from 1 (poor) to 5 (excellent); leave blank to skip.")
            self.rubric_columns, self.scores = [], []
            with gr.Row():
                for i in range(self.panes):
                    with gr.Column(min_width=200, visible=i < 2) as column:
                        gr.Markdown(f"**Answer {PANE_LETTERS[i]}**")
                        self.scores.append(
                            [
                                gr.Radio(
                                    [1, 2, 3, 4, 5],
                                    label=criterion,
                                    elem_id=f"{self.prefix}-{criterion}-{i}",
                                )
                                for criterion in CRITERIA
                            ]
                        )
                    self.rubric_columns.append(column)
            self.comment = gr.Textbox(label="Comment", lines=2, elem_id=f"{self.prefix}-comment")
            self.ideal = gr.Textbox(
                label="Ideal answer (prefilled with the preferred one: edit it into what you wanted)",
                lines=5,
                elem_id=f"{self.prefix}-ideal",
            )
            self.save_labels = gr.Button("Save ratings", elem_id=f"{self.prefix}-save-labels")

    # -- components each handler may update ---------------------------------------------

    @property
    def turn_outputs(self) -> list[Any]:
        """What a turn changes. No layout blocks: Gradio rebuilds every output a yield leaves
        out, on every yield, so each yield gives every output here a cheap value (see _frame)."""
        return [
            self.state,
            *self.chats,
            *self.footers,
            self.status,
            self.context,
            self.prompt,
            self.send,
            self.stop,
            self.regenerate,
            *self.votes.values(),
            self.ranking,
            self.rank_submit,
            self.rubric,
        ]

    @property
    def vote_outputs(self) -> list[Any]:
        return [
            *self.turn_outputs,
            self.ideal,
            self.comment,
            *[r for pane in self.scores for r in pane],
        ]

    @property
    def layout_outputs(self) -> list[Any]:
        return [*self.columns, *self.rubric_columns]

    # -- wiring ---------------------------------------------------------------------------

    def wire(self, rater: gr.Textbox, plan: Plan, plan_inputs: list[Any]) -> None:
        """`plan(session, *plan_inputs)` returns the variants (and overrides) for a new turn."""

        rag_inputs = [self.rag_on, self.collection, self.top_k]

        async def frames(
            request: gr.Request,
            prompt: str,
            rater_name: str,
            session: Session,
            raw: tuple[Any, ...],
            *,
            regenerate: bool,
        ) -> AsyncIterator[dict[Any, Any]]:
            rag_on, collection, top_k, *extra = _preprocessed([*rag_inputs, *plan_inputs], raw)
            async for update in self._turn(
                prompt,
                self._rater(rater_name, request),
                session,
                plan,
                tuple(extra),
                regenerate=regenerate,
                rag=(rag_on, collection, top_k),
            ):
                yield self._postprocessed(update)

        async def send(
            request: gr.Request, prompt: str, rater_name: str, session: Session, *raw: Any
        ) -> AsyncIterator[dict[Any, Any]]:
            prompt, rater_name = _preprocessed([self.prompt, rater], [prompt, rater_name])
            async for frame in frames(request, prompt, rater_name, session, raw, regenerate=False):
                yield frame

        async def regenerate(
            request: gr.Request, rater_name: str, session: Session, *raw: Any
        ) -> AsyncIterator[dict[Any, Any]]:
            (rater_name,) = _preprocessed([rater], [rater_name])
            async for frame in frames(
                request, session.prompt, rater_name, session, raw, regenerate=True
            ):
                yield frame

        p = self.prefix
        inputs = [self.prompt, rater, self.state, *rag_inputs, *plan_inputs]
        # Every event shows its progress on the status line alone: the page refreshes the
        # loading status of each component any event has ever targeted (by default, all its
        # outputs) on every message of every event, copying each one's value as it goes.
        status_only: dict[str, Any] = {"show_progress_on": [self.status]}
        private: dict[str, Any] = {
            "api_visibility": "private",
            "show_progress": "hidden",
            **status_only,
        }
        # The turn's inputs and frames are processed in place (see _preprocessed and
        # _postprocessed): Gradio gives each value a trip through a worker thread.
        options: dict[str, Any] = {
            "concurrency_limit": None,
            "show_progress": "hidden",
            "preprocess": False,
            "postprocess": False,
            **status_only,
        }
        for event in (
            self.send.click(send, inputs, self.turn_outputs, api_name=f"{p}_send", **options),
            self.prompt.submit(
                send, inputs, self.turn_outputs, api_visibility="private", **options
            ),
            self.regenerate.click(
                regenerate,
                [rater, self.state, *rag_inputs, *plan_inputs],
                self.turn_outputs,
                api_name=f"{p}_regenerate",
                **options,
            ),
        ):
            event.then(self._start_scores, [self.state], [self.score_timer], **private)
        self.score_timer.tick(
            self._poll_scores, [self.state], [self.score_timer, *self.footers], **private
        )
        self.stop.click(
            self._stop, [self.state], [self.status], api_name=f"{self.prefix}_stop", **status_only
        )
        for pane, chat in enumerate(self.chats):
            chat.like(self._feedback_handler(pane), [rater, self.state], None, **private)
        self.new_round.click(
            self._new_round,
            [self.state],
            self.turn_outputs,
            api_name=f"{self.prefix}_new_round",
            **status_only,
        )
        for outcome, button in self.votes.items():
            button.click(
                self._vote_handler(outcome),
                [rater, self.state],
                self.vote_outputs,
                api_name=f"{self.prefix}_vote_{outcome}",
                trigger_mode="once",
                **status_only,
            )
        self.rank_submit.click(
            self._rank,
            [self.ranking, rater, self.state],
            self.vote_outputs,
            api_name=f"{self.prefix}_rank",
            trigger_mode="once",
            **status_only,
        )
        self.save_labels.click(
            self._save_labels,
            [
                rater,
                self.state,
                self.comment,
                self.ideal,
                *[r for pane in self.scores for r in pane],
            ],
            [self.status, self.save_labels],
            api_name=f"{self.prefix}_rate",
            trigger_mode="once",
            **status_only,
        )

    # -- handlers -------------------------------------------------------------------------

    def _postprocessed(self, updates: dict[Any, Any]) -> dict[Any, Any]:
        """What Gradio's postprocessing would make of a frame, done here: Gradio sends every
        output value through a worker thread, one hop each (about 20 a frame), which was
        most of the server's share of the time from Send to the first token on the page."""
        ready: dict[Any, Any] = {}
        for component, value in updates.items():
            if component is self.state or not isinstance(component, gr.components.Component):
                ready[component] = value
            elif isinstance(value, dict) and value.get("__type__") == "update":
                ready[component] = (
                    {**value, "value": _wire_value(component, value["value"])}
                    if "value" in value
                    else value
                )
            else:
                ready[component] = _wire_value(component, value)
        return ready

    def _rater(self, typed: str | None, request: gr.Request | None) -> str:
        """Whose turn, vote or rating this is. Signed in (keys or header mode): the signed-in
        person, whatever the name box says — a caller of the Gradio API can send any value
        for it. Otherwise the name typed once."""
        if self.runtime.settings.auth != "none":
            return principal(self.runtime, request).name
        return (typed or "anonymous").strip() or "anonymous"

    def _feedback_handler(self, pane: int) -> Callable[..., Any]:
        async def feedback(
            evt: gr.LikeData, request: gr.Request, rater_name: str, session: Session
        ) -> None:
            answer = next((a for a in session.answers if a.pane == pane), None)
            if session.running or answer is None:
                gr.Info("Rate an answer once it has finished.")
                return
            index = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
            if index != len(session.transcripts[pane]) - 1:
                gr.Info("Thumbs count for the latest answer only.")
                return
            positive = evt.liked is True or evt.liked == "Like"
            try:
                await asyncio.to_thread(
                    give_feedback,
                    self.runtime.store,
                    self.runtime.telemetry.emit,
                    answer.id,
                    positive,
                    self._rater(rater_name, request),
                )
            except ArbiterError as exc:
                gr.Warning(f"{exc.message} {exc.hint}".strip())

        return feedback

    def _start_scores(self, session: Session) -> Any:
        """After a turn: poll for its scores when online scoring is on."""
        active = self.runtime.online.enabled and session.turn_id is not None
        session.score_polls = 0
        return gr.Timer(active=active)

    async def _poll_scores(self, session: Session) -> list[Any]:
        """Show the scores that have arrived under each answer; stop once the turn's
        scoring job has ended (or after a while, if no worker runs it)."""
        if session.turn_id is None or session.running:
            return [gr.Timer(active=False), *(gr.skip() for _ in self.footers)]
        turn_id = session.turn_id
        turn, state = await asyncio.gather(
            asyncio.to_thread(turns.get_turn, self.runtime.store, turn_id, with_request=False),
            asyncio.to_thread(self.runtime.scoring_state, turn_id),
        )
        session.score_polls += 1
        finished = state in ("done", "failed") or session.score_polls >= MAX_SCORE_POLLS
        if turn_id != session.turn_id:  # a new turn started meanwhile: leave its panes alone
            return [gr.Timer(active=False), *(gr.skip() for _ in self.footers)]
        scores = {a.pane: a.scores for a in turn.answers}
        session.answers = [
            a.model_copy(update={"scores": scores.get(a.pane, [])}) for a in session.answers
        ]
        names = self._names_visible(session)
        footers: list[Any] = []
        by_pane = {a.pane: a for a in session.answers}
        for pane in range(self.panes):
            answer = by_pane.get(pane)
            if answer is None or pane >= len(session.variants):
                footers.append(gr.skip())
                continue
            shown = answer if names else _errors_only(answer)
            text = pane_footer(shown, name=session.variants[pane] if names else None)
            while len(session.footer_texts) <= pane:
                session.footer_texts.append("")
            session.footer_texts[pane] = text
            footers.append(text)
        return [gr.Timer(active=not finished), *footers]

    def _names_visible(self, session: Session) -> bool:
        return not self.blind or session.voted

    def _initial_props(self) -> dict[int, dict[str, Any]]:
        """The properties the components are built with (see __init__)."""
        props: dict[int, dict[str, Any]] = {}
        for i in range(self.panes):
            props[self.chats[i]._id] = {"label": f"Model {PANE_LETTERS[i]}"}
        for button in self.votes.values():
            props[button._id] = {"interactive": False, "visible": True}
        props[self.ranking._id] = {"visible": False, "choices": []}
        props[self.rank_submit._id] = {"visible": False, "interactive": False}
        props[self.regenerate._id] = {"interactive": False}
        props[self.send._id] = {"interactive": True}
        props[self.stop._id] = {"visible": False}
        props[self.rubric._id] = {"visible": False}
        return props

    def _set(self, session: Session, updates: dict[Any, Any], component: Any, **props: Any) -> None:
        """Add to `updates` the properties of `component` that differ from what is shown."""
        if not session.shown:
            session.shown = self._initial_props()
        shown = session.shown.setdefault(component._id, {})
        changed = {k: v for k, v in props.items() if k not in shown or shown[k] != v}
        if not changed:
            return
        shown.update(changed)
        current = updates.get(component)
        if isinstance(current, dict) and current.get("__type__") == "update":
            current.update(changed)
        elif component in updates:
            updates[component] = gr.update(value=current, **changed)
        else:
            updates[component] = gr.update(**changed)

    def relayout(self, selected: list[str] | None) -> dict[Any, Any]:
        """Show one pane (and rubric column) per selected variant (for `layout_outputs`)."""
        n = min(max(2, len(selected or [])), self.panes)
        updates: dict[Any, Any] = {}
        for i in range(self.panes):
            updates[self.columns[i]] = gr.update(visible=i < n)
            updates[self.rubric_columns[i]] = gr.update(visible=i < n)
        return updates

    def _vote_controls(self, session: Session, updates: dict[Any, Any], *, enabled: bool) -> None:
        pairwise = len(session.variants) <= 2
        for outcome, button in self.votes.items():
            visible = pairwise or outcome in ("tie", "both_bad")
            self._set(session, updates, button, interactive=enabled, visible=visible)
        letters = [PANE_LETTERS[i] for i in range(len(session.variants))]
        self._set(session, updates, self.ranking, choices=letters, visible=not pairwise)
        self._set(session, updates, self.rank_submit, visible=not pairwise, interactive=enabled)

    def _controls(
        self, session: Session, updates: dict[Any, Any], *, running: bool, votable: bool
    ) -> None:
        self._set(session, updates, self.send, interactive=not running)
        self._set(session, updates, self.stop, visible=running)
        self._set(
            session,
            updates,
            self.regenerate,
            interactive=not running and session.turn_id is not None,
        )
        self._vote_controls(session, updates, enabled=votable)

    def _render(self, session: Session, updates: dict[Any, Any] | None = None) -> dict[Any, Any]:
        """The panes' transcripts, and their titles when those change (names once visible)."""
        updates = {} if updates is None else updates
        for i, chat in enumerate(self.chats):
            updates[chat] = session.transcripts[i] if i < len(session.transcripts) else []
            visible = i < len(session.variants) and self._names_visible(session)
            name = f" · {session.variants[i]}" if visible else ""
            self._set(session, updates, chat, label=f"Model {PANE_LETTERS[i]}{name}")
        return updates

    def _show_footer(self, session: Session, updates: dict[Any, Any], pane: int, text: str) -> None:
        while len(session.footer_texts) < self.panes:
            session.footer_texts.append("")
        session.footer_texts[pane] = text
        updates[self.footers[pane]] = text

    def _show_status(self, session: Session, updates: dict[Any, Any], text: str) -> None:
        session.status_text = text
        updates[self.status] = text

    def _frame(self, session: Session) -> dict[Any, Any]:
        """A value for every turn output: transcripts, footers, status, and buttons by their
        labels (a label value is cheap for Gradio; leaving an output out is not). Property
        changes are added on top with `_set`, which keeps each value."""
        updates = self._render(session, {self.state: session})
        for pane, footer in enumerate(self.footers):
            updates[footer] = session.footer_texts[pane] if pane < len(session.footer_texts) else ""
        updates[self.status] = session.status_text
        updates[self.context] = session.context_text
        for button in (
            self.send,
            self.stop,
            self.regenerate,
            *self.votes.values(),
            self.rank_submit,
        ):
            updates[button] = button.value
        updates[self.ranking] = []
        return updates

    def _apply(self, session: Session, event: CompareEvent) -> None:
        """Fold one engine event into the session (transcripts, answers, footers)."""
        if event.kind == "token":
            session.transcripts[event.data["pane"]][-1]["content"] += event.data["text"]
        elif event.kind == "answer":
            answer = AnswerOut.model_validate(event.data)
            session.answers.append(answer)
            if session.context and answer.status == "ok":
                last = session.transcripts[answer.pane][-1]
                last["content"] = link_citations(last["content"], session.context)
            if answer.status != "ok":
                last = session.transcripts[answer.pane][-1]
                separator = "\n\n" if last["content"] else ""
                last["content"] += f"{separator}Error ({answer.error_code}): {answer.error_message}"
            while len(session.footer_texts) < self.panes:
                session.footer_texts.append("")
            shown = answer if not self.blind else _errors_only(answer)
            session.footer_texts[answer.pane] = pane_footer(
                shown, name=None if self.blind else answer.variant
            )

    async def _turn(
        self,
        prompt: str,
        rater_name: str,
        session: Session,
        plan: Plan,
        extra: tuple[Any, ...],
        *,
        regenerate: bool,
        rag: tuple[bool, str | None, float] = (False, None, 3),
    ) -> AsyncIterator[dict[Any, Any]]:
        if session.running:
            gr.Warning("The answers are still streaming: wait, or press Stop.")
            return
        if not prompt or not prompt.strip():
            gr.Warning("Type a prompt first.")
            return
        if regenerate and session.turn_id is None:
            gr.Warning("There is nothing to regenerate yet.")
            return
        try:
            # a thread: the arena's plan reads pair counts from the store (every 30 s)
            variants, overrides = await asyncio.to_thread(plan, session, *extra)
            rag_request = _rag_request(*rag)
        except ArbiterError as exc:
            gr.Warning(f"{exc.message} {exc.hint}".strip())
            return
        had_turn = session.turn_id is not None
        if variants != session.variants or overrides != session.overrides:
            session.reset()
            session.variants, session.overrides = variants, overrides
        request = CompareRequest(
            prompt=prompt,
            variants=variants,
            conversation_id=session.conversation_id,
            overrides=overrides,
            mode="arena" if self.blind else "named",
            rater=rater_name,
            regenerate=regenerate,
            rag=rag_request,
        )
        try:
            self.runtime.engine.validate(request)
            events = self.runtime.engine.run(request)
            first = await anext(events)  # the models start now
        except ArbiterError as exc:
            gr.Warning(f"{exc.message} {exc.hint}".strip())
            return
        session.turn_id = first.data["turn_id"]
        session.conversation_id = first.data["conversation_id"]
        session.prompt, session.running, session.voted, session.answers = prompt, True, False, []
        session.context = first.data.get("context")
        session.context_text = context_markdown(session.context)
        if not session.transcripts:
            session.transcripts = [[] for _ in variants]
        for transcript in session.transcripts:
            if regenerate:
                del transcript[-2:]
            transcript.append({"role": "user", "content": prompt})
            transcript.append({"role": "assistant", "content": ""})
        if had_turn:
            session.footer_texts = []
        session.status_text = "Answers are streaming…"
        # Read the engine in the background, so the first page update can wait a moment
        # for the first token and carry it together with the controls: one update less
        # between pressing Send and seeing text.
        inbox: asyncio.Queue[CompareEvent | ArbiterError | None] = asyncio.Queue()
        pump = asyncio.create_task(_pump(events, inbox))
        self._background.add(pump)
        pump.add_done_callback(self._background.discard)
        item = await _next(inbox, FIRST_FRAME_WAIT_S)
        while isinstance(item, CompareEvent) and item.kind not in ("token", "answer"):
            item = await _next(inbox, FIRST_FRAME_WAIT_S)
        if isinstance(item, CompareEvent):
            self._apply(session, item)
        # The prompt box is cleared with the first frame only: later frames leave it alone,
        # so the next question can be typed while the answers stream.
        first_frame = {**self._frame(session), self.prompt: ""}
        self._controls(session, first_frame, running=True, votable=False)
        self._set(session, first_frame, self.rubric, visible=False)
        yield first_frame

        last_push = time.monotonic()
        while item is not None and not isinstance(item, ArbiterError):
            item = await inbox.get()
            if not isinstance(item, CompareEvent):
                break
            self._apply(session, item)
            now = time.monotonic()
            if item.kind == "answer" or now - last_push >= STREAM_EVERY_S:
                last_push = now
                yield self._frame(session)
        if isinstance(item, ArbiterError):
            session.status_text = f"**Error:** {escape(item.message)} {escape(item.hint)}"
            session.running = False
            failed = self._frame(session)
            self._controls(session, failed, running=False, votable=False)
            yield failed
            return
        session.running = False
        session.answers.sort(key=lambda a: a.pane)
        session.status_text = (
            "Which answer is better? Vote to reveal the models."
            if self.blind
            else "Vote for the better answer."
        )
        done = self._frame(session)
        self._controls(session, done, running=False, votable=True)
        yield done

    async def _stop(self, session: Session) -> str:
        if not session.running or session.turn_id is None:
            return "Nothing is running."
        try:
            stopped = self.runtime.engine.cancel(session.turn_id)
        except ArbiterError:
            return "Nothing is running."
        return f"Stopped {stopped} pane(s)."

    async def _new_round(self, session: Session) -> dict[Any, Any]:
        if session.running and session.turn_id:
            with contextlib.suppress(ArbiterError):
                self.runtime.engine.cancel(session.turn_id)
        session.reset()
        session.status_text = "New round: ask anything."
        updates = self._frame(session)
        self._controls(session, updates, running=False, votable=False)
        self._set(session, updates, self.rubric, visible=False)
        return updates

    def _vote_handler(self, outcome: VoteOutcome) -> Callable[..., Any]:
        async def vote(request: gr.Request, rater_name: str, session: Session) -> dict[Any, Any]:
            return await self._cast(
                VoteIn(outcome=outcome, rater=self._rater(rater_name, request)), session
            )

        vote.__name__ = f"vote_{outcome}"
        return vote

    async def _rank(
        self, request: gr.Request, ranking: list[str], rater_name: str, session: Session
    ) -> dict[Any, Any]:
        panes = [PANE_LETTERS.index(letter) for letter in ranking or [] if letter in PANE_LETTERS]
        if sorted(panes) != list(range(len(session.variants))):
            gr.Warning("Rank every answer exactly once, best first.")
            return {self.state: session}
        return await self._cast(
            VoteIn(outcome="ranking", ranking=panes, rater=self._rater(rater_name, request)),
            session,
        )

    async def _cast(self, vote: VoteIn, session: Session) -> dict[Any, Any]:
        if session.turn_id is None or session.running:
            gr.Warning("Wait until every answer has finished, then vote.")
            return {self.state: session}
        if session.voted:
            return {self.state: session}
        vote = vote.model_copy(update={"idempotency_key": f"ui:{session.turn_id}:{vote.rater}"})
        try:
            stored = await asyncio.to_thread(
                votes.cast_vote, self.runtime.store, session.turn_id, vote
            )
            if not stored.replayed:
                await asyncio.to_thread(
                    record_votes, self.runtime.store, self.runtime.telemetry.emit, [stored]
                )
        except ArbiterError as exc:
            gr.Warning(f"{exc.message} {exc.hint}".strip())
            return {self.state: session}
        session.voted = True
        preferred = {"a": 0, "b": 1}.get(vote.outcome, vote.ranking[0] if vote.ranking else None)
        session.ideal_pane = preferred
        by_pane = {a.pane: a for a in session.answers}
        for i in range(len(session.variants)):
            while len(session.footer_texts) <= i:
                session.footer_texts.append("")
            session.footer_texts[i] = pane_footer(by_pane.get(i), name=session.variants[i])
        session.status_text = _vote_message(vote, session.variants)
        updates = self._frame(session)
        self._controls(session, updates, running=False, votable=False)
        self._set(session, updates, self.rubric, visible=True)
        updates[self.ideal] = (
            by_pane[preferred].text if preferred is not None and preferred in by_pane else ""
        )
        updates[self.comment] = ""
        for pane in self.scores:
            for radio in pane:
                updates[radio] = None
        return updates

    async def _save_labels(
        self,
        request: gr.Request,
        rater_name: str,
        session: Session,
        comment: str,
        ideal: str,
        *scores: int | None,
    ) -> dict[Any, Any]:
        if session.turn_id is None or not session.voted:
            gr.Warning("Vote first, then rate.")
            return {self.status: gr.skip()}
        ratings = []
        for pane in range(len(session.variants)):
            values = dict(zip(CRITERIA, scores[pane * 3 : pane * 3 + 3], strict=True))
            ratings.append(
                RatingIn(pane=pane, **{k: int(v) if v else None for k, v in values.items()})
            )
        given = LabelsIn(
            rater=self._rater(rater_name, request),
            ratings=ratings,
            comment=comment or None,
            ideal_answer=ideal or None,
            ideal_based_on_pane=session.ideal_pane if ideal and ideal.strip() else None,
        )
        try:
            out = await asyncio.to_thread(
                labels.save_labels, self.runtime.store, session.turn_id, given
            )
        except ArbiterError as exc:
            gr.Warning(f"{exc.message} {exc.hint}".strip())
            return {self.status: gr.skip()}
        saved = (
            [f"{out.ratings} rating(s)"]
            + (["a comment"] if out.comment_id else [])
            + (["an ideal answer"] if out.ideal_answer_id else [])
        )
        return {
            self.status: "Saved " + ", ".join(saved) + ". Thank you!",
            self.save_labels: gr.update(interactive=True),
        }


def collection_names(runtime: Runtime) -> list[str]:
    return [c.name for c in runtime.library.collections()]


def _rag_request(rag_on: bool, collection: str | None, top_k: float) -> RagRequest | None:
    if not rag_on:
        return None
    if not collection:
        raise InvalidRequest(
            "RAG is on but no collection is chosen",
            hint="Pick a collection, or add documents in the Documents tab.",
        )
    return RagRequest(collection=collection, top_k=int(top_k or 3))


def _errors_only(answer: AnswerOut) -> AnswerOut:
    """Before a blind vote, a pane shows whether it failed, but no metrics that could hint
    at which model it is."""
    return answer.model_copy(
        update={
            "ttft_ms": None,
            "latency_ms": None,
            "tokens_in": None,
            "tokens_out": None,
            "cost_usd": None,
            "scores": [],
        }
    )


def _preprocessed(components: list[Any], values: Sequence[Any]) -> list[Any]:
    """What Gradio's preprocessing would make of the inputs, done here (these are text
    boxes, checkboxes, sliders and dropdowns: no files to move)."""
    ready = []
    for component, value in zip(components, values, strict=True):
        model = getattr(component, "data_model", None)
        payload = model.model_validate(value) if model is not None and value is not None else value
        ready.append(component.preprocess(payload))
    return ready


def _wire_value(component: gr.components.Component, value: Any) -> Any:
    """A component's value as the page receives it (what Gradio's postprocessing sends)."""
    shown = component.postprocess(value)
    return shown.model_dump() if isinstance(shown, GradioModel | GradioRootModel) else shown


def _vote_message(vote: VoteIn, variants: list[str]) -> str:
    names = [f"**{escape(v)}**" for v in variants]
    if vote.outcome == "a":
        return f"You preferred {names[0]} over {names[1]}."
    if vote.outcome == "b":
        return f"You preferred {names[1]} over {names[0]}."
    if vote.outcome == "tie":
        return "You called it a tie: " + " vs ".join(names) + "."
    if vote.outcome == "both_bad":
        return "You found both bad: " + " and ".join(names) + "."
    order = [names[p] for p in vote.ranking or []]
    return "Your ranking: " + " > ".join(order) + "."


async def _pump(
    events: AsyncIterator[CompareEvent], inbox: asyncio.Queue[CompareEvent | ArbiterError | None]
) -> None:
    try:
        async for event in events:
            inbox.put_nowait(event)
    except ArbiterError as exc:
        inbox.put_nowait(exc)
        return
    except Exception as exc:  # never leave the page waiting on a dead reader
        inbox.put_nowait(ArbiterError(f"the comparison failed: {exc}"))
        return
    inbox.put_nowait(None)


async def _next(
    inbox: asyncio.Queue[CompareEvent | ArbiterError | None], timeout: float
) -> CompareEvent | ArbiterError | bool | None:
    """The next item, or False when none came within `timeout`."""
    try:
        return await asyncio.wait_for(inbox.get(), timeout)
    except TimeoutError:
        return False
