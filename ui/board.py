"""A comparison board: panes that stream side by side, vote buttons and the rubric.

The blind arena and the named side-by-side view are two boards that differ in how the
variants are chosen and whether their names are shown before the vote. All session state
lives server-side in a `gr.State` (it is never sent to the browser), so a blind board's
variant names cannot leak through the page, the DOM or the Gradio API before the vote."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from service.errors import ArbiterError
from service.runtime import Runtime
from service.schemas import AnswerOut, CompareRequest, LabelsIn, RatingIn, VoteIn, VoteOutcome
from service.variants import GenerationParams
from ui.format import PANE_LETTERS, escape, pane_footer

MAX_PANES = 4
STREAM_EVERY_S = 0.04  # at most ~25 page updates a second per board; the first token goes at once
OUTCOMES: list[tuple[VoteOutcome, str]] = [
    ("a", "A is better"),
    ("b", "B is better"),
    ("tie", "Tie"),
    ("both_bad", "Both are bad"),
]
CRITERIA = ["helpfulness", "honesty", "harmlessness"]

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

    def reset(self) -> None:
        last = sorted(self.variants) if len(self.variants) == 2 else self.last_pair
        self.__init__()  # type: ignore[misc]
        self.last_pair = last


class Board:
    def __init__(self, runtime: Runtime, *, prefix: str, blind: bool, panes: int) -> None:
        self.runtime = runtime
        self.prefix = prefix
        self.blind = blind
        self.panes = panes
        self.state = gr.State(Session())
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
                            feedback_options=None,
                            placeholder="The answer appears here.",
                        )
                    )
                    self.footers.append(gr.Markdown("", elem_id=f"{prefix}-footer-{i}"))
                self.columns.append(column)
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
        return [
            self.state,
            *self.chats,
            *self.footers,
            *self.columns,
            *self.votes.values(),
            self.ranking,
            self.rank_submit,
            self.regenerate,
            self.status,
            self.prompt,
            self.send,
            self.stop,
            self.rubric,
            *self.rubric_columns,
            self.ideal,
            self.comment,
            *[radio for pane in self.scores for radio in pane],
        ]

    # -- wiring ---------------------------------------------------------------------------

    def wire(self, rater: gr.Textbox, plan: Plan, plan_inputs: list[Any]) -> None:
        """`plan(session, *plan_inputs)` returns the variants (and overrides) for a new turn."""

        async def send(
            prompt: str, rater_name: str, session: Session, *extra: Any
        ) -> AsyncIterator[dict[Any, Any]]:
            async for update in self._turn(
                prompt, rater_name, session, plan, extra, regenerate=False
            ):
                yield update

        async def regenerate(
            rater_name: str, session: Session, *extra: Any
        ) -> AsyncIterator[dict[Any, Any]]:
            async for update in self._turn(
                session.prompt, rater_name, session, plan, extra, regenerate=True
            ):
                yield update

        inputs = [self.prompt, rater, self.state, *plan_inputs]
        self.send.click(
            send,
            inputs,
            self.turn_outputs,
            api_name=f"{self.prefix}_send",
            concurrency_limit=None,
            show_progress="hidden",
        )
        self.prompt.submit(
            send,
            inputs,
            self.turn_outputs,
            api_visibility="private",
            concurrency_limit=None,
            show_progress="hidden",
        )
        self.regenerate.click(
            regenerate,
            [rater, self.state, *plan_inputs],
            self.turn_outputs,
            api_name=f"{self.prefix}_regenerate",
            concurrency_limit=None,
            show_progress="hidden",
        )
        self.stop.click(self._stop, [self.state], [self.status], api_name=f"{self.prefix}_stop")
        self.new_round.click(
            self._new_round, [self.state], self.turn_outputs, api_name=f"{self.prefix}_new_round"
        )
        for outcome, button in self.votes.items():
            button.click(
                self._vote_handler(outcome),
                [rater, self.state],
                self.turn_outputs,
                api_name=f"{self.prefix}_vote_{outcome}",
                trigger_mode="once",
            )
        self.rank_submit.click(
            self._rank,
            [self.ranking, rater, self.state],
            self.turn_outputs,
            api_name=f"{self.prefix}_rank",
            trigger_mode="once",
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
        )

    # -- handlers -------------------------------------------------------------------------

    def _names_visible(self, session: Session) -> bool:
        return not self.blind or session.voted

    def _chat_labels(self, session: Session) -> dict[Any, Any]:
        updates: dict[Any, Any] = {}
        for i, chat in enumerate(self.chats):
            name = (
                session.variants[i]
                if i < len(session.variants) and self._names_visible(session)
                else None
            )
            updates[chat] = gr.Chatbot(
                label=f"Model {PANE_LETTERS[i]}" + (f" · {name}" if name else "")
            )
        return updates

    def _layout(self, session: Session) -> dict[Any, Any]:
        n = max(2, len(session.variants))
        updates: dict[Any, Any] = {}
        for i in range(self.panes):
            updates[self.columns[i]] = gr.Column(visible=i < n)
            updates[self.rubric_columns[i]] = gr.Column(visible=i < n)
        return updates

    def _vote_controls(self, session: Session, *, enabled: bool) -> dict[Any, Any]:
        pairwise = len(session.variants) <= 2
        updates: dict[Any, Any] = {}
        for outcome, button in self.votes.items():
            visible = pairwise or outcome in ("tie", "both_bad")
            updates[button] = gr.Button(interactive=enabled, visible=visible)
        letters = [PANE_LETTERS[i] for i in range(len(session.variants))]
        updates[self.ranking] = gr.Dropdown(choices=letters, value=[], visible=not pairwise)
        updates[self.rank_submit] = gr.Button(visible=not pairwise, interactive=enabled)
        return updates

    def _render(self, session: Session) -> dict[Any, Any]:
        updates: dict[Any, Any] = {self.state: session}
        for i, chat in enumerate(self.chats):
            updates[chat] = session.transcripts[i] if i < len(session.transcripts) else []
        return updates

    async def _turn(
        self,
        prompt: str,
        rater_name: str,
        session: Session,
        plan: Plan,
        extra: tuple[Any, ...],
        *,
        regenerate: bool,
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
            variants, overrides = plan(session, *extra)
        except ArbiterError as exc:
            gr.Warning(f"{exc.message} {exc.hint}".strip())
            return
        if variants != session.variants or overrides != session.overrides:
            session.reset()
            session.variants, session.overrides = variants, overrides
        if not session.transcripts:
            session.transcripts = [[] for _ in variants]
        if regenerate:
            for transcript in session.transcripts:
                del transcript[-2:]
        request = CompareRequest(
            prompt=prompt,
            variants=variants,
            conversation_id=session.conversation_id,
            overrides=overrides,
            mode="arena" if self.blind else "named",
            rater=(rater_name or "anonymous").strip(),
            regenerate=regenerate,
        )
        try:
            self.runtime.engine.validate(request)
        except ArbiterError as exc:
            gr.Warning(f"{exc.message} {exc.hint}".strip())
            return
        session.prompt, session.running, session.voted, session.answers = prompt, True, False, []
        for transcript in session.transcripts:
            transcript.append({"role": "user", "content": prompt})
            transcript.append({"role": "assistant", "content": ""})
        start: dict[Any, Any] = {
            **self._render(session),
            **self._layout(session),
            **self._chat_labels(session),
            **self._vote_controls(session, enabled=False),
            **{footer: "" for footer in self.footers},
            self.prompt: "",
            self.send: gr.Button(interactive=False),
            self.stop: gr.Button(visible=True),
            self.regenerate: gr.Button(interactive=False),
            self.rubric: gr.Accordion(visible=False),
            self.status: "Answers are streaming…",
        }
        yield start
        last_push = 0.0
        dirty = False
        try:
            async for event in self.runtime.engine.run(request):
                if event.kind == "turn":
                    session.turn_id = event.data["turn_id"]
                    session.conversation_id = event.data["conversation_id"]
                    yield {self.state: session}
                elif event.kind == "token":
                    pane = event.data["pane"]
                    session.transcripts[pane][-1]["content"] += event.data["text"]
                    dirty = True
                    now = time.monotonic()
                    if now - last_push >= STREAM_EVERY_S:
                        last_push, dirty = now, False
                        yield self._render(session)
                elif event.kind == "answer":
                    answer = AnswerOut.model_validate(event.data)
                    session.answers.append(answer)
                    if answer.status != "ok":
                        transcript = session.transcripts[answer.pane]
                        transcript[-1]["content"] = (
                            transcript[-1]["content"] + "\n\n" if transcript[-1]["content"] else ""
                        ) + (f"Error ({answer.error_code}): {answer.error_message}")
                    name = None if self.blind else answer.variant
                    yield {
                        **self._render(session),
                        self.footers[answer.pane]: pane_footer(
                            answer if not self.blind else _errors_only(answer), name=name
                        ),
                    }
                    dirty = False
        except ArbiterError as exc:
            session.running = False
            yield {
                **self._render(session),
                self.status: f"**Error:** {escape(exc.message)} {escape(exc.hint)}",
                self.send: gr.Button(interactive=True),
                self.stop: gr.Button(visible=False),
            }
            return
        session.running = False
        session.answers.sort(key=lambda a: a.pane)
        done = {
            **(self._render(session) if dirty else {self.state: session}),
            **self._vote_controls(session, enabled=True),
            self.send: gr.Button(interactive=True),
            self.stop: gr.Button(visible=False),
            self.regenerate: gr.Button(interactive=True),
            self.status: "Which answer is better? Vote to reveal the models."
            if self.blind
            else "Vote for the better answer.",
        }
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
        return {
            **self._render(session),
            **self._chat_labels(session),
            **self._vote_controls(session, enabled=False),
            **{footer: "" for footer in self.footers},
            self.regenerate: gr.Button(interactive=False),
            self.rubric: gr.Accordion(visible=False),
            self.status: "New round: ask anything.",
            self.send: gr.Button(interactive=True),
            self.stop: gr.Button(visible=False),
        }

    def _vote_handler(self, outcome: VoteOutcome) -> Callable[[str, Session], Any]:
        async def vote(rater_name: str, session: Session) -> dict[Any, Any]:
            return await self._cast(
                VoteIn(outcome=outcome, rater=(rater_name or "anonymous").strip()), session
            )

        vote.__name__ = f"vote_{outcome}"
        return vote

    async def _rank(self, ranking: list[str], rater_name: str, session: Session) -> dict[Any, Any]:
        panes = [PANE_LETTERS.index(letter) for letter in ranking or [] if letter in PANE_LETTERS]
        if sorted(panes) != list(range(len(session.variants))):
            gr.Warning("Rank every answer exactly once, best first.")
            return {self.state: session}
        return await self._cast(
            VoteIn(outcome="ranking", ranking=panes, rater=(rater_name or "anonymous").strip()),
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
            await asyncio.to_thread(self.runtime.store.cast_vote, session.turn_id, vote)
        except ArbiterError as exc:
            gr.Warning(f"{exc.message} {exc.hint}".strip())
            return {self.state: session}
        session.voted = True
        preferred = {"a": 0, "b": 1}.get(vote.outcome, vote.ranking[0] if vote.ranking else None)
        by_pane = {a.pane: a for a in session.answers}
        updates: dict[Any, Any] = {
            self.state: session,
            **self._chat_labels(session),
            **self._vote_controls(session, enabled=False),
            self.rubric: gr.Accordion(visible=True),
            self.ideal: by_pane[preferred].text
            if preferred is not None and preferred in by_pane
            else "",
            self.comment: "",
            self.status: _vote_message(vote, session.variants),
        }
        for i, footer in enumerate(self.footers[: len(session.variants)]):
            updates[footer] = pane_footer(by_pane.get(i), name=session.variants[i])
        for pane in self.scores:
            for radio in pane:
                updates[radio] = None
        return updates

    async def _save_labels(
        self, rater_name: str, session: Session, comment: str, ideal: str, *scores: int | None
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
        preferred = next(
            (a.pane for a in session.answers if a.text and a.text.strip() == (ideal or "").strip()),
            None,
        )
        labels = LabelsIn(
            rater=(rater_name or "anonymous").strip(),
            ratings=ratings,
            comment=comment or None,
            ideal_answer=ideal or None,
            ideal_based_on_pane=preferred,
        )
        try:
            out = await asyncio.to_thread(self.runtime.store.save_labels, session.turn_id, labels)
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
            self.save_labels: gr.Button(interactive=True),
        }


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
        }
    )


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
