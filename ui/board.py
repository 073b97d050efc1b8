"""A comparison board's events and what they do: a turn streamed from the compare engine into
the panes, stop, new round, the votes and the ranking, the rubric, thumbs on an answer, and
the automatic scores polled in after a turn.

The blind arena and the named side-by-side view are two boards that differ in how the
variants are chosen and whether their names are shown before the vote. All session state
lives server-side in a `gr.State` (it is never sent to the browser), so a blind board's
variant names cannot leak through the page, the DOM or the Gradio API before the vote.
The components are laid out in ui/board_layout.py; what the panes show is decided in
ui/conversation.py, and turned into component updates here."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gradio as gr
from gradio.data_classes import GradioModel, GradioRootModel

from service.app import Runtime
from service.errors import ArbiterError, InvalidRequest
from service.labels import give_feedback, record_votes
from service.schemas import CompareRequest, GenerationParams, RagRequest, VoteIn, VoteOutcome
from service.serving import CompareEvent
from service.store import labels, turns, votes
from ui.access import links_for, metered, rater_name, spending
from ui.board_layout import BoardLayout
from ui.conversation import Session
from ui.format import PANE_LETTERS
from ui.i18n import request_language, say

MAX_PANES = 4
STREAM_EVERY_S = 0.04  # at most ~25 page updates a second per board
FIRST_FRAME_WAIT_S = 0.1  # how long the first update may wait for the first token
MAX_SCORE_POLLS = 60  # then a board gives up on its scores (no worker running the jobs, say)

Plan = Callable[..., tuple[list[str], list[GenerationParams | None] | None]]


@dataclass
class BoardState:
    """One browser session's state on a board: its conversation, and what the page shows
    now, per component: properties are sent only when they change (each property update
    costs Gradio ~1 ms to serialise, before the first token shows)."""

    session: Session
    shown: dict[int, dict[str, Any]] = field(default_factory=dict)


class Board:
    """One board on the page: its components (`layout`) and their events, for a blind board
    (the arena) or a named one (side by side)."""

    def __init__(self, runtime: Runtime, *, prefix: str, blind: bool, panes: int) -> None:
        self.runtime = runtime
        self._background: set[asyncio.Task[None]] = set()
        self.prefix = prefix
        self.blind = blind
        self.layout = BoardLayout(
            prefix=prefix,
            panes=panes,
            collections=collection_names(runtime),
            state=BoardState(Session(blind=blind)),
        )

    # -- wiring ---------------------------------------------------------------------------

    def wire(self, rater: gr.Textbox, plan: Plan, plan_inputs: list[Any]) -> None:
        """`plan(session, *plan_inputs)` returns the variants (and overrides) for a new turn."""
        ui = self.layout
        rag_inputs = [ui.rag_on, ui.collection, ui.top_k]

        async def frames(
            request: gr.Request,
            prompt: str,
            rater_name: str,
            state: BoardState,
            raw: tuple[Any, ...],
            *,
            regenerate: bool,
        ) -> AsyncIterator[dict[Any, Any]]:
            rag_on, collection, top_k, *extra = _preprocessed([*rag_inputs, *plan_inputs], raw)
            state.session.lang = request_language(request)
            with spending(self.runtime, request, state.session):
                async for update in self._turn(
                    prompt,
                    self._rater(rater_name, request),
                    state,
                    plan,
                    tuple(extra),
                    regenerate=regenerate,
                    rag=(rag_on, collection, top_k),
                    link=links_for(self.runtime, request),
                ):
                    yield self._postprocessed(update)

        @metered(self.runtime, "compare models")
        async def send(
            request: gr.Request, prompt: str, rater_name: str, state: BoardState, *raw: Any
        ) -> AsyncIterator[dict[Any, Any]]:
            prompt, rater_name = _preprocessed([ui.prompt, rater], [prompt, rater_name])
            async for frame in frames(request, prompt, rater_name, state, raw, regenerate=False):
                yield frame

        @metered(self.runtime, "compare models")
        async def regenerate(
            request: gr.Request, rater_name: str, state: BoardState, *raw: Any
        ) -> AsyncIterator[dict[Any, Any]]:
            (rater_name,) = _preprocessed([rater], [rater_name])
            async for frame in frames(
                request, state.session.prompt, rater_name, state, raw, regenerate=True
            ):
                yield frame

        p = self.prefix
        inputs = [ui.prompt, rater, ui.state, *rag_inputs, *plan_inputs]
        # Every event shows its progress on the status line alone: the page refreshes the
        # loading status of each component any event has ever targeted (by default, all its
        # outputs) on every message of every event, copying each one's value as it goes.
        status_only: dict[str, Any] = {"show_progress_on": [ui.status]}
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
            ui.send.click(send, inputs, ui.turn_outputs, api_name=f"{p}_send", **options),
            ui.prompt.submit(send, inputs, ui.turn_outputs, api_visibility="private", **options),
            ui.regenerate.click(
                regenerate,
                [rater, ui.state, *rag_inputs, *plan_inputs],
                ui.turn_outputs,
                api_name=f"{p}_regenerate",
                **options,
            ),
        ):
            event.then(self._start_scores, [ui.state], [ui.score_timer], **private)
        ui.score_timer.tick(self._poll_scores, [ui.state], [ui.score_timer, *ui.footers], **private)
        ui.stop.click(self._stop, [ui.state], [ui.status], api_name=f"{p}_stop", **status_only)
        for pane, chat in enumerate(ui.chats):
            chat.like(self._feedback_handler(pane), [rater, ui.state], None, **private)
        ui.new_round.click(
            self._new_round,
            [ui.state],
            ui.turn_outputs,
            api_name=f"{p}_new_round",
            **status_only,
        )
        for outcome, button in ui.votes.items():
            button.click(
                self._vote_handler(outcome),
                [rater, ui.state],
                ui.vote_outputs,
                api_name=f"{p}_vote_{outcome}",
                trigger_mode="once",
                **status_only,
            )
        ui.rank_submit.click(
            self._rank,
            [ui.ranking, rater, ui.state],
            ui.vote_outputs,
            api_name=f"{p}_rank",
            trigger_mode="once",
            **status_only,
        )
        ui.save_labels.click(
            self._save_labels,
            [rater, ui.state, ui.comment, ui.ideal, *ui.radios],
            [ui.saved, ui.save_labels],
            api_name=f"{p}_rate",
            trigger_mode="once",
            **status_only,
        )

    # -- a turn ---------------------------------------------------------------------------

    async def _turn(
        self,
        prompt: str,
        rater_name: str,
        state: BoardState,
        plan: Plan,
        extra: tuple[Any, ...],
        *,
        regenerate: bool,
        rag: tuple[bool, str | None, float] = (False, None, 3),
        link: Callable[[str], str],
    ) -> AsyncIterator[dict[Any, Any]]:
        session = state.session
        refusal = session.refusal(prompt, regenerate=regenerate)
        if refusal is not None:
            gr.Warning(refusal)
            return
        try:
            # a thread: the arena's plan reads pair counts from the store (every 30 s)
            variants, overrides = await asyncio.to_thread(plan, session, *extra)
            rag_request = _rag_request(*rag)
        except ArbiterError as exc:
            gr.Warning(f"{exc.message} {exc.hint}".strip())
            return
        session.choose(variants, overrides)
        request = CompareRequest(
            prompt=prompt,
            variants=variants,
            conversation_id=session.conversation_id,
            overrides=overrides,
            mode="arena" if self.blind else "named",
            regenerate=regenerate,
            rag=rag_request,
        )
        try:
            self.runtime.engine.validate(request)
            events = self.runtime.engine.run(request, rater=rater_name)
            first = await anext(events)  # the models start now
        except ArbiterError as exc:
            gr.Warning(f"{exc.message} {exc.hint}".strip())
            return
        session.start(first, prompt, regenerate=regenerate, link=link)
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
            session.apply(item)
        # The prompt box is cleared with the first frame only: later frames leave it alone,
        # so the next question can be typed while the answers stream.
        first_frame = {**self._frame(state), self.layout.prompt: ""}
        self._controls(state, first_frame, running=True, votable=False)
        self._set(state, first_frame, self.layout.rubric, visible=False)
        # The sources panel opens when the turn has sources, and closes when it has none.
        self._set(state, first_frame, self.layout.context_panel, open=bool(session.context))
        yield first_frame

        last_push = time.monotonic()
        while item is not None and not isinstance(item, ArbiterError):
            item = await inbox.get()
            if not isinstance(item, CompareEvent):
                break
            session.apply(item)
            now = time.monotonic()
            if item.kind == "answer" or now - last_push >= STREAM_EVERY_S:
                last_push = now
                yield self._frame(state)
        if isinstance(item, ArbiterError):
            session.fail(item)
            failed = self._frame(state)
            self._controls(state, failed, running=False, votable=False)
            yield failed
            return
        session.finish()
        done = self._frame(state)
        self._controls(state, done, running=False, votable=True)
        yield done

    async def _stop(self, state: BoardState, request: gr.Request) -> str:
        session = state.session
        session.lang = request_language(request)
        if not session.running or session.turn_id is None:
            return say(session.lang, "status.nothing_running")
        try:
            stopped = self.runtime.engine.cancel(session.turn_id)
        except ArbiterError:
            return say(session.lang, "status.nothing_running")
        return say(session.lang, "status.stopped", count=stopped)

    async def _new_round(self, state: BoardState, request: gr.Request) -> dict[Any, Any]:
        session = state.session
        session.lang = request_language(request)
        if session.running and session.turn_id:
            with contextlib.suppress(ArbiterError):
                self.runtime.engine.cancel(session.turn_id)
        session.new_round()
        updates = self._frame(state)
        self._controls(state, updates, running=False, votable=False)
        self._set(state, updates, self.layout.rubric, visible=False)
        return updates

    # -- votes, ratings, thumbs -----------------------------------------------------------

    def _vote_handler(self, outcome: VoteOutcome) -> Callable[..., Any]:
        async def vote(request: gr.Request, rater_name: str, state: BoardState) -> dict[Any, Any]:
            state.session.lang = request_language(request)
            return await self._cast(
                VoteIn(outcome=outcome), self._rater(rater_name, request), state
            )

        vote.__name__ = f"vote_{outcome}"
        return vote

    async def _rank(
        self, request: gr.Request, ranking: list[str], rater_name: str, state: BoardState
    ) -> dict[Any, Any]:
        state.session.lang = request_language(request)
        panes = state.session.ranking(ranking)
        if panes is None:
            gr.Warning(say(state.session.lang, "warn.rank_each_once"))
            return {self.layout.state: state}
        return await self._cast(
            VoteIn(outcome="ranking", ranking=panes), self._rater(rater_name, request), state
        )

    async def _cast(self, vote: VoteIn, rater: str, state: BoardState) -> dict[Any, Any]:
        session, ui = state.session, self.layout
        if session.turn_id is None or session.running:
            gr.Warning(say(session.lang, "warn.wait_then_vote"))
            return {ui.state: state}
        if session.voted:
            return {ui.state: state}
        vote = vote.model_copy(update={"idempotency_key": f"ui:{session.turn_id}:{rater}"})
        try:
            stored = await asyncio.to_thread(
                votes.cast_vote, self.runtime.store, session.turn_id, vote, rater=rater
            )
            if not stored.replayed:
                await asyncio.to_thread(
                    record_votes, self.runtime.store, self.runtime.engine, [stored]
                )
        except ArbiterError as exc:
            gr.Warning(f"{exc.message} {exc.hint}".strip())
            return {ui.state: state}
        session.record_vote(vote)
        updates = self._frame(state)
        self._controls(state, updates, running=False, votable=False)
        self._set(state, updates, ui.rubric, visible=True)
        updates[ui.ideal] = session.ideal_prefill
        updates[ui.comment] = ""
        for radio in ui.radios:
            updates[radio] = None
        updates[ui.saved] = ""
        return updates

    async def _save_labels(
        self,
        request: gr.Request,
        rater_name: str,
        state: BoardState,
        comment: str,
        ideal: str,
        *scores: int | None,
    ) -> dict[Any, Any]:
        session, ui = state.session, self.layout
        session.lang = request_language(request)
        if session.turn_id is None or not session.voted:
            gr.Warning(say(session.lang, "warn.vote_first"))
            return {ui.saved: gr.skip()}
        given = session.labels(comment, ideal, scores)
        try:
            out = await asyncio.to_thread(
                labels.save_labels,
                self.runtime.store,
                session.turn_id,
                given,
                rater=self._rater(rater_name, request),
            )
        except ArbiterError as exc:
            gr.Warning(f"{exc.message} {exc.hint}".strip())
            return {ui.saved: gr.skip()}
        lang = session.lang
        saved = (
            [say(lang, "status.saved_ratings", count=out.ratings)]
            + ([say(lang, "status.saved_comment")] if out.comment_id else [])
            + ([say(lang, "status.saved_ideal")] if out.ideal_answer_id else [])
        )
        return {
            ui.saved: say(
                lang, "status.saved", what=say(lang, "status.list_separator").join(saved)
            ),
            ui.save_labels: gr.update(interactive=True),
        }

    def _feedback_handler(self, pane: int) -> Callable[..., Any]:
        async def feedback(
            evt: gr.LikeData, request: gr.Request, rater_name: str, state: BoardState
        ) -> None:
            session = state.session
            lang = request_language(request)
            answer = session.answer(pane)
            if session.running or answer is None:
                gr.Info(say(lang, "info.rate_when_finished"))
                return
            index = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
            if not session.is_latest(pane, index):
                gr.Info(say(lang, "info.thumbs_latest_only"))
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

    def _rater(self, typed: str | None, request: gr.Request | None) -> str:
        """Whose turn, vote or rating this is (see ui.access.rater_name)."""
        return rater_name(self.runtime, request, typed)

    # -- automatic scores -----------------------------------------------------------------

    def _start_scores(self, state: BoardState) -> Any:
        """After a turn: poll for its scores when online scoring is on."""
        session = state.session
        active = self.runtime.online.enabled and session.turn_id is not None
        session.score_polls = 0
        return gr.Timer(active=active)

    async def _poll_scores(self, state: BoardState) -> list[Any]:
        """Show the scores that have arrived under each answer; stop once the turn's
        scoring job has ended (or after a while, if no worker runs it)."""
        session, panes = state.session, range(self.layout.panes)
        if session.turn_id is None or session.running:
            return [gr.Timer(active=False), *(gr.skip() for _ in panes)]
        turn_id = session.turn_id
        turn, scoring = await asyncio.gather(
            asyncio.to_thread(turns.get_turn, self.runtime.store, turn_id, with_request=False),
            asyncio.to_thread(self.runtime.scoring_state, turn_id),
        )
        session.score_polls += 1
        finished = scoring in ("done", "failed") or session.score_polls >= MAX_SCORE_POLLS
        if turn_id != session.turn_id:  # a new turn started meanwhile: leave its panes alone
            return [gr.Timer(active=False), *(gr.skip() for _ in panes)]
        footers = session.show_scores({a.pane: a.scores for a in turn.answers})
        return [
            gr.Timer(active=not finished),
            *(footers[pane] if pane in footers else gr.skip() for pane in panes),
        ]

    # -- frames: the session as component updates -----------------------------------------

    def _frame(self, state: BoardState) -> dict[Any, Any]:
        """A value for every turn output: transcripts, footers, status, and buttons by their
        labels (a label value is cheap for Gradio; leaving an output out is not). Property
        changes are added on top with `_set`, which keeps each value."""
        session, ui = state.session, self.layout
        updates: dict[Any, Any] = {ui.state: state}
        for pane, chat in enumerate(ui.chats):
            updates[chat] = session.transcript(pane)
            self._set(state, updates, chat, label=session.pane_title(pane))
        for pane, footer in enumerate(ui.footers):
            updates[footer] = session.footer(pane)
        updates[ui.status] = session.status_text
        updates[ui.context] = session.context_text
        for button in (ui.send, ui.stop, ui.regenerate, *ui.votes.values(), ui.rank_submit):
            updates[button] = str(button.value)  # its label: a key the page translates
        updates[ui.ranking] = []
        return updates

    def _controls(
        self, state: BoardState, updates: dict[Any, Any], *, running: bool, votable: bool
    ) -> None:
        ui = self.layout
        self._set(state, updates, ui.send, interactive=not running)
        self._set(state, updates, ui.stop, visible=running)
        self._set(
            state,
            updates,
            ui.regenerate,
            interactive=not running and state.session.turn_id is not None,
        )
        pairwise = len(state.session.variants) <= 2
        for outcome, button in ui.votes.items():
            visible = pairwise or outcome in ("tie", "both_bad")
            self._set(state, updates, button, interactive=votable, visible=visible)
        letters = [PANE_LETTERS[i] for i in range(len(state.session.variants))]
        # A new round has no variants yet: the hidden ranking keeps its letters rather than
        # emptying them, so a two-pane turn's first frame does not set them back (a property
        # update makes Gradio build a new component, before the first token shows).
        if letters:
            self._set(state, updates, ui.ranking, choices=letters)
        self._set(state, updates, ui.ranking, visible=not pairwise)
        self._set(state, updates, ui.rank_submit, visible=not pairwise, interactive=votable)

    def _set(
        self, state: BoardState, updates: dict[Any, Any], component: Any, **props: Any
    ) -> None:
        """Add to `updates` the properties of `component` that differ from what is shown."""
        if not state.shown:
            state.shown = self.layout.initial_props()
        shown = state.shown.setdefault(component._id, {})
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

    def _postprocessed(self, updates: dict[Any, Any]) -> dict[Any, Any]:
        """What Gradio's postprocessing would make of a frame, done here: Gradio sends every
        output value through a worker thread, one hop each (about 20 a frame), which was
        most of the server's share of the time from Send to the first token on the page."""
        ready: dict[Any, Any] = {}
        for component, value in updates.items():
            if component is self.layout.state or not isinstance(component, gr.components.Component):
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
